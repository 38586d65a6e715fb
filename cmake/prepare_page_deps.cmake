# Script mode: takes the npm packages the setup page uses from NODE_MODULES
# and writes the browser modules the page imports into OUT_DIR:
#   libsodium.mjs  libsodium's ESM build (WebAssembly inside)
#   sodium.mjs     libsodium-wrappers' ESM build, its bare "libsodium"
#                  import pointed at ./libsodium.mjs (browsers cannot
#                  resolve bare specifiers without an import map, and an
#                  inline import map would need a CSP exception)
#   qrcode.mjs     qrcode-generator's ESM build
file(MAKE_DIRECTORY "${OUT_DIR}")
file(READ "${NODE_MODULES}/libsodium-wrappers/dist/modules-esm/libsodium-wrappers.mjs" wrappers)
string(REPLACE "from\"libsodium\"" "from\"./libsodium.mjs\"" wrappers "${wrappers}")
string(FIND "${wrappers}" "from\"./libsodium.mjs\"" found)
if(found EQUAL -1)
  message(FATAL_ERROR "libsodium-wrappers: its import of libsodium was not found; update cmake/prepare_page_deps.cmake")
endif()
file(WRITE "${OUT_DIR}/sodium.mjs" "${wrappers}")
configure_file("${NODE_MODULES}/libsodium/dist/modules-esm/libsodium.mjs" "${OUT_DIR}/libsodium.mjs" COPYONLY)
configure_file("${NODE_MODULES}/qrcode-generator/dist/qrcode.mjs" "${OUT_DIR}/qrcode.mjs" COPYONLY)
