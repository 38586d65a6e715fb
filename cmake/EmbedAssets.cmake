# owb_embed_assets(<target> <symbol> <file>...)
# Generates a C file defining `const struct owb_asset <symbol>[]` and
# `const size_t <symbol>_count` from the files, and adds it to <target>.
# The files are read at build time, so editing one rebuilds the binary.
function(owb_embed_assets target symbol)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${symbol}.c")
  # "|" joins the list: a ";" inside one COMMAND argument would split it.
  string(REPLACE ";" "|" files "${ARGN}")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DSYMBOL=${symbol} "-DFILES=${files}"
            -P "${PROJECT_SOURCE_DIR}/cmake/embed_assets_script.cmake"
    DEPENDS ${ARGN} "${PROJECT_SOURCE_DIR}/cmake/embed_assets_script.cmake"
    COMMENT "Embedding ${symbol}"
    VERBATIM)
  target_sources(${target} PRIVATE "${out}")
endfunction()
