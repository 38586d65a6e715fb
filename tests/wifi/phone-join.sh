#!/bin/bash
# The phone joins the device's setup AP: phone-join.sh SSID PASSPHRASE.
# owb-demo-client runs it (--join-ap) between the server's answer and the
# hand-off, in the phone's namespace: wpa_supplicant, then udhcpc for an
# address from the device's DHCP server.
set -eu
ssid=$1 pass=$2 d=/tmp/w/phone
mkdir -p $d
hexssid=$(printf '%s' "$ssid" | od -An -tx1 -v | tr -d ' \n')
printf 'ctrl_interface=/run/phone-wpa\nnetwork={\n\tssid=%s\n\tpsk=%s\n}\n' \
    "$hexssid" "$(wpa_passphrase "$ssid" "$pass" | sed -n 's/^\tpsk=//p')" >$d/wpa.conf
wpa_supplicant -B -i wlan0 -c $d/wpa.conf -P $d/wpa.pid
for _ in $(seq 1 300); do
    wpa_cli -p /run/phone-wpa -i wlan0 status 2>/dev/null | grep -q '^wpa_state=COMPLETED' && break
    sleep 0.2
done
wpa_cli -p /run/phone-wpa -i wlan0 status | grep -q '^wpa_state=COMPLETED' || { echo "phone: not associated"; exit 1; }
udhcpc -i wlan0 -n -q -t 20 -T 1 >$d/udhcpc.log 2>&1 || { echo "phone: no address"; cat $d/udhcpc.log; exit 1; }
ip -4 -o addr show dev wlan0
