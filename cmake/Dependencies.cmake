# Every dependency is a Debian -dev package found through pkg-config. A missing
# one stops the configure step with the package to install.
if(OWB_DEPS_PREFIX)
  if(NOT EXISTS "${OWB_DEPS_PREFIX}/.done-libsodium")
    message(FATAL_ERROR "${OWB_DEPS_PREFIX}: no dependency build there "
                        "(run tools/build-deps.sh first)")
  endif()
  # Our static builds first; for cross builds, nothing of the host's.
  if(CMAKE_CROSSCOMPILING)
    set(ENV{PKG_CONFIG_LIBDIR} "${OWB_DEPS_PREFIX}/lib/pkgconfig")
    list(APPEND CMAKE_FIND_ROOT_PATH "${OWB_DEPS_PREFIX}")
  else()
    set(ENV{PKG_CONFIG_PATH} "${OWB_DEPS_PREFIX}/lib/pkgconfig:$ENV{PKG_CONFIG_PATH}")
  endif()
  list(PREPEND CMAKE_PREFIX_PATH "${OWB_DEPS_PREFIX}")
endif()
if(OWB_STATIC)
  # Set here, not in the toolchain file: the platform files loaded after a
  # toolchain file would put ".so" back first.
  set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
  set(PKG_CONFIG_ARGN --static)
endif()
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
if(OWB_BUILD_SERVER)
  owb_require(SQLITE sqlite3 libsqlite3-dev)
endif()
if(OWB_BUILD_MINT)
  owb_require(QRENCODE libqrencode libqrencode-dev)
  owb_require(PNG libpng libpng-dev)
endif()
if(OWB_BUILD_DEMO_CLIENT)
  owb_require(CURL libcurl libcurl4-openssl-dev)
endif()
if(OWB_BUILD_TESTS)
  owb_require(CMOCKA cmocka libcmocka-dev)
endif()
