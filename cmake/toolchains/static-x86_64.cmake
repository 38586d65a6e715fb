# Fully static x86_64 binaries (preset "static"): glibc's static libc and
# the libraries tools/build-deps.sh host-static built from Debian sources
# (libsqlite3.a, libpng.a and libz.a come from Debian's -dev packages).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(OWB_STATIC ON CACHE BOOL "" FORCE)
