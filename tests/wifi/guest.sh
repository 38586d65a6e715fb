#!/bin/bash
# Stage 2 of the Wi-Fi test VM (after switch_root, on this machine's own
# root, read-only): writable places on tmpfs, the Wi-Fi modules, then each
# scenario named on the kernel command line, each in its own subshell with
# a time bound of its own. Results go to the "out" 9p share; then the VM powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LC_ALL=C
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    owb.kroot=*) KROOT=${arg#*=} ;;
    owb.kver=*) KVER=${arg#*=} ;;
    owb.src=*) SRC=${arg#*=} ;;
    owb.build=*) BUILD=${arg#*=} ;;
    owb.scen=*) SCEN=${arg#*=} ;;
    esac
done
export KROOT KVER SRC BUILD
OUT=/run/out
mkdir -p $OUT /dev/pts /dev/shm
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out $OUT
mount -t devpts devpts /dev/pts
ln -sf /proc/self/fd /dev/fd; ln -sf fd/0 /dev/stdin; ln -sf fd/1 /dev/stdout; ln -sf fd/2 /dev/stderr
mount -t tmpfs tmpfs /dev/shm
# Places the daemons write to, on tmpfs over the read-only root.
for d in /var/lib /var/log /var/tmp /var/cache /etc/NetworkManager/system-connections \
         /etc/wpa_supplicant /etc/netns; do
    [ -d "$d" ] || continue
    mount -t tmpfs tmpfs "$d"
done
mkdir -p /var/lib/NetworkManager /var/lib/dbus /var/lib/misc /run/dbus /run/netns
ip link set lo up
kmod() { modprobe -d "$KROOT" -S "$KVER" "$@"; }
# CCMP/GCMP/BIP need these; without them hostapd fails with "key addition failed".
for m in ccm ctr gcm cmac ghash_generic veth; do kmod "$m" || echo "guest: modprobe $m failed"; done
echo "guest: up after $(cut -d' ' -f1 /proc/uptime) s" >>$OUT/console-guest.log

# shellcheck source=tests/wifi/scenarios.sh
. "$SRC/tests/wifi/scenarios.sh"
# Each scenario in a process group of its own (job control), so that one
# that hangs can be stopped, with the guest's processes written to its log
# first (what it was waiting for), and the rest still run: the VM's budget
# would otherwise take them all with it and leave no trace. The bound is
# SCENARIO_BOUND_<name> (scenarios.sh) or 240 s.
set -m
IFS=, read -r -a list <<<"$SCEN"
for s in "${list[@]}"; do
    t0=$(date +%s.%N)
    bound_var=SCENARIO_BOUND_$s
    bound=${!bound_var:-240}
    ( set -eu; "scenario_$s" ) >"$OUT/$s.log" 2>&1 </dev/null &
    pid=$!
    ( exec >/dev/null 2>&1; sleep "$bound"
      { echo "guest: $s still running after its bound of $bound s; its processes:"; ps axf; } \
          >>"$OUT/$s.log"
      kill -9 -- "-$pid" ) &
    watchdog=$!
    wait "$pid"
    rc=$?
    kill -9 -- "-$watchdog" 2>/dev/null
    wait "$watchdog" 2>/dev/null
    secs=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
    why="exit $rc"
    grep -q "still running after its bound" "$OUT/$s.log" && why="stopped at its bound of $bound s"
    if [ $rc = 0 ]; then echo "ok $s (${secs} s)"; else echo "FAIL $s ($why, ${secs} s)"; fi >>$OUT/results
    # Logs only: the keys minted in there are the test's and go nowhere.
    mkdir -p "$OUT/$s.files"
    find /tmp/w -name '*.log' -o -name '*.out' -o -name '*.conf' 2>/dev/null |
        while read -r f; do cp "$f" "$OUT/$s.files/$(echo "${f#/tmp/w/}" | tr / _)"; done
    scenario_cleanup >>"$OUT/$s.log" 2>&1
done
sync
echo o >/proc/sysrq-trigger
sleep 10
