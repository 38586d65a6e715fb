#!/usr/bin/env bash
# Installs the Debian packages owb needs to build and test, and nothing else.
# Idempotent: when every package is present it asks apt nothing and returns
# at once. Extra package groups are named as arguments (e.g. "browser").
set -euo pipefail

base_pkgs=(build-essential cmake pkg-config libsodium-dev libcjson-dev
           libmicrohttpd-dev libqrencode-dev libcmocka-dev libsqlite3-dev
           libpng-dev libcurl4-openssl-dev curl libpq-dev)
test_pkgs=(zbar-tools libxml2-utils shellcheck postgresql libubootenv-tool help2man clang-format
           poppler-utils librsvg2-bin qpdf)
pkgs=("${base_pkgs[@]}" "${test_pkgs[@]}")
for group in "$@"; do
    case "$group" in
    browser) pkgs+=(chromium) ;;
    fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
    bench) pkgs+=(wrk time binutils) ;;
    # The Wi-Fi VM (tests/wifi): qemu, the busybox for its initramfs, and
    # the Wi-Fi stacks the guest runs from this machine's own root.
    wifi) pkgs+=(qemu-system-x86 busybox-static kmod cpio iproute2 procps iw hostapd wpasupplicant
                 udhcpc udhcpd network-manager dbus dnsmasq-base curl) ;;
    *) echo "install-deps: unknown group '$group'" >&2; exit 2 ;;
    esac
done

# The setup page's libsodium and QR modules come from the npm registry at
# build time: npm is needed to build. An existing Node.js with npm (from any
# source) is kept; otherwise Debian's.
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
