#!/usr/bin/env bash
# The main job, on one machine: installs what is missing, builds, and runs a
# complete local provisioning. A provisioning server and a device agent run
# on 127.0.0.1; owb-demo-client plays the phone (the same requests the setup
# page and the hand-off page make); owb-demo-wifi stands in for the device's
# Wi-Fi and records what it applied. Everything runs in a temporary
# directory that is removed at the end, and both processes are stopped.
# It runs once per suite: a symmetric-key device, then a public-key one.
# --keep leaves the server and the agents running (their output in files,
# so a pipe reading this script still ends), and prints the setup page's
# address, so a person can open it in a browser and go through it.
#   bash tools/demo.sh [--mode server|app] [--suite sym|pk|both] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
mode=server suites="sym pk" keep=0
usage="usage: $0 [--mode server|app] [--suite sym|pk|both] [--keep]"
while [ $# -gt 0 ]; do
    case "$1" in
    --mode) mode="${2:-}"; shift 2 ;;
    --suite) suites="${2:-}"; [ "$suites" = both ] && suites="sym pk"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
    esac
done
case "$mode" in server|app) ;; *) echo "$usage" >&2; exit 2 ;; esac
for s in $suites; do
    case "$s" in sym|pk) ;; *) echo "$0: --suite takes sym, pk or both" >&2; exit 2 ;; esac
done

bash tools/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" >/dev/null
bin=build/release

work=$(mktemp -d "${TMPDIR:-/tmp}/owb-demo-XXXXXX")
pids=()
cleanup() {
    local status=$?
    if [ "$keep" = 1 ] && [ "$status" = 0 ]; then
        printf '%s\n' "#!/bin/sh" "kill ${pids[*]} 2>/dev/null" "rm -rf '$work'" >"$work/stop.sh"
        printf '\nStill running (--keep). Stop everything with: sh %s/stop.sh\n' "$work"
        return
    fi
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
# shellcheck source=tools/port-of.sh
. tools/port-of.sh

export OWB_DB="$work/owb.db" OWB_MASTER_KEY_FILE="$work/master.key"
step "1. Initialise the provisioning server's database and master key"
$bin/server/owb-server init

step "2. Start the server on loopback"
$bin/server/owb-server serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --quiet >/dev/null 2>"$work/server.log" &
pids+=($!)
sport=$(port_of "$work/server.log")
server="http://127.0.0.1:$sport"
echo "owb-server at $server"

step "3. Add the premises network, make an installer token"
# A PSK with quotes and a $(...) that nothing may run.
# shellcheck disable=SC2016
printf 'demo-passw0rd "quoted" $(not-run)\n' | \
    $bin/server/owb-server network add office --ssid "Demo Office" --security wpa2-psk
token=$($bin/server/owb-server token create --label demo 2>/dev/null)

# Steps 4-8 for one device of the given suite.
provision() {
    local suite=$1 dir="$work/$1" id claim dport want_ssid
    local -a suite_args=()
    mkdir -m 700 "$dir" "$dir/state" "$dir/wifi"
    if [ "$suite" = pk ]; then
        # The factory pins the server's public key in every pk device.
        $bin/server/owb-server signing-key public >"$dir/server.pub"
        suite_args=(--suite pk --server-public-key "$dir/server.pub")
    fi

    step "4 ($suite). Mint a $suite-suite device (key file, server record, QR code)"
    $bin/tools/owb-mint device --prefix "demo-$suite-" --server "$server" --out-dir "$dir/factory" \
        "${suite_args[@]}" | tee "$dir/mint.txt"
    id=$(awk '/^id:/ {print $2}' "$dir/mint.txt")
    claim=$(sed -n 's/.*#c=\([0-9A-Z]*\).*/\1/p' "$dir/mint.txt")

    step "5 ($suite). Import it and assign it the network"
    $bin/server/owb-server device import "$dir/factory/records.jsonl"
    $bin/server/owb-server device assign "$id" --network office

    step "6 ($suite). Start the device agent (command backend; Wi-Fi recorded in a file)"
    OWB_DEMO_DIR="$dir/wifi" OWB_DEMO_SSID="Demo Office" \
    $bin/device/owb-device --key-file "$dir/factory/$id.key" --state-dir "$dir/state" \
        --listen 127.0.0.1:0 --wifi-backend command --wifi-command "$PWD/$bin/tools/owb-demo-wifi" \
        --quiet >/dev/null 2>"$dir/device.log" &
    pids+=($!)
    dport=$(port_of "$dir/device.log")
    echo "owb-device ($id) at http://127.0.0.1:$dport"
    echo "http://127.0.0.1:$dport/" >"$dir/handoff.url"

    step "7 ($suite). The phone's part: setup page, bundle, hand-off, wait for check-in ($mode-sealed)"
    if [ "$mode" = server ]; then
        $bin/tools/owb-demo-client --server "$server" --device-url "http://127.0.0.1:$dport" \
            --id "$id" --claim "$claim" --mode server --token "$token"
        want_ssid="Demo Office"
    else
        $bin/tools/owb-demo-client --server "$server" --device-url "http://127.0.0.1:$dport" \
            --id "$id" --claim "$claim" --mode app --ssid "Home Net" --psk "phone-only secret"
        want_ssid="Home Net"
    fi

    step "8 ($suite). What the device applied"
    sed 's/"psk":.*/"psk":	"(hidden)",/' "$dir/wifi/applied.json"; echo
    grep -q "\"ssid\":[[:space:]]*\"$want_ssid\"" "$dir/wifi/applied.json"
    $bin/server/owb-server device show "$id" | grep -E '^(id|suite|state|counter):'
    printf '\ndevice %s (%s suite) is online\n' "$id" "$suite"
}
for suite in $suites; do
    provision "$suite"
done
if [ "$keep" = 1 ]; then
    step "Your turn: the setup page of the last device, in a browser on this machine"
    # The label's URL, as its QR code holds it: setup is open again and again.
    sed -n 's/^setup URL: *//p' "$work/$suite/mint.txt" | head -n 1
    echo "installer token (for \"the organisation's network\"): $token"
    echo "the device's hand-off page (on a real device: its setup Wi-Fi's address): $(cat "$work/$suite/handoff.url")"
fi
