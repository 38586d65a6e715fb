#!/usr/bin/env bash
# The benchmarks: builds the release preset, measures envelope cost, server
# throughput (wrk on loopback) at two fleet sizes, server memory under load
# and over a soak, factory speed (batch and import), and the device (time
# to apply, peak RSS, binary sizes), then writes the tables into
# docs/performance.md between the "bench:begin" and "bench:end" markers.
# Every figure is the median, min and max of RUNS runs.
#
#   bash bench/run.sh            RUNS=3, 10 s loads, fleets of 1 000 and 1 000 000
#   bash bench/run.sh --quick    one run, 3 s loads, 100 000 instead of 1 000 000
#   bash bench/run.sh --server   [--quick] the server only (sections 1, 2, 5),
#                                its tables printed and docs/performance.md left alone
#
# Needs wrk (Debian package wrk; tools/install-deps.sh bench installs it).
# Not part of CI: it takes about 20 minutes and its figures are the machine's.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=3 DUR=10 BIG=1000000 SOAK=60 SAMPLE=2000
ONLY_SERVER=
for a in "$@"; do
    case $a in
    --quick) RUNS=1 DUR=3 BIG=100000 SOAK=10 ;;
    --server) ONLY_SERVER=1 ;;
    *) echo "usage: bash bench/run.sh [--quick] [--server]" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk, or bash tools/install-deps.sh bench)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

echo "bench: building the release preset" >&2
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" >/dev/null
# The static and Omega2 builds too when their dependencies were built
# (tools/build-deps.sh host-static | omega2): the device figures that ship.
for preset in static omega2; do
    [ -z "$ONLY_SERVER" ] || break
    if [ -d "$HOME/.cache/owb-deps/$preset" ] || [ -d "$HOME/.cache/owb-deps/host-$preset" ]; then
        echo "bench: building the $preset preset" >&2
        cmake --preset "$preset" >/dev/null && cmake --build --preset "$preset" -j"$(nproc)" >/dev/null
    fi
done
rel=$PWD/build/release
S=$rel/server/owb-server M=$rel/tools/owb-mint P=$rel/bench/owb-bench-prep
work=$(mktemp -d)
res=$work/results
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

say() { echo "bench: $*" >&2; }
note() { echo "$1 $2" >>"$res"; } # key value
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}'; }
# shellcheck source=tools/port-of.sh
. tools/port-of.sh
kib() { awk -v f="$2" '$1 == f":" {print $2}' "/proc/$1/status"; } # pid field
# median min max of a key's values
stats() { awk -v k="$1" '$1 == k {print $2}' "$res" | sort -g | awk '{a[NR] = $1} END {if (NR) printf "%s %s %s", a[int((NR + 1) / 2)], a[1], a[NR]}'; }
med() { stats "$1" | awk '{print $1}'; }

# --- 1. envelope cost -----------------------------------------------------
say "envelope cost"
for _ in $(seq "$RUNS"); do
    "$rel/bench/owb-bench-envelope" 2 >"$work/env.txt"
    while read -r k v; do note "env_$k" "$v"; done <"$work/env.txt"
done

# --- 2. server under wrk, 5. its memory -------------------------------------
# CPU time in clock ticks: of the given processes (all their threads), and
# of the whole machine. Throughput on a shared machine moves from minute to
# minute; the CPU a request costs, and whose, moves much less.
ticks_of() { local t=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
ticks_all() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# The database's: PostgreSQL's postmaster, its children, and the children
# that ended (autovacuum workers), which the postmaster's own line counts.
ticks_db() {
    case ${OWB_DB:-} in postgresql:*) ;; *) echo 0; return ;; esac
    echo $(($(ticks_of $(pgrep -P "$pg_pid")) + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$pg_pid/stat")))
}
us_per() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {if (n > 0) printf "%.0f", t * 1e6 / hz / n}'; }

wrk_run() { # mode url dir fleet -> notes srv_<fleet>_<mode>_{rps,p50_ms,p99_ms,...,cpu_*_us}
    local mode=$1 url=$2 dir=$3 fleet=$4 line s0 d0 a0 n
    local -a kvs
    s0=$(ticks_of "$served_pid") d0=$(ticks_db) a0=$(ticks_all)
    line=$(OWB_BENCH_MODE=$mode OWB_BENCH_DIR=$dir OWB_BENCH_TOKEN=$token OWB_BENCH_THREADS=2 \
        wrk -t2 -c32 -d"${DUR}s" -s bench/wrk/owb.lua "$url" | grep '^wrk_result')
    read -ra kvs <<<"$line"
    for kv in "${kvs[@]:1}"; do note "srv_${fleet}_${mode}_${kv%%=*}" "${kv#*=}"; done
    n=$(echo "$line" | grep -o 'requests=[0-9]*' | cut -d= -f2)
    note "srv_${fleet}_${mode}_cpu_server_us" "$(us_per $(($(ticks_of "$served_pid") - s0)) "$n")"
    note "srv_${fleet}_${mode}_cpu_db_us" "$(us_per $(($(ticks_db) - d0)) "$n")"
    note "srv_${fleet}_${mode}_cpu_all_us" "$(us_per $(($(ticks_all) - a0)) "$n")"
    case $mode in setup-* | checkin) [ "$(echo "$line" | grep -o 'non2xx=[0-9]*')" = non2xx=0 ] ||
        { say "$mode: answers other than 2xx: $line"; exit 1; } ;;
    esac
}

# serve_bench LOG: an owb-server of the current OWB_DB without rate limits,
# its pid and URL in served_pid and served_url.
serve_bench() {
    "$S" serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --rate-limit 0 --checkin-rate 0 --quiet 2>"$1" &
    served_pid=$!
    pids+=("$served_pid")
    served_url="http://127.0.0.1:$(port_of "$1")"
}

# wrk_pair tag mode dir url1 url2: two wrk processes (-t1 -c16 each) at
# once, one at each URL (the same URL twice for one instance), so one
# instance and two are loaded alike: notes <tag>_<mode>_rps (the sum) and
# _p99_ms (the higher of the two).
wrk_pair() {
    local tag=$1 mode=$2 dir=$3 u i
    local -a wp
    shift 3
    i=0
    for u in "$@"; do
        i=$((i + 1))
        OWB_BENCH_MODE=$mode OWB_BENCH_DIR=$dir OWB_BENCH_TOKEN=$token OWB_BENCH_THREADS=1 \
            wrk -t1 -c16 -d"${DUR}s" -s bench/wrk/owb.lua "$u" | grep '^wrk_result' >"$dir/pair$i.txt" &
        wp+=($!)
    done
    wait "${wp[@]}"
    note "${tag}_${mode}_rps" "$(cat "$dir"/pair[12].txt | grep -o 'rps=[0-9.]*' | cut -d= -f2 | awk '{t += $1} END {print t}')"
    note "${tag}_${mode}_p99_ms" "$(cat "$dir"/pair[12].txt | grep -o 'p99_ms=[0-9.]*' | cut -d= -f2 | sort -g | tail -1)"
    cat "$dir"/pair[12].txt | grep -c 'non2xx=0 ' | grep -qx 2 ||
        { say "$mode on $tag: answers other than 2xx: $(cat "$dir"/pair[12].txt)"; exit 1; }
}

# PostgreSQL, several instances: a second owb-server on the same database,
# and the same load spread over both against all of it on one.
two_instances() { # dir url
    local d=$1 url=$2 spid2 url2
    serve_bench "$d/server2.log"
    spid2=$served_pid url2=$served_url
    for run in $(seq "$RUNS"); do
        say "PostgreSQL: one instance against two, run $run of $RUNS"
        for m in setup-server setup-app; do
            wrk_pair srv_pg_one "$m" "$d" "$url" "$url"
            wrk_pair srv_pg_two "$m" "$d" "$url" "$url2"
        done
    done
    kill "$spid2"
    wait "$spid2" || true
}

fleet_bench() { # fleet size [pg]: the key prefix is srv_<n> or srv_pg<n>
    local n=$1 d=$work/fleet-$1-${2:-sqlite} t0 spid url tag=$1
    local -a ids
    mkdir -p "$d"
    say "fleet of $n (${2:-sqlite}): records, import"
    "$P" fleet "$n" "$d" $((n < SAMPLE ? n : SAMPLE))
    export OWB_DB=$d/owb.db OWB_MASTER_KEY_FILE=$d/master.key
    if [ "${2:-}" = pg ]; then
        tag=pg$n
        pg_sql "DROP DATABASE IF EXISTS owb$n" "CREATE DATABASE owb$n"
        OWB_DB="postgresql://postgres@$pg_host:$pg_port/owb$n"
    fi
    "$S" init >/dev/null
    t0=$(now)
    "$S" device import "$d/records.jsonl" >/dev/null
    note "import_fleet_$tag" "$(since "$t0")"
    rm -f "$d/records.jsonl"
    echo "bench-network-passphrase" | "$S" network add home --ssid "Bench Net" --security wpa2-psk >/dev/null
    mapfile -t ids < <(cut -d' ' -f1 "$d/targets.txt")
    "$S" device assign "${ids[@]}" --network home >/dev/null
    token=$("$S" token create --label bench | head -1)
    serve_bench "$d/server.log"
    spid=$served_pid url=$served_url
    for run in $(seq "$RUNS"); do
        say "fleet of $n (${2:-sqlite}): wrk run $run of $RUNS"
        wrk_run healthz "$url" "$d" "$tag"
        wrk_run setup-server "$url" "$d" "$tag"
        wrk_run setup-app "$url" "$d" "$tag"
        "$P" checkins "$url" "$token" "$d" $((DUR * 80000)) # more than wrk can send
        wrk_run checkin "$url" "$d" "$tag"
    done
    note "srv_${tag}_peak_rss_kib" "$(kib "$spid" VmHWM)"
    [ "$tag" = pg1000 ] && two_instances "$d" "$url"
    if [ "$tag" = 1000 ]; then
        say "soak: $SOAK s of server-sealed setups"
        local rss0 rss1 max=0 r
        rss0=$(kib "$spid" VmRSS)
        OWB_BENCH_MODE=setup-server OWB_BENCH_DIR=$d OWB_BENCH_TOKEN=$token \
            wrk -t2 -c32 -d"${SOAK}s" -s bench/wrk/owb.lua "$url" >"$d/soak.txt" &
        local w=$!
        while kill -0 "$w" 2>/dev/null; do
            r=$(kib "$spid" VmRSS)
            [ "$r" -gt "$max" ] && max=$r
            sleep 5
        done
        wait "$w"
        rss1=$(kib "$spid" VmRSS)
        note soak_rss_start_kib "$rss0"
        note soak_rss_end_kib "$rss1"
        note soak_rss_max_kib "$max"
        note soak_rps "$(grep -o 'rps=[0-9.]*' "$d/soak.txt" | cut -d= -f2)"
    fi
    kill "$spid"
    wait "$spid" || true
    unset OWB_DB OWB_MASTER_KEY_FILE
    rm -rf "$d"
}
fleet_bench 1000
fleet_bench "$BIG"

# The same against PostgreSQL when it is installed: a cluster of the
# script's own on a free loopback port (as the postgres user when root).
pg_bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$pg_bin/initdb" ] || pg_bin=
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_sql() { for q in "$@"; do as_pg "$pg_bin/psql" -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c "$q" >/dev/null; done; }
if [ -n "$pg_bin" ]; then
    pg_dir=$(mktemp -d /tmp/owb-bench-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres: "$pg_dir"
    pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
        -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
    pg_pid=$(head -1 "$pg_dir/data/postmaster.pid")
    # owb-server reaches it over its Unix socket, as a server beside its
    # database would (docs/server.md); OWB_BENCH_PG_TCP=1: over 127.0.0.1.
    pg_host=${pg_dir//\//%2F}
    [ -z "${OWB_BENCH_PG_TCP:-}" ] || pg_host=127.0.0.1
    fleet_bench 1000 pg
    fleet_bench "$BIG" pg
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null
    rm -rf "$pg_dir"
else
    say "PostgreSQL is not installed: its figures are left out"
fi

if [ -z "$ONLY_SERVER" ]; then
# --- 3. factory -------------------------------------------------------------
for run in $(seq "$RUNS"); do
    say "factory: batch of 100 000 and its import, run $run of $RUNS"
    b=$work/batch
    rm -rf "$b"
    t0=$(now)
    "$M" batch --count 100000 --server https://setup.example.com --out-dir "$b" >/dev/null 2>&1
    note batch_s "$(since "$t0")"
    OWB_DB=$work/factory.db OWB_MASTER_KEY_FILE=$work/factory.key "$S" init >/dev/null
    t0=$(now)
    OWB_DB=$work/factory.db OWB_MASTER_KEY_FILE=$work/factory.key "$S" device import "$b/records.jsonl" >/dev/null
    note import_s "$(since "$t0")"
    rm -rf "$b" "$work"/factory.*
done

# --- 4. device ----------------------------------------------------------------
say "device: time to apply and peak RSS"
dd=$work/device
mkdir -p "$dd"
export OWB_DB=$dd/owb.db OWB_MASTER_KEY_FILE=$dd/master.key
"$S" init >/dev/null
"$S" serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --quiet 2>"$dd/server.log" &
pids+=($!)
server="http://127.0.0.1:$(port_of "$dd/server.log")"
device_runs() { # build label, owb-device binary
    local label=$1 bin=$2 r id claim tpid
    for run in $(seq $((RUNS + 2))); do
        r=$dd/$label-$run
        mkdir -p "$r/state"
        "$M" device --prefix bench- --server "$server" --out-dir "$r" >"$r/mint.txt"
        "$S" device import "$r/records.jsonl" >/dev/null
        id=$(awk '/^id:/ {print $2}' "$r/mint.txt")
        claim=$(sed -n 's/.*#c=\([0-9A-Z]*\).*/\1/p' "$r/mint.txt" | head -1)
        OWB_BENCH_STAMP=$r/stamp /usr/bin/time -v -o "$r/time.txt" "$bin" \
            --key-file "$r/$id.key" --state-dir "$r/state" --listen 127.0.0.1:0 \
            --wifi-backend command --wifi-command "$rel/bench/owb-bench-stamp" --quiet 2>"$r/device.log" &
        tpid=$!
        pids+=("$tpid")
        "$P" provision "$server" "http://127.0.0.1:$(port_of "$r/device.log")" "$id" "$claim" \
            "$r/stamp" >"$r/apply.txt"
        note "apply_us_$label" "$(awk '{print $2}' "$r/apply.txt")"
        "$P" spawn "$rel/bench/owb-bench-stamp" "$r/spawn-stamp" >"$r/spawn.txt"
        note "spawn_us_$label" "$(awk '{print $2}' "$r/spawn.txt")"
        sleep 1 # the join check and the check-in, then stop it
        pkill -TERM -P "$tpid" || true
        wait "$tpid" || true
        note "device_rss_kib_$label" "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$r/time.txt")"
    done
}
device_runs release "$rel/device/owb-device"
[ -f build/static/device/owb-device ] && device_runs static "$PWD/build/static/device/owb-device"
unset OWB_DB OWB_MASTER_KEY_FILE

stripped() { strip -o "$work/stripped" "$1" && stat -c %s "$work/stripped"; }
for b in device/owb-device server/owb-server tools/owb-mint; do
    note "size_release_$(basename "$b")" "$(stripped "$rel/$b")"
done
for preset in static omega2; do
    f=build/$preset/device/owb-device
    if [ -f "$f" ]; then
        case $preset in omega2) note "size_${preset}_owb-device" "$(stat -c %s "$f")" ;; # linked with -s
        *) note "size_${preset}_owb-device" "$(stripped "$f")" ;;
        esac
    fi
done
fi

# --- the tables -----------------------------------------------------------------
row() { # label key [unit] [scale]
    local -a s
    read -ra s <<<"$(stats "$2")"
    [ "${#s[@]}" = 3 ] || { echo "| $1 | (not measured) | | |"; return; }
    awk -v l="$1" -v u="${3:-}" -v k="${4:-1}" -v a="${s[0]}" -v b="${s[1]}" -v c="${s[2]}" \
        'function n(x) {return x >= 1000 ? sprintf("%.0f", x) : sprintf("%.3g", x)}
         BEGIN {printf "| %s | %s%s | %s | %s |\n", l, n(a / k), u, n(b / k), n(c / k)}'
}
ratio() { awk -v a="$(med "$1")" -v b="$(med "$2")" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
table() {
    local -a s
    echo "Run of $(date -u +%Y-%m-%d) on $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)),"
    echo "$RUNS run(s) each: median, min, max. Generated by \`bash bench/run.sh$([ "$RUNS" = 1 ] && echo ' --quick')\`."
    echo
    echo "### 1. Envelope cost (one core)"
    echo
    echo "| measure | median | min | max |"
    echo "|---|---|---|---|"
    row "server-sealed bundles per second" env_bundles_per_s
    row "two bare AEAD calls per second (same sizes)" env_raw_pairs_per_s
    row "bundle cost / two AEAD calls (target <= 3)" env_ratio x
    row "pk suite: bundles per second (X25519 pair + X25519 + Ed25519 signature each)" env_pk_bundles_per_s
    row "pk suite: bundle cost / symmetric bundle cost" env_pk_cost_vs_sym x
    row "pk suite: bundle opens per second (the device's side; signature first)" env_pk_opens_per_s
    for st in random_nonce w_json inner_seal p_json outer_seal base64url; do
        row "step: $st" "env_ns_$st" " ns"
    done
    echo
    echo "Sizes: W $(med env_w_bytes) bytes, P $(med env_p_bytes) bytes, bundle $(med env_bundle_bytes) bytes ($(med env_bundle_b64_bytes) in base64url); a pk bundle $(med env_pk_bundle_bytes) bytes."
    echo
    for n in 1000 "$BIG" pg1000 "pg$BIG"; do
        [ -n "$(med "srv_${n}_healthz_rps")" ] || continue
        case $n in
        pg*) echo "### 2. owb-server on PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}'), fleet of ${n#pg} devices (wrk -t2 -c32, ${DUR} s, --rate-limit 0 --checkin-rate 0, one local server with default settings, reached over $([ "${pg_host:-}" = 127.0.0.1 ] && echo 127.0.0.1 || echo "its Unix socket"))" ;;
        *) echo "### 2. owb-server, fleet of $n devices (wrk -t2 -c32, ${DUR} s, --rate-limit 0 --checkin-rate 0, SQLite, --sync normal)" ;;
        esac
        echo
        echo "| request | req/s median | min | max | p50 ms (median) | p99 ms (median) | CPU µs a request: owb-server, database, whole machine (median) |"
        echo "|---|---|---|---|---|---|---|"
        for m in healthz setup-server setup-app checkin; do
            read -ra s <<<"$(stats "srv_${n}_${m}_rps")"
            [ "${#s[@]}" = 3 ] || continue
            echo "| $m | ${s[0]} | ${s[1]} | ${s[2]} | $(med "srv_${n}_${m}_p50_ms") | $(med "srv_${n}_${m}_p99_ms") |" \
                "$(med "srv_${n}_${m}_cpu_server_us"), $(case $n in pg*) med "srv_${n}_${m}_cpu_db_us" ;; *) echo "(SQLite is in owb-server)" ;; esac)," \
                "$(med "srv_${n}_${m}_cpu_all_us") |"
        done
        echo
        echo "Against /healthz in the same run (target >= 0.30, and p99 under 15 ms):" \
            "setup-server $(ratio "srv_${n}_setup-server_rps" "srv_${n}_healthz_rps")," \
            "setup-app $(ratio "srv_${n}_setup-app_rps" "srv_${n}_healthz_rps")," \
            "checkin $(ratio "srv_${n}_checkin_rps" "srv_${n}_healthz_rps")." \
            "Import of the fleet: $(med "import_fleet_$n") s. Server peak RSS: $(med "srv_${n}_peak_rss_kib") KiB."
        echo
    done
    if [ -n "$(med srv_pg_one_setup-app_rps)" ]; then
        echo "### 2. owb-server on PostgreSQL: one instance against two (fleet of 1000, two wrk -t1 -c16 at once)"
        echo
        echo "| request | one instance req/s | two instances req/s | two / one | p99 ms one | p99 ms two |"
        echo "|---|---|---|---|---|---|"
        for m in setup-server setup-app; do
            echo "| $m | $(med "srv_pg_one_${m}_rps") | $(med "srv_pg_two_${m}_rps") | $(ratio "srv_pg_two_${m}_rps" "srv_pg_one_${m}_rps") |" \
                "$(med "srv_pg_one_${m}_p99_ms") | $(med "srv_pg_two_${m}_p99_ms") |"
        done
        echo
    fi
    echo "Flatness (setup-server req/s, fleet $BIG / fleet 1000, target >= 0.80): SQLite $(ratio "srv_${BIG}_setup-server_rps" srv_1000_setup-server_rps)" \
        "(app-sealed $(ratio "srv_${BIG}_setup-app_rps" srv_1000_setup-app_rps)); PostgreSQL $(ratio "srv_pg${BIG}_setup-server_rps" srv_pg1000_setup-server_rps)" \
        "(app-sealed $(ratio "srv_pg${BIG}_setup-app_rps" srv_pg1000_setup-app_rps))."
    echo
    echo "### 5. owb-server memory over a ${SOAK} s soak (server-sealed setups, fleet of 1000)"
    echo
    echo "RSS at the start $(med soak_rss_start_kib) KiB, highest $(med soak_rss_max_kib) KiB, at the end $(med soak_rss_end_kib) KiB," \
        "at $(med soak_rps) req/s."
    echo
    echo "### 3. Factory (100 000 devices)"
    echo
    echo "| measure | median | min | max |"
    echo "|---|---|---|---|"
    row "owb-mint batch --count 100000 (SVG QR codes; target < 30 s)" batch_s " s"
    row "owb-server device import of its records (target < 5 s)" import_s " s"
    echo
    echo "### 4. Device"
    echo
    echo "| measure | median | min | max |"
    echo "|---|---|---|---|"
    for b in release static; do
        row "$b build: POST /v1/provision to the backend called (incl. its exec)" "apply_us_$b" " µs"
        row "$b build: exec of the backend program alone" "spawn_us_$b" " µs"
        row "$b build: owb-device peak RSS, one provisioning (target <= 4 MiB)" "device_rss_kib_$b" " KiB"
    done
    echo
    for b in release static; do
        [ -n "$(med "apply_us_$b")" ] || continue
        echo "Time to apply without the backend's own start, $b build:" \
            "$(awk -v a="$(med "apply_us_$b")" -v c="$(med "spawn_us_$b")" 'BEGIN {printf "%.0f", a - c}') µs (target < 5 000 µs)."
    done
    echo
    echo "| binary | build | stripped size |"
    echo "|---|---|---|"
    for k in release_owb-device release_owb-server release_owb-mint static_owb-device omega2_owb-device; do
        v=$(med "size_$k")
        [ -n "$v" ] && echo "| ${k#*_} | ${k%%_*} | $v bytes ($((v / 1024)) KiB) |"
    done
    return 0
}
table >"$work/table.md"
if [ -n "$ONLY_SERVER" ]; then
    cat "$work/table.md"
    exit 0
fi
doc=docs/performance.md
awk -v t="$work/table.md" '
    /<!-- bench:begin -->/ {print; while ((getline l < t) > 0) print l; skip = 1; next}
    /<!-- bench:end -->/ {skip = 0}
    !skip {print}' "$doc" >"$work/doc.md"
cp "$work/doc.md" "$doc"
cat "$work/table.md"
say "wrote the tables into $doc"
