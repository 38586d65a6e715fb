#!/usr/bin/env bash
# The Makefile's $(...) are matched literally, never expanded:
# shellcheck disable=SC2016
# An Omega2 in a temporary root: the OpenWRT package installed as its
# Makefile installs it, a blank "owb" flash partition (a regular file behind
# a /proc/mtd line), the factory step, a boot through the init script, the
# agent's counter written the way the agent writes it, then a factory reset
# (`firstboot` wipes the overlay: every file the package did not install,
# and tmpfs with the reboot) and a second boot: the real owb-device must
# start with the same key and counter. Also: damaged flash state stops the
# agent, and a write torn by a power cut leaves the old counter.
#
# The storage tools are real (fw_printenv/fw_setenv of Debian's
# libubootenv-tool; OpenWRT's uboot-envtools read the same format). Only
# what OpenWRT's own shell libraries provide is stubbed: config_load and
# config_get (reading the installed /etc/config/owb) and procd_* (recording
# the command line the init script asks procd to run).
#
# usage: factory_reset.sh SOURCE_DIR OWB_DEVICE OWB_MINT [PACKAGE_DIR]
set -euo pipefail
src=$1 device_bin=$2 mint_bin=$3
pkg=${4:-$src/packaging/openwrt}
for t in fw_printenv fw_setenv curl; do
    command -v $t >/dev/null || { echo "$t not installed (bash tools/install-deps.sh)"; exit 1; }
done
tmp=$(mktemp -d)
agent_pid=
# shellcheck disable=SC2317 # run by the trap
cleanup() {
    [ -z "$agent_pid" ] || kill "$agent_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
root=$tmp/root
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAILED: $*"; failed=$((failed + 1)); }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

# The package, as `Package/owb-device/install` installs it: its files are
# the read-only image (squashfs), which firstboot keeps.
mkdir -p "$root"
while read -r what from to; do
    case "$from" in
    '$(PKG_BUILD_DIR)/device/owb-device') from=$device_bin ;;
    ./files/*) from=$pkg/${from#./} ;;
    *) echo "unknown install source $from"; exit 1 ;;
    esac
    to=$root${to#'$(1)'}
    mkdir -p "$(dirname "$to")"
    cp "$from" "$to"
    case "$what" in
    '$(INSTALL_BIN)') chmod 755 "$to" ;;
    *) chmod 644 "$to" ;;
    esac
done < <(sed -n 's/^\t\(\$(INSTALL_[A-Z]*)\) \([^ ]*\) \([^ ]*\)$/\1 \2 \3/p' "$pkg/Makefile")
(cd "$root" && find . -type f) | sort >"$tmp/image-files"
[ -x "$root/usr/sbin/owb-device" ] || { echo "the Makefile installs no /usr/sbin/owb-device"; exit 1; }

# The flash as the kernel shows it: the Omega2's partitions and, at the end
# of the chip, the 128 KiB "owb" partition of the factory image (blank).
mkdir -p "$root/proc" "$root/dev"
cat >"$root/proc/mtd" <<'EOF'
dev:    size   erasesize  name
mtd0: 00030000 00010000 "u-boot"
mtd1: 00010000 00010000 "u-boot-env"
mtd2: 00010000 00010000 "factory"
mtd3: 00f90000 00010000 "firmware"
mtd4: 00200000 00010000 "kernel"
mtd5: 00d90000 00010000 "rootfs"
mtd6: 00b00000 00010000 "rootfs_data"
mtd7: 00020000 00010000 "owb"
EOF
flash=$root/dev/mtd7
head -c $((0x20000)) /dev/zero | tr '\0' '\377' >"$flash"

# U-Boot's fw_setenv (OpenWRT) starts a blank partition from its built-in
# default environment; libubootenv's needs one named: an empty one.
mkdir -p "$tmp/bin"
: >"$tmp/empty.env"
printf '#!/bin/sh\nexec %s -f %s "$@"\n' "$(command -v fw_setenv)" "$tmp/empty.env" >"$tmp/bin/fw_setenv"
printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/logger"
chmod 755 "$tmp/bin/fw_setenv" "$tmp/bin/logger"
export PATH="$tmp/bin:$PATH" OWB_ROOT=$root
envcfg=$tmp/fw_env.config
printf '%s 0x0 0x4000 0x10000 1\n%s 0x10000 0x4000 0x10000 1\n' "$flash" "$flash" >"$envcfg"

# The factory: a minted key, written to the device (docs/device.md).
"$mint_bin" device --server https://setup.example.com --out-dir "$tmp/factory" >/dev/null
keyfile=$(ls "$tmp"/factory/*.key)
id=$(basename "$keyfile" .key)
secret=$(sed -n 's/.*"device_key":[[:space:]]*"\([^"]*\)".*/\1/p' "$keyfile")
if [ -x "$root/usr/sbin/owb-state" ]; then
    if "$root/usr/sbin/owb-state" factory <"$keyfile" >"$tmp/factory.out" 2>&1; then
        ok "factory step stored the key"
    else
        bad "factory step: $(cat "$tmp/factory.out")"
    fi
    if "$root/usr/sbin/owb-state" factory <"$keyfile" 2>/dev/null; then
        bad "a second factory step replaced the key"
    else
        ok "a stored key is never replaced"
    fi
else
    # A package without owb-state: the key file goes where its config says.
    dest=$(sed -n "s/^[[:space:]]*option key_file '\(.*\)'/\1/p" "$root/etc/config/owb")
    mkdir -p "$root$(dirname "$dest")"
    install -m 600 "$keyfile" "$root$dest"
fi

# One boot: the init script's start_service in sh (dash, close to busybox
# ash), with the OpenWRT functions it calls stubbed and every path it uses
# inside the sandbox; it writes the agent's command line, NUL-separated, to
# $tmp/cmd (nothing when it refused).
cat >"$tmp/boot.sh" <<'EOF'
config_load() { :; }
config_get() {
	local value
	if grep -q "^[[:space:]]*option $3 " "$T_CONF"; then
		value=$(sed -n "s/^[[:space:]]*option $3 '\(.*\)'\$/\1/p" "$T_CONF")
	else
		value=$4
	fi
	# A path on the device is a path in the sandbox.
	case "$value" in /*) value=$T_ROOT$value ;; esac
	eval "$1=\$value"
}
procd_open_instance() { :; }
procd_set_param() {
	[ "$1" = command ] || return 0
	shift
	printf '%s\0' "$@" >"$T_CMD"
}
procd_close_instance() { :; }
. "$T_ROOT/etc/init.d/owb-device"
PROG=$T_PROG
STATE_TOOL=$T_ROOT/usr/sbin/owb-state
RUN_DIR=$T_ROOT/var/run/owb
start_service
EOF
boot() {
    rm -f "$tmp/cmd"
    T_CONF=$root/etc/config/owb T_CMD=$tmp/cmd T_ROOT=$root T_PROG=$device_bin \
        sh "$tmp/boot.sh" 2>"$tmp/boot.err" || true
    [ -s "$tmp/cmd" ]
}

# The value of option $1 in the recorded command line.
arg() { tr '\0' '\n' <"$tmp/cmd" | sed -n "/^$1\$/{n;p;q}"; }

# Starts the recorded command (listening on loopback, a no-op Wi-Fi
# backend); true once it logs that it listens, with its status in $status.
run_agent() {
    local cmd=() port
    mapfile -d '' cmd <"$tmp/cmd"
    "${cmd[@]}" --listen 127.0.0.1:0 --wifi-backend command --wifi-command true \
        2>"$tmp/agent.log" &
    agent_pid=$!
    for _ in $(seq 100); do
        grep -q 'listening on' "$tmp/agent.log" && break
        kill -0 "$agent_pid" 2>/dev/null || break
        sleep 0.05
    done
    port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$tmp/agent.log")
    status=
    [ -n "$port" ] && status=$(curl -s -H "Host: 127.0.0.1:$port" "http://127.0.0.1:$port/v1/status")
    kill "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
    agent_pid=
    [ -n "$port" ]
}

# Everything on the overlay and tmpfs goes; the image and the flash stay.
firstboot() {
    (cd "$root" && find . -type f ! -path './dev/*' ! -path './proc/*') | sort |
        comm -23 - "$tmp/image-files" | (cd "$root" && xargs -r rm -f)
    find "$root" -mindepth 1 -depth -type d -empty -delete
}

boot || { bad "first boot: init script refused: $(cat "$tmp/boot.err")"; finish; }
if run_agent && grep -q "$id listening.*counter 0," "$tmp/agent.log"; then
    ok "first boot: the agent runs as $id, counter 0"
else
    bad "first boot: $(cat "$tmp/agent.log")"
fi

# A bundle accepted and applied: the agent writes counter and marker to its
# state dir, each followed by its --state-hook (test_device checks that).
state_dir=$(arg --state-dir)
hook=$(arg --state-hook)
for f in counter provisioned; do
    printf '7\n' >"$state_dir/$f"
    [ -z "$hook" ] || "$hook" save "$state_dir" "$f"
done
if [ "$(fw_printenv -c "$envcfg" -n owb_counter 2>/dev/null)" = 7 ]; then
    ok "the counter is in flash"
else
    bad "the counter is not in flash"
fi

firstboot
if boot && run_agent && grep -q "$id listening.*counter 7," "$tmp/agent.log" &&
    [[ $status == *'"state":"joined"'* ]]; then
    ok "after factory reset: the same key, counter 7, provisioned"
else
    bad "after factory reset the device lost its key or counter: $(cat "$tmp/boot.err" "$tmp/agent.log")"
    finish
fi

# Secrets: the working copy of the key is 0600 on tmpfs, and no other file
# in the root but the flash holds the key.
key_copy=$(arg --key-file)
if [ "$(stat -c %a "$key_copy")" = 600 ]; then ok "key copy is mode 0600"; else bad "key copy mode"; fi
holders=$(grep -rlF "$secret" "$root" | grep -vxF -e "$flash" -e "$key_copy" || true)
if [ -z "$holders" ]; then ok "the key is nowhere else"; else bad "the key is also in: $holders"; fi

# A power cut while the counter is written: the copy being written was
# erased and only its first 64 bytes programmed. The other copy holds 7.
cp "$flash" "$tmp/before"
printf '8\n' >"$state_dir/counter"
"$hook" save "$state_dir" counter
cp "$flash" "$tmp/after"
half=0
cmp -s <(head -c 65536 "$tmp/before") <(head -c 65536 "$tmp/after") && half=65536
cp "$tmp/before" "$flash"
head -c 65536 /dev/zero | tr '\0' '\377' |
    dd of="$flash" bs=65536 seek=$((half / 65536)) conv=notrunc status=none
dd if="$tmp/after" of="$flash" bs=1 skip=$half seek=$half count=64 conv=notrunc status=none
if boot && run_agent && grep -q "counter 7," "$tmp/agent.log"; then
    ok "a torn write leaves the old counter"
else
    bad "torn write: $(cat "$tmp/boot.err" "$tmp/agent.log")"
fi
cp "$tmp/after" "$flash"
if boot && run_agent && grep -q "counter 8," "$tmp/agent.log"; then
    ok "a whole write gives the new counter"
else
    bad "whole write: $(cat "$tmp/agent.log")"
fi

# Damaged state in flash stops the agent (it fails closed, as on files).
fw_setenv -c "$envcfg" owb_counter ' -1'
if boot && ! run_agent && grep -q "damaged replay counter" "$tmp/agent.log"; then
    ok "a damaged counter in flash stops the agent"
else
    bad "damaged counter: $(cat "$tmp/agent.log")"
fi
fw_setenv -c "$envcfg" owb_counter
if boot && ! run_agent && grep -q "missing, but .*provisioned" "$tmp/agent.log"; then
    ok "a marker without a counter in flash stops the agent"
else
    bad "missing counter: $(cat "$tmp/agent.log")"
fi
head -c $((0x20000)) /dev/zero | tr '\0' '\377' >"$flash"
if ! boot && grep -q "cannot read\|no device key" "$tmp/boot.err"; then
    ok "an erased partition: the init script does not start the agent"
else
    bad "erased partition: $(cat "$tmp/boot.err")"
fi
finish
