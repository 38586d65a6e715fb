# The Onion Omega2 (MediaTek MT7688: MIPS 24KEc, little-endian, no FPU):
# musl, soft-float, fully static, with zig cc (cmake/toolchains/zig-cc-mipsel).
# Debian's mipsel cross gcc is hard-float only: its binaries die with SIGILL
# on a kernel without FPU emulation, as stock OpenWRT is built.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR mipsel)
set(CMAKE_C_COMPILER ${CMAKE_CURRENT_LIST_DIR}/zig-cc-mipsel)
set(CMAKE_AR ${CMAKE_CURRENT_LIST_DIR}/zig-ar CACHE FILEPATH "" FORCE)
set(CMAKE_RANLIB ${CMAKE_CURRENT_LIST_DIR}/zig-ranlib CACHE FILEPATH "" FORCE)
# owb-device must fit in 512 KiB of flash (docs/performance.md, "Device
# footprint"). -flto: the link optimises owb, its libraries (built with -flto
# by tools/build-deps.sh omega2) and zig's musl as one program, and generates
# non-PIC code, as a static executable can be (no GOT load per call or global).
# omega2-discard.ld drops .pdr, MIPS procedure descriptors nothing reads at
# run time that -s keeps (about 10% of the file).
set(CMAKE_C_FLAGS_INIT "-Os -flto -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -flto -Wl,--gc-sections -Wl,-z,max-page-size=4096 -s -Wl,-T,${CMAKE_CURRENT_LIST_DIR}/omega2-discard.ld")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# ctest runs the tests on the emulated Omega2 CPU.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-mipsel-static -cpu 24KEc)
set(OWB_STATIC ON CACHE BOOL "" FORCE)
