#!/usr/bin/env bash
# Sizes of the static binaries, what the Omega2 owb-device's bytes are made of
# (per part: owb, libsodium, libmicrohttpd, cJSON, musl, compiler-rt), and
# owb-device's peak RSS while it serves a provision, on the host (static
# x86_64) and on the emulated Omega2 (qemu -cpu 24KEc: the figure includes
# qemu's own memory, an upper bound).
# Needs the release, static and omega2 builds (the parts also llvm-dwarfdump,
# Debian's llvm package); prints Markdown tables.
#   bash bench/device-footprint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rel=build/release
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck source=tools/port-of.sh
. tools/port-of.sh

strip_size() { # bytes of a stripped copy
    local tmp="$work/stripped"
    case "$(file -b "$1")" in
    *MIPS*) cp "$1" "$tmp" ;; # the omega2 link already strips (-s)
    *) strip -o "$tmp" "$1" ;;
    esac
    stat -c %s "$tmp"
}

echo "| binary | build | stripped size |"
echo "|---|---|---|"
for b in build/static/server/owb-server build/static/tools/owb-mint build/static/device/owb-device build/omega2/device/owb-device; do
    [ -f "$b" ] || continue
    s=$(strip_size "$b")
    echo "| $(basename "$b") | $(basename "$(dirname "$(dirname "$b")")") | $s bytes ($((s / 1024)) KiB) |"
done

# The parts: the omega2 link relinked without -s, so that its DWARF says which
# source file each byte of code comes from (after LTO's inlining: the line
# table's file, not the calling function's) and which file defines each named
# object; what neither covers (ELF headers, the GOT, padding) is left over.
omega2_parts() {
    local dir=build/omega2/device link
    link=$(sed 's/ -s / /' "$dir/CMakeFiles/owb-device.dir/link.txt")
    (cd "$dir" && eval "$link -o '$work/owb-device.debug'") # the last -o wins
    {
        readelf -SW "$work/owb-device.debug" | sed 's/^/S /'
        llvm-dwarfdump --debug-info "$work/owb-device.debug" | sed 's/^/I /'
        llvm-dwarfdump --debug-line "$work/owb-device.debug" | sed 's/^/L /'
        readelf -sW "$work/owb-device.debug" | sed 's/^/Y /'
    } | awk -v root="$PWD" -v total="$(stat -c %s "$dir/owb-device")" -f bench/footprint-parts.awk
}
if [ -f build/omega2/device/owb-device ] && command -v llvm-dwarfdump >/dev/null; then
    echo
    echo "| part of the omega2 owb-device | code | data | total |"
    echo "|---|---|---|---|"
    omega2_parts
fi

export OWB_DB="$work/owb.db" OWB_MASTER_KEY_FILE="$work/master.key"
$rel/server/owb-server init >/dev/null
$rel/server/owb-server serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --quiet 2>"$work/server.log" &
pids+=($!)
server="http://127.0.0.1:$(port_of "$work/server.log")"

measure() { # label, device binary, [emulator...]
    local label=$1 bin=$2; shift 2
    local dir="$work/$label"
    mkdir -p "$dir/state" "$dir/wifi"
    $rel/tools/owb-mint device --prefix fp- --server "$server" --out-dir "$dir/f" >"$dir/mint.txt"
    $rel/server/owb-server device import "$dir/f/records.jsonl" >/dev/null
    local id claim
    id=$(awk '/^id:/ {print $2}' "$dir/mint.txt")
    claim=$(sed -n 's/.*#c=\([0-9A-Z]*\).*/\1/p' "$dir/mint.txt")
    OWB_DEMO_DIR="$dir/wifi" OWB_DEMO_SSID="Bench Net" /usr/bin/time -v -o "$dir/time.txt" \
        "$@" "$bin" --key-file "$dir/f/$id.key" --state-dir "$dir/state" --listen 127.0.0.1:0 \
        --wifi-backend command --wifi-command "$PWD/$rel/tools/owb-demo-wifi" --quiet 2>"$dir/device.log" &
    local pid=$!
    local dport
    dport=$(port_of "$dir/device.log")
    $rel/tools/owb-demo-client --server "$server" --device-url "http://127.0.0.1:$dport" --id "$id" \
        --claim "$claim" --mode app --ssid "Bench Net" --psk "bench-password" >/dev/null
    # $pid is /usr/bin/time: stop the agent it measures.
    pkill -TERM -P "$pid"
    wait "$pid" || true
    local kb
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time.txt")
    echo "| owb-device peak RSS while provisioning | $label | $kb KiB |"
}
echo
echo "| measure | where | value |"
echo "|---|---|---|"
measure "host (static x86_64)" build/static/device/owb-device
if [ -f build/omega2/device/owb-device ]; then
    measure "qemu-mipsel -cpu 24KEc (includes qemu)" build/omega2/device/owb-device qemu-mipsel-static -cpu 24KEc
fi
