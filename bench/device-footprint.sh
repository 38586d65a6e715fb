#!/usr/bin/env bash
# Sizes of the static binaries and owb-device's peak RSS while it serves a
# provision, on the host (static x86_64) and on the emulated Omega2 (qemu
# -cpu 24KEc: the figure includes qemu's own memory, an upper bound).
# Needs the release, static and omega2 builds; prints a Markdown table.
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
