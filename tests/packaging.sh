#!/usr/bin/env bash
# Checks the packaging that cannot be built here: the OpenWRT scripts with
# ShellCheck (busybox ash is close to dash), the systemd unit with
# systemd-analyze verify (ExecStart pointed at the built binary).
set -euo pipefail
src=$1 server_bin=$2
fail=0
# From the source tree, following the scripts' `. tools/port-of.sh`.
(cd "$src" && shellcheck -x packaging/openwrt/files/owb-device.init \
    packaging/openwrt/files/owb-state packaging/openwrt/files/owb-setup-button.hotplug \
    tools/*.sh bench/*.sh tests/factory_reset.sh) || fail=1
# The Wi-Fi VM's scripts: warnings and errors (they quote only what may hold spaces).
(cd "$src" && shellcheck -x -S warning tests/wifi/*.sh) || fail=1
if command -v systemd-analyze >/dev/null; then
    tmp=$(mktemp -d)
    sed "s|/usr/bin/owb-server|$server_bin|" "$src/packaging/systemd/owb-server.service" \
        >"$tmp/owb-server.service"
    out=$(systemd-analyze verify "$tmp/owb-server.service" 2>&1) || fail=1
    [ -z "$out" ] || { echo "$out"; fail=1; }
    rm -rf "$tmp"
else
    echo "systemd-analyze not installed: unit not verified"
fi
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
