#!/usr/bin/env bash
# The ageing soak: owb-server on SQLite under constant server-sealed setups
# (wrk, bench/wrk/owb.lua) for a few minutes, sampling the database file,
# its WAL, the sessions table and the rows pruned every few seconds; once
# with --retention (a short period, so the pruning shows within minutes)
# and once with --retention 0 (never pruned: the growth it stops). Prints
# one Markdown table per run, for docs/performance.md.
#
#   bash bench/soak.sh                      180 s each, --retention 30s, a sample every 10 s
#   bash bench/soak.sh DURATION RETENTION SAMPLE
#
# Needs wrk, curl and sqlite3. Not part of CI or ctest: it takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

DUR=${1:-180} RET=${2:-30s} SAMPLE=${3:-10}
for tool in wrk curl sqlite3; do
    command -v "$tool" >/dev/null || { echo "soak: $tool is missing" >&2; exit 1; }
done

echo "soak: building the release preset" >&2
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" >/dev/null
rel=$PWD/build/release
S=$rel/server/owb-server P=$rel/bench/owb-bench-prep
work=$(mktemp -d)
spid='' wpid=''
cleanup() {
    for p in $wpid $spid; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=tools/port-of.sh
. tools/port-of.sh

size() { stat -c %s "$1" 2>/dev/null || echo 0; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
metric() { # name{labels} from the metrics text on stdin
    awk -v k="$1" '{split($1, a, "{")} a[1] == k {s += $NF} END {print s + 0}'
}

soak() { # retention
    local ret=$1 d=$work/run-$1 url murl token t0 t m
    mkdir -p "$d"
    "$P" fleet 1000 "$d" 1000 >/dev/null
    export OWB_DB=$d/owb.db OWB_MASTER_KEY_FILE=$d/master.key
    "$S" init >/dev/null
    "$S" device import "$d/records.jsonl" >/dev/null
    echo "soak-network-passphrase" | "$S" network add home --ssid "Soak Net" --security wpa2-psk >/dev/null
    mapfile -t ids < <(cut -d' ' -f1 "$d/targets.txt")
    "$S" device assign "${ids[@]}" --network home >/dev/null
    token=$("$S" token create --label soak | head -1)
    "$S" serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --rate-limit 0 --quiet \
        --retention "$ret" 2>"$d/server.log" &
    spid=$!
    url="http://127.0.0.1:$(port_of "$d/server.log")"
    murl="http://127.0.0.1:$(grep -o '(metrics port [0-9]*)' "$d/server.log" | tr -dc 0-9)/metrics"
    OWB_BENCH_MODE=setup-server OWB_BENCH_DIR=$d OWB_BENCH_TOKEN=$token \
        wrk -t2 -c32 -d"${DUR}s" -s bench/wrk/owb.lua "$url" >"$d/wrk.txt" &
    wpid=$!
    echo
    echo "--retention $ret, $DUR s of server-sealed setups (wrk -t2 -c32), fleet of 1000:"
    echo
    echo "| t (s) | setups | sessions rows | rows pruned | database (MiB) | WAL (MiB) | free pages |"
    echo "|---|---|---|---|---|---|---|"
    t0=$(date +%s)
    while kill -0 "$wpid" 2>/dev/null; do
        sleep "$SAMPLE"
        t=$(($(date +%s) - t0))
        m=$(curl -s "$murl")
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$t" \
            "$(echo "$m" | metric owb_bundles_issued_total)" \
            "$(sqlite3 "$OWB_DB" 'SELECT count(*) FROM sessions' 2>/dev/null || echo '-')" \
            "$(echo "$m" | metric owb_pruned_rows_total)" \
            "$(mib "$(size "$OWB_DB")")" "$(mib "$(size "$OWB_DB-wal")")" \
            "$(sqlite3 "$OWB_DB" 'PRAGMA freelist_count' 2>/dev/null || echo '-')"
    done
    wait "$wpid" || true
    wpid=
    echo
    echo "wrk: $(grep '^wrk_result' "$d/wrk.txt" | cut -d' ' -f2-)"
    grep 'owb-server: pruned' "$d/server.log" | tail -3 | sed 's/^/server log: /' || true
    kill "$spid"
    wait "$spid" || true
    spid=
    unset OWB_DB OWB_MASTER_KEY_FILE
    rm -rf "$d"
}

soak "$RET"
soak 0
