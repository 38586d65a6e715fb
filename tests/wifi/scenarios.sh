# shellcheck shell=bash
# Scenarios of the Wi-Fi test VM, sourced by guest.sh (bash, on this
# machine's own root, inside a VM with no network device). Each
# scenario_NAME runs in its own subshell under `set -eu` and builds its
# own world: radios moved into network namespaces, one per role, so every
# frame between roles crosses the simulated radio.
#   prem   the premises: hostapd for networks A and B, their DHCP, owb-server
#   (root) the device: wpa_supplicant (or NetworkManager) and owb-device,
#          in the VM's own namespace, where udev sees its radios (without
#          udev NetworkManager leaves a Wi-Fi device unmanaged)
#   phone  the phone: wpa_supplicant, udhcpc, owb-demo-client; a veth to
#          prem stands for its mobile data
#   other  a network with no way to the server
# Addresses exist only inside these namespaces.
# What each asserts is what a person would see: the device's /v1/status,
# the server's session, what the stations report.

B=$BUILD
W=/tmp/w
SERVER=http://192.168.50.1:8080
DEVICE_URL=http://192.168.3.1
HOSTILE_SSID=$(printf 'Caf\xc3\xa9 \xe2\x98\x95 \xc3\x9cn\xc3\xafc\xc3\xb8d\xc3\xa9 32 byte!!!')
# Leading and trailing spaces, ", #, \, $(...), =, ;
HOSTILE_PSK=' a"b#c\d $(x) =;" '

say() { echo "[$(cut -d' ' -f1 /proc/uptime)] $*"; }
die() { echo "FAIL: $*"; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wait_for WHAT SECONDS CMD...: CMD every 0.2 s until it succeeds, at most
# SECONDS; a state is waited for, never a fixed time.
wait_for() {
    local what=$1 secs=$2 end
    shift 2
    end=$(( $(now_ms) + secs * 1000 ))
    until "$@"; do
        [ "$(now_ms)" -lt "$end" ] || { echo "timed out after ${secs} s waiting for: $what"; return 1; }
        sleep 0.2
    done
}

# metric NAME MS: a number for docs/performance.md, collected by vm.sh.
metric() { echo "metric $1 $2" >>"$OUT/metrics"; say "metric $1 = $2 ms"; }

hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }

# --- the world -----------------------------------------------------------
give() { # give NS PHY NAME: the radio and its interface into NS
    local ns=$1 phy=$2 name=$3 dev
    dev=$(ls "/sys/class/ieee80211/$phy/device/net/")
    iw phy "$phy" set netns name "$ns"
    ip -n "$ns" link set "$dev" name "$name"
    ip -n "$ns" link set "$name" up
}

own() { # own PHY NAME: the device's radio stays here, renamed
    local dev
    dev=$(ls "/sys/class/ieee80211/$1/device/net/")
    ip link set "$dev" down
    [ "$dev" = "$2" ] || ip link set "$dev" name "$2"
    ip link set "$2" up
}

# world [FLEET]: the six radios every scenario has; FLEET more devices
# (scenario_fleet) get two radios each, a station staN and a setup AP apN,
# in a namespace devN of their own.
world() {
    local phys fleet=${1:-0} i radios
    radios=$(( 6 + 2 * fleet ))
    kmod mac80211_hwsim radios=$radios
    mapfile -t phys < <(ls /sys/class/ieee80211 | sort -V)
    [ "${#phys[@]}" -eq "$radios" ] || die "expected $radios radios, got ${#phys[@]}"
    for ns in prem phone other; do ip netns add $ns; ip -n $ns link set lo up; done
    give prem "${phys[0]}" wlan0
    give prem "${phys[1]}" wlan1
    own "${phys[2]}" wlan0
    own "${phys[3]}" wlan1
    give phone "${phys[4]}" wlan0
    give other "${phys[5]}" wlan0
    for (( i = 1; i <= fleet; i++ )); do
        ip netns add "dev$i"
        ip -n "dev$i" link set lo up
        give "dev$i" "${phys[4 + 2 * i]}" "sta$i"
        give "dev$i" "${phys[5 + 2 * i]}" "ap$i"
    done
    ip link add mob0 netns phone type veth peer name mob1 netns prem
    ip -n phone addr add 172.30.0.2/24 dev mob0
    ip -n prem addr add 172.30.0.1/24 dev mob1
    ip -n phone link set mob0 up
    ip -n prem link set mob1 up
    ip -n phone route add 192.168.50.0/24 via 172.30.0.1
    mkdir -p $W
    say "world ready"
}

# ap NS IFACE NAME SUBNET SSID SECURITY PASS [hidden]: a premises access
# point (hostapd) with its DHCP server (udhcpd), as a router would have.
ap() {
    local ns=$1 ifc=$2 name=$3 net=$4 ssid=$5 sec=$6 pass=$7 hidden=${8:-}
    local d=$W/ap-$name
    mkdir -p "$d"
    {
        echo "interface=$ifc"
        echo "driver=nl80211"
        echo "ctrl_interface=/run/hostapd-$name"
        echo "hw_mode=g"
        echo "channel=6"
        echo "ssid2=$(hex "$ssid")"
        [ -z "$hidden" ] || echo "ignore_broadcast_ssid=1"
        case "$sec" in
        wpa2-psk)
            echo "wpa=2"; echo "wpa_key_mgmt=WPA-PSK"; echo "rsn_pairwise=CCMP"
            if [ ${#pass} = 64 ]; then echo "wpa_psk=$pass"; else echo "wpa_passphrase=$pass"; fi ;;
        wpa3-sae)
            echo "wpa=2"; echo "wpa_key_mgmt=SAE"; echo "rsn_pairwise=CCMP"
            echo "ieee80211w=2"; echo "sae_password=$pass" ;;
        open) ;;
        esac
    } >"$d/hostapd.conf"
    ip -n "$ns" addr replace "$net.1/24" dev "$ifc"
    ip netns exec "$ns" hostapd -B -P "$d/hostapd.pid" "$d/hostapd.conf" >"$d/hostapd.log"
    printf 'interface %s\nstart %s.100\nend %s.150\nlease_file %s/leases\npidfile %s/udhcpd.pid\noption subnet 255.255.255.0\noption router %s.1\noption lease 600\n' \
        "$ifc" "$net" "$net" "$d" "$d" "$net" >"$d/udhcpd.conf"
    ip netns exec "$ns" udhcpd "$d/udhcpd.conf"
    wait_for "AP $name enabled" 20 ap_enabled "$name"
}
ap_enabled() { hostapd_cli -p "/run/hostapd-$1" status 2>/dev/null | grep -q '^state=ENABLED'; }
ap_stop() { kill "$(cat "$W/ap-$1/hostapd.pid")"; wait_for "AP $1 gone" 10 ap_gone "$1"; }
ap_gone() { ! hostapd_cli -p "/run/hostapd-$1" ping >/dev/null 2>&1; }

# --- the server ----------------------------------------------------------
# (prem must hold 192.168.50.1: every scenario raises network A there.)
export OWB_DB=$W/srv/owb.db OWB_MASTER_KEY_FILE=$W/srv/master.key
server() { # the server in prem, with network "office" (A) and an installer token
    local ssid=$1 sec=$2 pass=$3 hidden=${4:-}
    mkdir -p $W/srv
    $B/server/owb-server init >/dev/null
    net_add office "$ssid" "$sec" "$pass" "$hidden"
    TOKEN=$($B/server/owb-server token create --label vm 2>/dev/null)
    ip netns exec prem $B/server/owb-server serve --listen 0.0.0.0:8080 --public-url "$SERVER" \
        --rate-limit 0 ${HEARTBEAT:+--heartbeat "$HEARTBEAT"} >$W/srv/server.log 2>&1 &
    wait_for "owb-server" 20 ip netns exec phone curl -fs --max-time 3 -o /dev/null "$SERVER/healthz"
    say "server ready"
}
net_add() { # NAME SSID SECURITY PASS [hidden]: the PSK from a file, byte for byte
    local args=(network add "$1" --ssid "$2" --security "$3")
    [ -z "${5:-}" ] || args+=(--hidden)
    if [ "$3" != open ]; then
        printf '%s' "$4" >$W/srv/psk
        args+=(--psk-file "$W/srv/psk")
    fi
    $B/server/owb-server "${args[@]}" >/dev/null
}

# --- the device ------------------------------------------------------------
# Which device the helpers below mean: by default the one in the VM's own
# namespace (wlan0, wlan1, $W/dev); use_dev N switches to fleet device N.
DEV_NS='' DEV_DIR=$W/dev STA=wlan0 APIF=wlan1
use_dev() { DEV_NS=dev$1 DEV_DIR=$W/dev$1 STA=sta$1 APIF=ap$1; }
in_dev() { if [ -n "$DEV_NS" ]; then ip netns exec "$DEV_NS" "$@"; else "$@"; fi; }

# device SUITE BACKEND: mints and imports a device, starts its Wi-Fi stack
# the way docs/device.md says, then owb-device; waits for its setup AP.
device() {
    local suite=${1:-sym} backend=${2:-wpa_supplicant} d=$DEV_DIR
    local -a suite_args=() wifi_args=() ns=()
    [ -z "$DEV_NS" ] || ns=(ip netns exec "$DEV_NS")
    mkdir -p "$d"
    mkdir -m 700 "$d/state" "$d/factory"
    if [ "$suite" = pk ]; then
        $B/server/owb-server signing-key public >$d/server.pub
        suite_args=(--suite pk --server-public-key "$d/server.pub")
    fi
    $B/tools/owb-mint device --prefix vm- --server "$SERVER" --out-dir $d/factory \
        "${suite_args[@]}" >$d/mint.txt
    ID=$(awk '/^id:/ {print $2}' $d/mint.txt)
    CLAIM=$(sed -n 's/.*#c=\([0-9A-Z]*\).*/\1/p' $d/mint.txt)
    AP_SSID="OWB-$ID"
    $B/server/owb-server device import $d/factory/records.jsonl >/dev/null
    $B/server/owb-server device assign "$ID" --network office >/dev/null
    case "$backend" in
    wpa_supplicant)
        mkdir -p $d/etc
        # docs/device.md: one wpa_supplicant per interface, a config file each.
        printf 'ctrl_interface=/run/wpa_supplicant\nupdate_config=0\n' >$d/etc/wpa_supplicant.conf
        printf 'ctrl_interface=/run/wpa_supplicant\nupdate_config=0\n' >$d/etc/owb-setup-ap.conf
        # (Fleet devices: their interface names keep the control sockets,
        # /run/wpa_supplicant/IFACE, apart; the file system is shared.)
        "${ns[@]}" wpa_supplicant -B -i "$STA" -c $d/etc/wpa_supplicant.conf -P $d/wpa0.pid
        "${ns[@]}" wpa_supplicant -B -i "$APIF" -c $d/etc/owb-setup-ap.conf -P $d/wpa1.pid
        wifi_args=(--wifi-backend wpa_supplicant --wpa-config "$d/etc/wpa_supplicant.conf"
                   --wpa-ap-config "$d/etc/owb-setup-ap.conf" --run-dir "$d/run")
        ;;
    nmcli)
        nm_start
        wifi_args=(--wifi-backend nmcli --nm-dir /etc/NetworkManager/system-connections)
        ;;
    esac
    "${ns[@]}" $B/device/owb-device --key-file "$d/factory/$ID.key" --state-dir $d/state \
        --iface "$STA" --ap-iface "$APIF" "${wifi_args[@]}" \
        --join-timeout "${JOIN_TIMEOUT:-40}" --checkin-timeout "${CHECKIN_TIMEOUT:-30}" \
        ${HEARTBEAT:+--heartbeat "$HEARTBEAT"} >$d/device.log 2>&1 &
    echo $! >$d/device.pid
    wait_for "the device's setup AP" 60 phone_sees "$AP_SSID"
    say "device $ID: setup AP seen by the phone"
}
device_pid() { cat $W/dev/device.pid; }

status() { in_dev curl -fsS --max-time 5 "$DEVICE_URL/v1/status"; }
state_is() { status 2>/dev/null | grep -q "\"state\":\"$1\""; }
device_ip() { in_dev ip -4 -o addr show dev "$STA" | awk '{print $4}'; }
has_ip_in() { device_ip | grep -q "^$1\."; }
reaches_server() { in_dev curl -fs --max-time 3 -o /dev/null "$SERVER/healthz"; }
setup_ap_up() { timeout 10 wpa_cli -i "$APIF" status 2>/dev/null | grep -q '^mode=AP'; }

# --- the phone -------------------------------------------------------------
phone_sees() { # the phone's radio sees SSID (iw scans without a supplicant)
    # iw waits for the scan's end; a scan the kernel never reports as done
    # or aborted would hold wait_for (and the VM) past every bound.
    timeout 20 ip netns exec phone iw dev wlan0 scan 2>/dev/null | grep -qF "SSID: $1"
}
phone_reset() { # leaves whatever network the phone joined
    local p=$W/phone/wpa.pid
    if [ -f $p ]; then
        kill "$(cat $p)" 2>/dev/null || true
        wait_for "phone supplicant gone" 10 phone_wpa_gone
        rm -f $p
    fi
    ip -n phone -4 addr flush dev wlan0
}
phone_wpa_gone() { ! timeout 10 wpa_cli -p /run/phone-wpa -i wlan0 ping >/dev/null 2>&1; }

# provision MODE [app options...]: the phone's part as a person goes through
# it: the setup page, the device's setup AP, the hand-off; then, still on
# the setup AP, it follows the device's /v1/status to the outcome as the
# hand-off page does (owb-demo-client in the background: PHONE_PID, its
# output in $W/phone.out). Sets SESSION and T202 (ms, the device's 202).
provision() {
    local mode=$1
    shift
    local -a args=(--server "$SERVER" --device-url "$DEVICE_URL" --id "$ID" --claim "$CLAIM"
                   --join-ap "$SRC/tests/wifi/phone-join.sh" --timeout 240)
    if [ "$mode" = server ]; then args+=(--mode server --token "$TOKEN"); else args+=(--mode app "$@"); fi
    phone_reset
    ip netns exec phone $B/tools/owb-demo-client "${args[@]}" >$W/phone.out 2>&1 &
    PHONE_PID=$!
    wait_for "the device's 202" 120 phone_handed_off
    grep -q '^session:' $W/phone.out || { cat $W/phone.out; die "the phone's part failed"; }
    T202=$(now_ms)
    cat $W/phone.out
    say "device answered 202"
    SESSION=$(awk '/^session:/ {print $2}' $W/phone.out)
}
phone_handed_off() { grep -q '^session:' $W/phone.out || phone_done; }
phone_done() { grep -q '^outcome:' $W/phone.out || ! kill -0 "$PHONE_PID" 2>/dev/null; }
session_online() { ip netns exec phone curl -fs --max-time 5 "$SERVER/v1/sessions/$SESSION" | grep -q '"state":"online"'; }

# phone_outcome WANT: the phone's owb-demo-client has ended with "outcome:
# WANT" (exit 0 for online, 1 for a failure); prints the states it read.
phone_outcome() {
    local want=$1 rc=0 want_rc=1
    wait_for "the phone's outcome" 300 phone_done
    wait "$PHONE_PID" || rc=$?
    say "the phone read: $(sed -n 's/^\[device\] state: //p' $W/phone.out | tr '\n' ' ')"
    [ "$want" != online ] || want_rc=0
    grep -qxF "outcome: $want" $W/phone.out && [ "$rc" = "$want_rc" ] ||
        { cat $W/phone.out; die "the phone did not learn \"$want\" (exit $rc)"; }
}
last_state_read() { sed -n 's/^\[device\] state: //p' $W/phone.out | tail -n 1; }

# expect_online NAME: the session turns online, the device has an address
# on network A, and its check-in came over the radio. The phone, on the
# setup AP until the end, read the device checking in or joined and ended
# at joined (checked in); the setup AP goes down after that.
expect_online() {
    local name=$1 net=${2:-192.168.50} ip
    wait_for "session online" 90 session_online
    metric "online_$name" $(( $(now_ms) - T202 ))
    # Under NetworkManager the agent's address goes with the setup AP: then
    # its log says what /v1/status would.
    state_is joined || grep -q '^owb-device: provisioned with bundle' "$DEV_DIR/device.log" ||
        { status; die "device not in state joined"; }
    has_ip_in "$net" || die "device has no address in $net.0/24: $(device_ip)"
    ip=$(device_ip | head -n 1)
    grep -qF "owb-server: ${ip%/*} POST /v1/devices/{id}/checkin 200" $W/srv/server.log ||
        die "no check-in from the device's address ${ip%/*} in the server log"
    phone_outcome online
    [ "$(last_state_read)" = joined ] || die "the phone's last state read is not joined"
    wait_for "the setup AP down" 30 setup_ap_down
}
setup_ap_down() { ! setup_ap_up; }

# expect_failed REASON NAME: state failed with REASON, the setup AP back;
# the phone, on the setup AP all along, read failed with REASON.
expect_failed() {
    local reason=$1 name=$2
    wait_for "state failed" 120 state_is failed
    metric "failed_$name" $(( $(now_ms) - T202 ))
    status | grep -q "\"reason\":\"$reason\"" || { status; die "reason is not $reason"; }
    wait_for "setup AP back" 30 setup_ap_up
    say "status: $(status)"
    phone_outcome "failed ($reason)"
    [ "$(last_state_read)" = failed ] || die "the phone's last state read is not failed"
}
visible_has() { status | grep -qF "$(printf '%s' "$1" | sed 's/"/\\"/g')"; }

# --- NetworkManager --------------------------------------------------------
nm_start() {
    # udev (NetworkManager manages only devices udev has seen) and a system
    # bus; then NetworkManager with its keyfile directory on tmpfs.
    mkdir -p /run/udev /run/dbus
    [ -e /run/dbus/system_bus_socket ] || dbus-daemon --system --fork
    pgrep -x systemd-udevd >/dev/null || /lib/systemd/systemd-udevd --daemon
    udevadm trigger --action=add --subsystem-match=net
    udevadm settle -t 10
    NetworkManager --no-daemon --debug --log-level=INFO >$W/dev/nm.log 2>&1 &
    wait_for "NetworkManager running" 30 nmcli -t general status
    wait_for "wlan0 and wlan1 managed" 30 sh -c \
        '[ "$(nmcli -t -f DEVICE,STATE device | grep -c "^wlan[01]:disconnected")" = 2 ]'
}

gone() { # gone NAME...: none of these processes left (killed again if so)
    local n left=0
    for n in "$@"; do
        pkill -9 -x "$n" 2>/dev/null || true
        ! pgrep -x "$n" >/dev/null || left=1
    done
    return $left
}

scenario_cleanup() {
    local ns
    # NetworkManager first: it would have D-Bus start another wpa_supplicant.
    # dbus-daemon and udevd stay for the next scenario.
    pkill -9 -x NetworkManager 2>/dev/null || true
    for ns in $(ip netns list | awk '{print $1}'); do
        ip netns pids "$ns" | xargs -r kill -9 2>/dev/null
        ip netns del "$ns"
    done
    wait_for "the scenario's processes gone" 20 \
        gone owb-device NetworkManager wpa_supplicant udhcpc udhcpd hostapd dnsmasq
    wait_for "mac80211_hwsim unloaded" 20 sh -c 'rmmod mac80211_hwsim 2>/dev/null; [ ! -d /sys/module/mac80211_hwsim ]'
    rm -rf $W /run/wpa_supplicant /run/phone-wpa /run/hostapd-* /run/owb /run/NetworkManager
    rm -rf /var/lib/NetworkManager/* /etc/NetworkManager/system-connections/*
}

# === scenarios ===============================================================

# WPA2, server-sealed with an installer token, symmetric suite.
scenario_wpa2_server() {
    world
    ap prem wlan0 A 192.168.50 "Office A" wpa2-psk "office-pass-1"
    server "Office A" wpa2-psk "office-pass-1"
    device sym
    provision server
    expect_online wpa2_server
    status
}

# WPA2, app-sealed: the phone seals the password; the server never sees it.
scenario_wpa2_app() {
    world
    ap prem wlan0 A 192.168.50 "Home A" wpa2-psk "home-pass-12"
    server "Office Z" wpa2-psk "unused-pass"
    device sym
    provision app --ssid "Home A" --psk "home-pass-12"
    expect_online wpa2_app
}

# The public-key suite, server-sealed.
scenario_pk_server() {
    world
    ap prem wlan0 A 192.168.50 "Office A" wpa2-psk "office-pass-1"
    server "Office A" wpa2-psk "office-pass-1"
    device pk
    provision server
    expect_online pk_server
}

# WPA3-SAE premises.
scenario_sae() {
    world
    ap prem wlan0 A 192.168.50 "Office SAE" wpa3-sae "sae-pass-123"
    server "Office SAE" wpa3-sae "sae-pass-123"
    device sym
    provision server
    expect_online sae
}

# A hidden SSID: found only by probing for it by name.
scenario_hidden() {
    world
    ap prem wlan0 A 192.168.50 "Back Office" wpa2-psk "hidden-pass-1" hidden
    server "Back Office" wpa2-psk "hidden-pass-1" hidden
    device sym
    provision server
    expect_online hidden
}

# An open network, app-sealed.
scenario_open() {
    world
    ap prem wlan0 A 192.168.50 "Free Cafe" open ""
    server "Office Z" wpa2-psk "unused-pass"
    device sym
    provision app --ssid "Free Cafe" --security open
    expect_online open
}

# A 64-hex PSK instead of a passphrase.
scenario_hex_psk() {
    local psk=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    world
    ap prem wlan0 A 192.168.50 "Office Hex" wpa2-psk "$psk"
    server "Office Hex" wpa2-psk "$psk"
    device sym
    provision server
    expect_online hex_psk
}

# Hostile but valid: a 32-byte UTF-8 SSID and a passphrase with leading and
# trailing spaces, ", #, \, $(...), =, ; must reach the supplicant unchanged.
scenario_hostile() {
    [ "$(printf '%s' "$HOSTILE_SSID" | wc -c)" = 32 ] || die "the hostile SSID is not 32 bytes"
    world
    ap prem wlan0 A 192.168.50 "$HOSTILE_SSID" wpa2-psk "$HOSTILE_PSK"
    server "$HOSTILE_SSID" wpa2-psk "$HOSTILE_PSK"
    device sym
    provision server
    expect_online hostile
    # wpa_cli prints it escaped (\xc3\xa9...): the person sees the real name.
    visible_has "$HOSTILE_SSID" || { status; die "visible_networks lacks the UTF-8 SSID"; }
}

# The same bytes over WPA3-SAE, sealed by the phone.
scenario_hostile_sae() {
    world
    ap prem wlan0 A 192.168.50 "$HOSTILE_SSID" wpa3-sae "$HOSTILE_PSK"
    server "Office Z" wpa2-psk "unused-pass"
    device sym
    provision app --ssid "$HOSTILE_SSID" --psk "$HOSTILE_PSK" --security wpa3-sae
    expect_online hostile_sae
}

# A wrong password: wrong_password, the previous settings back, the setup
# AP still there for the phone, the premises network in visible_networks
# and the device's own setup AP not.
scenario_wrong_password() {
    world
    ap prem wlan0 A 192.168.50 "Office A" wpa2-psk "the-right-pass"
    server "Office A" wpa2-psk "a-wrong-pass!"
    device sym
    cp $W/dev/etc/wpa_supplicant.conf $W/before.conf
    provision server
    expect_failed wrong_password wrong_password
    cmp $W/before.conf $W/dev/etc/wpa_supplicant.conf || die "the previous settings are not back"
    visible_has "Office A" || die "visible_networks lacks Office A"
    ! visible_has "$AP_SSID" || die "visible_networks lists the device's own setup AP"
    wait_for "the phone reaches the device again" 60 phone_reaches_device
}
phone_reaches_device() { ip netns exec phone curl -fs --max-time 3 -o /dev/null "$DEVICE_URL/v1/status"; }

# The network is absent: network_not_found, with what the device does see.
scenario_not_found() {
    world
    ap prem wlan0 A 192.168.50 "Office A" wpa2-psk "office-pass-1"
    server "Nowhere Net" wpa2-psk "office-pass-1"
    JOIN_TIMEOUT=20 device sym
    provision server
    expect_failed network_not_found not_found
    visible_has "Office A" || die "visible_networks lacks Office A"
}

# Joined, but the server cannot be reached from there: server_unreachable,
# rolled back, the setup AP up throughout. The phone, which never left the
# setup AP, read checking_in and then failed with server_unreachable.
scenario_server_unreachable() {
    world
    ap prem wlan0 A 192.168.50 "Office A" wpa2-psk "office-pass-1"
    ap other wlan0 C 192.168.70 "Isolated C" wpa2-psk "isolated-pass"
    server "Isolated C" wpa2-psk "isolated-pass"
    CHECKIN_TIMEOUT=10 device sym
    cp $W/dev/etc/wpa_supplicant.conf $W/before.conf
    provision server
    expect_failed server_unreachable server_unreachable
    grep -qx 'checking_in' <(sed -n 's/^\[device\] state: //p' $W/phone.out) ||
        die "the phone never read checking_in"
    ! grep -q '^owb-device: setup AP down' $W/dev/device.log || die "the setup AP went down"
    cmp $W/before.conf $W/dev/etc/wpa_supplicant.conf || die "the previous settings are not back"
}

# A device online on A; the setup button (SIGUSR1); the phone hands it a
# bundle for network B, whose password on the server is PASS_B.
online_on_a_then_b() {
    local pass_b=$1 name=$2
    world
    ap prem wlan0 A 192.168.50 "Office A" wpa2-psk "office-pass-1"
    ap prem wlan1 B 192.168.51 "Office B" wpa2-psk "office-b-right"
    server "Office A" wpa2-psk "office-pass-1"
    net_add bnet "Office B" wpa2-psk "$pass_b"
    device sym
    provision server
    expect_online "${name}_first"
    kill -USR1 "$(device_pid)"
    wait_for "setup AP up again" 30 setup_ap_up
    wait_for "the phone sees the setup AP" 60 phone_sees "$AP_SSID"
    $B/server/owb-server device assign "$ID" --network bnet >/dev/null
    provision server
}

# B's password is wrong: back on A, still reaching the server.
scenario_rollback() {
    online_on_a_then_b "office-b-WRONG" rollback
    expect_failed wrong_password rollback
    grep -q "ssid=$(hex "Office A")" $W/dev/etc/wpa_supplicant.conf || die "network A's settings are not back"
    wait_for "an address on A again" 60 has_ip_in 192.168.50
    wait_for "the server reached over A" 30 reaches_server
}

# Re-provisioning: moved from A to B through the button.
scenario_reprovision() {
    online_on_a_then_b "office-b-right" reprovision
    expect_online reprovision 192.168.51
}

# NetworkManager (nmcli backend): WPA2, server-sealed.
scenario_nm_wpa2() {
    world
    ap prem wlan0 A 192.168.50 "Office A" wpa2-psk "office-pass-1"
    server "Office A" wpa2-psk "office-pass-1"
    device sym nmcli
    provision server
    expect_online nm_wpa2
}

# NetworkManager: the hostile SSID and passphrase through a keyfile.
scenario_nm_hostile() {
    world
    ap prem wlan0 A 192.168.50 "$HOSTILE_SSID" wpa2-psk "$HOSTILE_PSK"
    server "$HOSTILE_SSID" wpa2-psk "$HOSTILE_PSK"
    device sym nmcli
    provision server
    expect_online nm_hostile
}

# NetworkManager: a wrong password.
scenario_nm_wrong_password() {
    world
    ap prem wlan0 A 192.168.50 "Office A" wpa2-psk "the-right-pass"
    server "Office A" wpa2-psk "a-wrong-pass!"
    device sym nmcli
    provision server
    expect_failed wrong_password nm_wrong_password
    visible_has "Office A" || die "visible_networks lacks Office A"
    wait_for "the phone reaches the device again" 60 phone_reaches_device
}

# --- the fleet (issue 20): heartbeats and rollouts over the air --------------
srv() { $B/server/owb-server "$@"; }
# rollout_line RID ID: the device's line in `rollout status RID`.
rollout_line() { srv rollout status "$1" | grep -F "  $2 "; }
rollout_says() { rollout_line "$1" "$2" | grep -qF "$3"; }
# all_say RID TEXT N...: every fleet device N's line in the rollout says TEXT.
all_say() {
    local rid=$1 text=$2 n
    shift 2
    for n in "$@"; do rollout_says "$rid" "${FLEET_ID[$n]}" "$text" || return 1; done
}
heard_online() { srv device list --heard online | grep -qF "${FLEET_ID[$1]} "; }
all_heard_online() { local n; for n in "$@"; do heard_online "$n" || return 1; done; }
# on_a N: fleet device N is joined, has an address on A and reaches the server.
on_a() { use_dev "$1"; state_is joined && has_ip_in 192.168.50 && reaches_server; }
all_on_a() { local n; for n in "$@"; do on_a "$n" || return 1; done; }
# ap_repass NAME PASS: the access point restarted with another passphrase,
# as an administrator changes a router's password (its DHCP server stays).
ap_repass() {
    local d=$W/ap-$1
    ap_stop "$1"
    sed -i "s/^wpa_passphrase=.*/wpa_passphrase=$2/" "$d/hostapd.conf"
    ip netns exec prem hostapd -B -P "$d/hostapd.pid" "$d/hostapd.conf" >>"$d/hostapd.log"
    wait_for "AP $1 enabled" 20 ap_enabled "$1"
}
# fleet_start N: fleet device N minted, imported, its agent started (its
# setup AP up); fleet_setup N: then set up the usual way, through the phone.
fleet_start() {
    use_dev "$1"
    device sym
    FLEET_ID[$1]=$ID FLEET_CLAIM[$1]=$CLAIM
}
fleet_setup() {
    use_dev "$1"
    ID=${FLEET_ID[$1]} CLAIM=${FLEET_CLAIM[$1]} AP_SSID="OWB-${FLEET_ID[$1]}"
    provision server
    expect_online "fleet_setup_$1"
}
rollout_id() { sed -n 's/^rollout \([0-9]*\) started.*/\1/p'; }

# The fleet takes 330-430 s under TCG: its own bound (guest.sh reads it
# by name).
# shellcheck disable=SC2034
SCENARIO_BOUND_fleet=700

# Three devices online on A; `network update` publishes a new password
# before the access point has it: the devices get it at their next
# heartbeat, fail to join (wrong_password), roll back to A and keep
# beating. Then A's hostapd restarts with the new password: all three move
# by themselves. A fourth, assigned to a network no access point in reach
# broadcasts, rolls back and says network_not_found. Each device is a real
# owb-device with the wpa_supplicant backend in a namespace of its own
# (a station radio and a setup-AP radio each); what is asserted is what an
# administrator sees (the server's CLI) and each device's /v1/status.
scenario_fleet() {
    local -a FLEET_ID=() FLEET_CLAIM=() out
    local rid rid2 t0 n
    export HEARTBEAT=6
    world 4
    ap prem wlan0 A 192.168.50 "Office A" wpa2-psk "office-pass-1"
    server "Office A" wpa2-psk "office-pass-1"
    # Started together (their setup APs come up side by side), set up one
    # after the other by the one phone.
    for n in 1 2 3; do fleet_start $n; done
    for n in 1 2 3; do fleet_setup $n; done
    wait_for "three devices heard online" 60 all_heard_online 1 2 3
    srv device list --heard online

    # The rollout is published before the access point changes.
    printf '%s' "office-pass-2" >$W/srv/psk2
    srv network update office --psk-file $W/srv/psk2 | tee $W/update.out
    rid=$(rollout_id <$W/update.out)
    [ -n "$rid" ] || die "network update started no rollout"
    t0=$(now_ms)
    wait_for "all three failed: wrong_password" 180 all_say "$rid" "failed: wrong_password" 1 2 3
    metric fleet_early_failed $(( $(now_ms) - t0 ))
    srv rollout status "$rid"
    # Rolled back to A, still working: joined, an address on A, the
    # server reached, heard. Each on its own: a device tries the held
    # settings again after heartbeats 1, 3, 7, 15... after the first try,
    # off A for each, so the three are seldom all on A at one instant.
    for n in 1 2 3; do
        wait_for "device $n back on A" 120 on_a $n
        say "device $n: $(status)"
        wait_for "device $n heard online after its failures" 60 heard_online $n
    done

    # Now the access point gets the new password: nobody touches a device.
    ap_repass A "office-pass-2"
    t0=$(now_ms)
    wait_for "all three applied" 240 all_say "$rid" applied 1 2 3
    metric fleet_moved $(( $(now_ms) - t0 ))
    srv rollout status "$rid" | tee $W/rollout.out
    grep -q "^rollout $rid: .* applied=3$" $W/rollout.out || die "the rollout does not count three applied"
    wait_for "all three on A' (joined, an address, the server reached)" 60 all_on_a 1 2 3
    for n in 1 2 3; do
        use_dev $n
        # The device runs the rollout's bundle: its counter is the one sent.
        mapfile -t out < <(rollout_line "$rid" "${FLEET_ID[$n]}" | sed -n 's/.* counter=\([0-9]*\) .*/\1/p')
        status | grep -qE "\"counter\":${out[0]},\"running\":${out[0]}[,}]" ||
            { status; die "device $n does not run bundle ${out[0]}"; }
        grep -q "wpa_state=COMPLETED" < <(timeout 10 wpa_cli -i "$STA" status) || die "device $n not associated"
    done
    wait_for "all three heard online on A'" 60 all_heard_online 1 2 3
    srv device list --heard online

    # A fourth device, set up on A' through the phone, then assigned to a
    # network whose SSID nothing in its reach broadcasts.
    JOIN_TIMEOUT=15 fleet_start 4
    fleet_setup 4
    net_add ghost "Nowhere Net" wpa2-psk "ghost-pass-1"
    srv device assign "${FLEET_ID[4]}" --network ghost | tee $W/assign.out
    rid2=$(rollout_id <$W/assign.out)
    [ -n "$rid2" ] || die "device assign started no rollout"
    t0=$(now_ms)
    wait_for "the fourth failed: network_not_found" 180 \
        rollout_says "$rid2" "${FLEET_ID[4]}" "failed: network_not_found (retrying)"
    metric fleet_not_found $(( $(now_ms) - t0 ))
    srv rollout status "$rid2"
    wait_for "the fourth back on A'" 120 on_a 4
    wait_for "the fourth heard online" 60 heard_online 4
    # What `device show` says of it: heard online over A', running its
    # setup's bundle, the new one held and why it does not run.
    wait_for "device show: online, network_not_found" 60 shows_not_found "${FLEET_ID[4]}"
    cat $W/show.out
    use_dev 4
    status | grep -q "\"running\":$(setup_counter)," || { status; die "device 4 does not run its setup's bundle"; }
    say "device 4: $(status)"
}
# The counter of the device's setup bundle (`device show` lists it among
# its sessions): counters come from the clock, not 1, 2, ...
setup_counter() { sed -n 's/^ *counter=\([0-9]*\) *mode=server-sealed .*/\1/p' $W/show.out | head -n 1; }
shows_not_found() {
    srv device show "$1" >$W/show.out &&
        grep -q '^heartbeat: *online, last .* from 192\.168\.50\.' $W/show.out &&
        grep -q "^running: *$(setup_counter)\$" $W/show.out &&
        grep -q '^held: .*not running: network_not_found' $W/show.out
}
