# shellcheck shell=bash
# Sourced by the demo and the benchmark scripts: port_of LOG waits (up to
# 30 s) for the "(port N)" line a server of owb's writes when it listens,
# prints N, or shows the log and exits.
port_of() {
    local p
    for _ in $(seq 300); do
        p=$(grep -o '(port [0-9]*)' "$1" 2>/dev/null | head -1 | tr -dc 0-9) || true
        [ -n "$p" ] && { echo "$p"; return; }
        sleep 0.1
    done
    echo "no port in $1:" >&2
    cat "$1" >&2
    exit 1
}
