# Every dependency is a Debian -dev package found through pkg-config. A missing
# one stops the configure step with the package to install.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config "
                      "(or run tools/install-deps.sh)")
endif()

# owb_require(<prefix> <pkg-config module> <Debian package>)
macro(owb_require prefix module debpkg)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${module})
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR "${module} not found: apt-get install ${debpkg} "
                        "(or run tools/install-deps.sh)")
  endif()
endmacro()

owb_require(SODIUM libsodium libsodium-dev)
owb_require(CJSON libcjson libcjson-dev)
owb_require(MHD libmicrohttpd libmicrohttpd-dev)
owb_require(SQLITE sqlite3 libsqlite3-dev)
owb_require(QRENCODE libqrencode libqrencode-dev)
owb_require(PNG libpng libpng-dev)
# libcurl: the tests' HTTP client and the demo client.
owb_require(CURL libcurl libcurl4-openssl-dev)
if(OWB_BUILD_TESTS)
  owb_require(CMOCKA cmocka libcmocka-dev)
endif()
