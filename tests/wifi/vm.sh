#!/usr/bin/env bash
# Boots the Wi-Fi test VM and runs scenarios in it:
#   tests/wifi/vm.sh BUILD_DIR SCENARIO...     (tests/wifi/scenarios.sh names them)
# The VM: Debian's kernel (the package linux-image-amd64 depends on, fetched
# with apt-get download and unpacked into a cache, never installed), a
# busybox initramfs that mounts this machine's own / read-only over 9p and
# switch_roots into it, mac80211_hwsim radios, no network device at all
# (-nic none). Inside, scenarios run the binaries of BUILD_DIR and Debian's
# hostapd, wpa_supplicant, NetworkManager and udhcpc/udhcpd as installed
# here (tools/install-deps.sh wifi).
# Exit: 0 every scenario passed, 1 one failed, 77 this machine cannot run
# the VM (reported as skipped by ctest, never as passed).
# OWB_WIFI_KEEP=DIR keeps the guest's logs in DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: vm.sh BUILD_DIR SCENARIO...}" && pwd)
shift
[ $# -gt 0 ] || { echo "usage: vm.sh BUILD_DIR SCENARIO..." >&2; exit 2; }
cache=${OWB_DEPS_CACHE:-$HOME/.cache/owb-deps}/wifi-vm
recipe=3   # bump to rebuild the cached kernel tree and initramfs

skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "the VM shares / with the guest as root: run as root"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (tools/install-deps.sh wifi)"
for t in hostapd wpa_supplicant iw udhcpc udhcpd NetworkManager dbus-daemon; do
    command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || [ -x "/sbin/$t" ] ||
        skip "$t not installed (tools/install-deps.sh wifi)"
done
# Not grep -q: it would leave at the first match and, under pipefail, the
# SIGPIPE busybox then gets would read as "not installed".
[ -x /bin/busybox ] && /bin/busybox --list | grep -x switch_root >/dev/null ||
    skip "busybox-static not installed (tools/install-deps.sh wifi)"

# --- the kernel, its modules and the initramfs, cached per kernel version
prepare() {
    local pkg kver dir tmp
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$pkg" ]; then
        # No package lists here (apt-get update never ran): a cached kernel will do.
        dir=$(ls -d "$cache"/*/ 2>/dev/null | tail -n 1)
        [ -n "$dir" ] && [ "$(cat "$dir/.done" 2>/dev/null)" = "$recipe" ] ||
            { echo "vm.sh: apt-cache does not know linux-image-amd64 (run apt-get update)" >&2; return 1; }
        pkg=linux-image-$(basename "$dir")
    fi
    kver=${pkg#linux-image-}
    dir=$cache/$kver
    if [ "$(cat "$dir/.done" 2>/dev/null)" != "$recipe" ]; then
        echo "vm.sh: preparing kernel $kver in $dir" >&2
        rm -rf "$dir"
        tmp=$(mktemp -d)
        (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
            { echo "vm.sh: apt-get download $pkg failed" >&2; rm -rf "$tmp"; return 1; }
        mkdir -p "$dir"
        dpkg-deb -x "$tmp"/*.deb "$dir/root"
        rm -rf "$tmp"
        # Only what a VM without disks, sound or graphics can load.
        rm -rf "$dir/root/lib/modules/$kver/kernel/"{sound,drivers/gpu,drivers/media,drivers/infiniband,drivers/scsi,drivers/staging,drivers/net/ethernet}
        depmod -b "$dir/root" "$kver"
        make_initramfs "$dir" "$kver"
        echo "$recipe" >"$dir/.done"
    fi
    kdir=$dir
    KVER=$kver
}

make_initramfs() {
    local dir=$1 kver=$2 ir m
    ir=$(mktemp -d)
    mkdir -p "$ir"/{bin,proc,sys,dev,modules}
    cp /bin/busybox "$ir/bin/busybox"
    ln -s busybox "$ir/bin/sh"
    cp "$here/initramfs-init" "$ir/init"
    chmod 755 "$ir/init"
    # virtio-pci and 9p for the root; virtio-rng so getrandom() does not stall.
    : >"$ir/modules.order"
    for m in virtio_pci 9pnet_virtio 9p virtio_rng; do
        modprobe -d "$dir/root" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
    done | awk '!seen[$0]++' | while read -r m; do
        cp "$m" "$ir/modules/"
        basename "$m" >>"$ir/modules.order"
    done
    (cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir/initramfs.gz"
    rm -rf "$ir"
}

prepare || exit 1

out=$(mktemp -d "${TMPDIR:-/tmp}/owb-wifi-XXXXXX")
chmod 755 "$out"
cleanup() { if [ -n "${OWB_WIFI_KEEP:-}" ]; then mkdir -p "$OWB_WIFI_KEEP"; cp -r "$out/." "$OWB_WIFI_KEEP/"; fi; rm -rf "$out"; }
trap cleanup EXIT

# KVM only where it works (a nested KVM guest can hang at boot): TCG otherwise.
accel=tcg,thread=multi
if [ "${OWB_WIFI_KVM:-0}" = 1 ] && [ -w /dev/kvm ]; then accel=kvm; fi
scen=$(IFS=,; echo "$*")
budget=${OWB_WIFI_TIMEOUT:-1500}
echo "vm.sh: kernel $KVER, accel $accel, scenarios: $*" >&2
start=$(date +%s)
timeout -k 10 "$budget" qemu-system-x86_64 \
    -machine q35 -accel "$accel" -smp 2 -m 1536 -nographic -no-reboot -nic none \
    -kernel "$kdir/root/boot/vmlinuz-$KVER" -initrd "$kdir/initramfs.gz" \
    -append "console=ttyS0 loglevel=3 panic=-1 owb.stage=$here/guest.sh owb.kroot=$kdir/root owb.kver=$KVER owb.src=$src owb.build=$build owb.scen=$scen" \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
    -virtfs "local,path=$out,mount_tag=out,security_model=none" \
    -device virtio-rng-pci </dev/null >"$out/console.log" 2>&1 || true
echo "vm.sh: the VM ran $(( $(date +%s) - start )) s" >&2

if [ ! -s "$out/results" ]; then
    echo "vm.sh: the VM produced no results; its console:" >&2
    tail -n 60 "$out/console.log" >&2
    exit 1
fi
cat "$out/results"
[ ! -s "$out/metrics" ] || cat "$out/metrics"
fail=0
for s in "$@"; do
    if ! grep -q "^ok $s\b" "$out/results"; then
        fail=1
        echo "---- $s: its log" >&2
        tail -n 80 "$out/$s.log" >&2 2>/dev/null || true
        for f in dev_device.log dev_nm.log dev1_device.log dev2_device.log dev3_device.log dev4_device.log; do
            [ -s "$out/$s.files/$f" ] || continue
            echo "---- $s: $f" >&2
            tail -n 40 "$out/$s.files/$f" >&2
        done
    fi
done
if [ "$fail" = 0 ] && grep -q '^ok ' "$out/results"; then
    echo "$(grep -c '^ok ' "$out/results") passed, 0 failed"
    exit 0
fi
echo "$(grep -c '^ok ' "$out/results") passed, $(grep -c '^FAIL ' "$out/results") failed"
exit 1
