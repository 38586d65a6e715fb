# owb_npm_ci(<name> <dir with package.json and package-lock.json> <out var>)
# Installs the pinned npm packages of a folder into the build tree at build
# time (`npm ci`: exactly the lock file, integrity checked, no install
# scripts) and sets <out var> to the node_modules folder. Third-party code
# is fetched, never committed.
find_program(OWB_NPM npm)
function(owb_npm_ci name src out_var)
  if(NOT OWB_NPM)
    message(FATAL_ERROR "npm not found: apt-get install nodejs npm (or run tools/install-deps.sh)")
  endif()
  set(dir "${CMAKE_BINARY_DIR}/npm/${name}")
  set(stamp "${dir}/node_modules/.package-lock.json")
  file(MAKE_DIRECTORY "${dir}")
  add_custom_command(
    OUTPUT "${stamp}"
    COMMAND ${CMAKE_COMMAND} -E copy "${src}/package.json" "${src}/package-lock.json" "${dir}/"
    COMMAND ${OWB_NPM} ci --no-audit --no-fund --ignore-scripts --loglevel=error
    WORKING_DIRECTORY "${dir}"
    DEPENDS "${src}/package.json" "${src}/package-lock.json"
    COMMENT "npm ci (${name}): pinned packages from the npm registry"
    VERBATIM)
  add_custom_target(npm_${name} DEPENDS "${stamp}")
  set(${out_var} "${dir}/node_modules" PARENT_SCOPE)
  set(${out_var}_STAMP "${stamp}" PARENT_SCOPE)
endfunction()
