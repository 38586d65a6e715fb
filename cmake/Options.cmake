# Build options. Presets in CMakePresets.json pick among these; nothing here
# touches the global CMAKE_C_FLAGS.
option(OWB_BUILD_TESTS "Build the cmocka test suite" ON)
option(OWB_WERROR "Treat compiler warnings as errors" ON)
option(OWB_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

# The shared/ folder beside the repo holds the normative vectors; the tests
# compare their own copy against it when it is there.
set(OWB_SHARED_DIR "${CMAKE_SOURCE_DIR}/../shared" CACHE PATH
    "Folder holding the normative PROTOCOL.md and vectors (optional)")

# Which programs to build: the omega2 preset builds the device agent only.
option(OWB_BUILD_SERVER "Build owb-server" ON)
option(OWB_BUILD_MINT "Build owb-mint and the demo programs" ON)
option(OWB_BUILD_DEMO_CLIENT "Build owb-demo-client (needs libcurl)" ON)
option(OWB_STATIC "Link every program statically" OFF)
set(OWB_POSTGRESQL AUTO CACHE STRING "PostgreSQL backend for owb-server: AUTO, ON or OFF")
# A folder with static libraries built by tools/build-deps.sh; searched first.
set(OWB_DEPS_PREFIX "" CACHE PATH "Prefix of the static dependency builds")
option(OWB_FUZZ "Build the libFuzzer harnesses (needs clang)" OFF)
# Test hooks (a clock the tests can step, store.h owb_store_test_clock_skew):
# on in debug builds, which the test suite runs; never in a release build.
if(CMAKE_BUILD_TYPE STREQUAL "Debug")
  set(OWB_TEST_HOOKS_DEFAULT ON)
else()
  set(OWB_TEST_HOOKS_DEFAULT OFF)
endif()
option(OWB_TEST_HOOKS "Build test-only hooks into owb-server (debug builds)" ${OWB_TEST_HOOKS_DEFAULT})
