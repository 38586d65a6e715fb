# Scenarios for the Wi-Fi test VM (sourced by guest.sh).
scenario_boot() {
    kmod mac80211_hwsim radios=2
    iw dev
    ip netns add x
    ip netns list
}
scenario_cleanup() {
    for ns in $(ip netns list | awk '{print $1}'); do ip netns pids "$ns" | xargs -r kill -9; ip netns del "$ns"; done
    rmmod mac80211_hwsim 2>/dev/null || true
}
