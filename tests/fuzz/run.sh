#!/usr/bin/env bash
# Builds the fuzz preset (clang) and runs every harness for SECONDS each
# (default 60) on corpora seeded from the protocol vectors. A crash stops
# with the failing input in build/fuzz/findings/<harness>/; turn it into a
# regression test before fixing it.
#   bash tests/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)" >/dev/null
out=build/fuzz
python3 tests/fuzz/seeds.py tests/vectors "$out/seeds"
harnesses=(bundle wifi files json heartbeat provision http_answer server)
for h in "${harnesses[@]}"; do
    mkdir -p "$out/corpus/$h" "$out/findings/$h"
    cp -n "$out/seeds/$h"/* "$out/corpus/$h/" 2>/dev/null || true
    echo "== fuzz_$h for ${secs}s"
    "$out/tests/fuzz/fuzz_$h" "$out/corpus/$h" -max_total_time="$secs" -max_len=8192 \
        -artifact_prefix="$out/findings/$h/" -print_final_stats=1 2>&1 |
        grep -E 'stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Done' || true
    if ls "$out/findings/$h"/crash-* "$out/findings/$h"/leak-* >/dev/null 2>&1; then
        echo "fuzz_$h found a failing input: $out/findings/$h" >&2
        exit 1
    fi
done
echo "${#harnesses[@]} passed, 0 failed"
