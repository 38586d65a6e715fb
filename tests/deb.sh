#!/usr/bin/env bash
# Builds the Debian packages (cpack), installs owb-server, owb-mint and
# owb-device with apt-get as an administrator would, then does what the
# unit's header says: `owb-server init` with the packaged paths, and
# `serve` with the unit's own ExecStart (its keys handed over as systemd
# credentials), and sets a device up against it with the installed
# owb-mint. Removes the packages and what they made at the end.
# Usage: tests/deb.sh BUILD_DIR. Exit 77 (skipped) when not root or when
# this machine already has an owb installation the test must not touch.
set -euo pipefail
build=$(cd "$1" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "not root: apt-get install cannot run; skipped"; exit 77; }
if ! command -v apt-get >/dev/null || ! command -v cpack >/dev/null; then
    echo "no apt-get or cpack; skipped"; exit 77
fi
for p in owb-server owb-mint owb-device; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        echo "$p is installed on this machine: not touching it; skipped"; exit 77
    fi
done
for d in /etc/owb /var/lib/owb /var/lib/owb-device; do
    if [ -e "$d" ]; then echo "$d exists: not touching it; skipped"; exit 77; fi
done

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    local p
    for p in owb-server owb-mint owb-device; do
        if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
            apt-get purge -y -qq "$p" >/dev/null 2>&1 || echo "could not remove $p" >&2
        fi
    done
    rm -rf /etc/owb /var/lib/owb /var/lib/owb-device "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/serve.log" ] && cat "$work/serve.log" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$work/pkg" >"$work/cpack.log") || { cat "$work/cpack.log"; fail "cpack"; }
for p in owb-server owb-mint owb-device; do
    ls "$work/pkg/${p}_"*.deb >/dev/null 2>&1 || fail "no ${p} package"
done
# --no-download: every dependency must already be satisfiable from what
# this machine has (the build's own libraries); apt still checks them.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "$work"/pkg/owb-server_*.deb "$work"/pkg/owb-mint_*.deb >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log"; fail "apt-get install owb-server owb-mint"; }

unit=/lib/systemd/system/owb-server.service
for f in /usr/bin/owb-server /usr/bin/owb-mint "$unit" /usr/share/doc/owb-server/deploy.md \
         /usr/share/man/man1/owb-server.1.gz; do
    [ -e "$f" ] || fail "$f not installed"
done
[ "$(stat -c %a /etc/owb)" = 700 ] || fail "/etc/owb not made 0700 by the package"
[ -d /var/lib/owb ] || fail "/var/lib/owb not made by the package"

# The unit's header, word for word.
init=$(sed -n 's/^#   \(owb-server init .*\)$/\1/p' "$unit")
[ -n "$init" ] || fail "the unit's header has no init line"
read -r -a init_argv <<<"$init"
"/usr/bin/${init_argv[0]}" "${init_argv[@]:1}" >"$work/init.log" || { cat "$work/init.log"; fail "$init"; }
while IFS=: read -r name path; do
    [ -f "$path" ] || fail "the unit loads $path, which init did not make"
    [ "$(stat -c %a "$path")" = 600 ] || fail "$path is not 0600"
    mkdir -p "$work/creds"
    cp "$path" "$work/creds/$name"
done < <(sed -n 's/^LoadCredential=//p' "$unit")

# ExecStart as the unit has it, on a port of the kernel's choosing.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
read -r -a argv <<<"$exec_start"
for i in "${!argv[@]}"; do
    [ "${argv[$i]}" = --listen ] && argv[i+1]=127.0.0.1:0
done
CREDENTIALS_DIRECTORY=$work/creds "${argv[@]}" --metrics-listen off 2>"$work/serve.log" &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on .* (port \([0-9]*\)).*/\1/p' "$work/serve.log")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || fail "serve exited"
    sleep 0.1
done
[ -n "$port" ] || fail "serve did not listen within 10 s"
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || fail "/healthz"

# The factory and the administrator, with the installed programs.
owb-mint device --id deb-1 --server "https://setup.example.com" --out-dir "$work/factory" \
    >/dev/null || fail "owb-mint device"
owb-server device import "$work/factory/records.jsonl" --db /var/lib/owb/owb.db \
    --master-key /etc/owb/owb-master.key >/dev/null || fail "device import"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"claim":"0000000000000000","app_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}' \
    "http://127.0.0.1:$port/v1/setup/deb-1")
[ "$code" = 403 ] || fail "setup with a wrong claim answered $code, not 403"

# The device agent's package.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "$work"/pkg/owb-device_*.deb >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log"; fail "apt-get install owb-device"; }
for f in /usr/bin/owb-device /lib/systemd/system/owb-device.service /var/lib/owb-device; do
    [ -e "$f" ] || fail "$f not installed by owb-device"
done
systemd-analyze verify /lib/systemd/system/owb-server.service /lib/systemd/system/owb-device.service \
    >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "systemd-analyze verify"; }
echo "1 passed, 0 failed"
