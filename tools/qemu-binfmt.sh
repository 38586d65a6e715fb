#!/usr/bin/env bash
# Lets this machine run mipsel binaries directly, as the omega2 tests need:
# the test programs start owb-device and helper programs themselves, so
# wrapping only the test command in qemu (CMAKE_CROSSCOMPILING_EMULATOR) is
# not enough. Registers Debian's qemu-user-static handler with binfmt_misc,
# as systemd-binfmt does at boot on a machine that runs systemd. Root only;
# a no-op when already registered. QEMU_CPU=24KEc (set by the omega2 test
# preset) then makes every mipsel process run on the Omega2's CPU model.
set -euo pipefail
conf=/usr/lib/binfmt.d/qemu-mipsel.conf
dir=/proc/sys/fs/binfmt_misc
[ -f "$conf" ] || { echo "qemu-binfmt: $conf missing (apt-get install qemu-user-static)" >&2; exit 1; }
if [ ! -e "$dir/register" ]; then
    mount -t binfmt_misc binfmt_misc "$dir"
fi
if [ ! -e "$dir/qemu-mipsel" ]; then
    grep -v '^#' "$conf" | head -1 >"$dir/register"
fi
[ -e "$dir/qemu-mipsel" ] && echo "qemu-binfmt: mipsel binaries run through $(sed -n 's/^interpreter //p' "$dir/qemu-mipsel")"
