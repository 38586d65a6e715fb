#!/usr/bin/env bash
# The main job, on one machine: installs what is missing, builds, and runs a
# complete local provisioning. A provisioning server and a device agent run
# on 127.0.0.1; owb-demo-client plays the phone (the same requests the setup
# page and the hand-off page make); owb-demo-wifi stands in for the device's
# Wi-Fi and records what it applied. Everything runs in a temporary
# directory that is removed at the end, and both processes are stopped.
#   bash tools/demo.sh [--mode server|app]
set -euo pipefail
cd "$(dirname "$0")/.."
mode=server
[ "${1:-}" = "--mode" ] && mode="${2:-server}"
case "$mode" in server|app) ;; *) echo "usage: $0 [--mode server|app]" >&2; exit 2 ;; esac

bash tools/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" >/dev/null
bin=build/release

work=$(mktemp -d "${TMPDIR:-/tmp}/owb-demo-XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
port_of() { # waits for "(port N)" in a log file
    for _ in $(seq 100); do
        p=$(grep -o '(port [0-9]*)' "$1" 2>/dev/null | head -1 | tr -dc 0-9) || true
        [ -n "$p" ] && { echo "$p"; return; }
        sleep 0.1
    done
    echo "no port in $1:" >&2; cat "$1" >&2; exit 1
}

export OWB_DB="$work/owb.db" OWB_MASTER_KEY_FILE="$work/master.key"
step "1. Initialise the provisioning server's database and master key"
$bin/server/owb-server init

step "2. Start the server on loopback"
$bin/server/owb-server serve --listen 127.0.0.1:0 --quiet 2>"$work/server.log" &
pids+=($!)
sport=$(port_of "$work/server.log")
server="http://127.0.0.1:$sport"
echo "owb-server at $server"

step "3. Mint a device (key file, server record, QR code)"
$bin/tools/owb-mint device --prefix demo- --server "$server" --out-dir "$work/factory" | tee "$work/mint.txt"
id=$(awk '/^id:/ {print $2}' "$work/mint.txt")
claim=$(sed -n 's/.*#c=\([0-9A-Z]*\).*/\1/p' "$work/mint.txt")

step "4. Import it, add the premises network, assign it, make an installer token"
$bin/server/owb-server device import "$work/factory/records.jsonl"
# A PSK with quotes and a $(...) that nothing may run.
# shellcheck disable=SC2016
printf 'demo-passw0rd "quoted" $(not-run)\n' | \
    $bin/server/owb-server network add office --ssid "Demo Office" --security wpa2-psk
$bin/server/owb-server device assign "$id" --network office
token=$($bin/server/owb-server token create --label demo 2>/dev/null)

step "5. Start the device agent (command backend; Wi-Fi recorded in a file)"
mkdir -m 700 "$work/state" "$work/wifi"
OWB_DEMO_DIR="$work/wifi" OWB_DEMO_SSID="Demo Office" \
$bin/device/owb-device --key-file "$work/factory/$id.key" --state-dir "$work/state" \
    --listen 127.0.0.1:0 --wifi-backend command --wifi-command "$PWD/$bin/tools/owb-demo-wifi" \
    --quiet 2>"$work/device.log" &
pids+=($!)
dport=$(port_of "$work/device.log")
echo "owb-device ($id) at http://127.0.0.1:$dport"

step "6. The phone's part: setup page, bundle, hand-off, wait for check-in ($mode-sealed)"
if [ "$mode" = server ]; then
    $bin/tools/owb-demo-client --server "$server" --device-url "http://127.0.0.1:$dport" \
        --id "$id" --claim "$claim" --mode server --token "$token"
    want_ssid="Demo Office"
else
    $bin/tools/owb-demo-client --server "$server" --device-url "http://127.0.0.1:$dport" \
        --id "$id" --claim "$claim" --mode app --ssid "Home Net" --psk "phone-only secret"
    want_ssid="Home Net"
fi

step "7. What the device applied"
sed 's/"psk":.*/"psk":	"(hidden)",/' "$work/wifi/applied.json"; echo
grep -q "\"ssid\":[[:space:]]*\"$want_ssid\"" "$work/wifi/applied.json"
$bin/server/owb-server device show "$id" | grep -E '^(id|state|counter):'
printf '\ndevice %s is online\n' "$id"
