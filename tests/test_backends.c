/* The uci, wpa_supplicant and nmcli backends against fake tools that log
 * their exact argument vectors: hostile SSIDs and PSKs (quotes, $(...),
 * backslashes, spaces, 32-byte UTF-8) must arrive byte for byte, and the
 * files written must say exactly what is meant. */
#include "test_support.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "owb/fileio.h"
#include "owb/json.h"
#include "owb/mem.h"

/* 32 bytes: 10 x "é" (2 bytes each) + 12 ASCII. */
#define SSID32                                                                                     \
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 $(x) \"q\\ " \
    "zz"
#define HOSTILE_PSK " pa\"ss $(reboot) `id` \\n\\ "
/* wpa_passphrase (wpa_supplicant 2.10) for HOSTILE_PSK on SSID32, and for
 * the setup AP of test_wpa_supplicant. */
#define HOSTILE_PSK_HEX "047e5e569be5ef1621a3faa8079a91d175f1c4d0074df9e311d710692d1b9028"
#define AP_PSK_HEX "9196d67970f05d96e5e713c3142afced9ff5c4893e65981e693926dec124d914"

static char *dir, bin[4096], fake_dir[4096], log_path[4096];

static int setup(void **state)
{
    (void)state;
    if (owb_init() != OWB_OK)
        return -1;
    dir = t_tmpdir();
    snprintf(bin, sizeof bin, "%s/bin", dir);
    snprintf(fake_dir, sizeof fake_dir, "%s/fake", dir);
    snprintf(log_path, sizeof log_path, "%s/calls.jsonl", dir);
    mkdir(bin, 0700);
    mkdir(fake_dir, 0700);
    const char *tools[] = {"uci",   "wifi", "ubus",   "iwinfo", "wpa_cli",
                           "nmcli", "ip",   "udhcpc", "udhcpd"};
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        char link[4096];
        snprintf(link, sizeof link, "%s/%s", bin, tools[i]);
        if (symlink(OWB_FAKE_TOOL_BIN, link) != 0)
            return -1;
    }
    setenv("OWB_FAKE_DIR", fake_dir, 1);
    setenv("OWB_FAKE_LOG", log_path, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    t_rmtree(dir);
    free(dir);
    return 0;
}

static void fake(const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", fake_dir, name);
    if (!text)
        unlink(path);
    else
        assert_int_equal(owb_file_write_atomic(path, text, strlen(text), 0600, 0), OWB_OK);
}

static bool with_dhcp; /* wpa_supplicant: run the DHCP programs (fakes) */

static struct owb_backend *make(const char *name)
{
    static char wpa[4096], wpa_ap[4096], nm[4096], run[4096];
    struct owb_backend_config cfg = {.tool_dir = bin,
                                     .timeout_ms = 5000,
                                     .command = "apply-to-file",
                                     .iface = "wlan0",
                                     .ap_iface = "wlan1",
                                     .uci_sta = "sta",
                                     .uci_ap = "ap",
                                     .uci_net = "wwan",
                                     .ap_address = "192.168.3.1/24",
                                     .dhcp_client = with_dhcp ? "udhcpc" : "none",
                                     .dhcp_server = with_dhcp ? "udhcpd" : "none"};
    struct owb_backend *b = NULL;
    char diag[OWB_DIAG_SIZE];

    snprintf(wpa, sizeof wpa, "%s/wpa.conf", dir);
    snprintf(wpa_ap, sizeof wpa_ap, "%s/wpa-ap.conf", dir);
    snprintf(nm, sizeof nm, "%s/nm", dir);
    mkdir(nm, 0700);
    cfg.wpa_config = wpa;
    cfg.wpa_ap_config = wpa_ap;
    cfg.nm_dir = nm;
    snprintf(run, sizeof run, "%s/run", dir);
    cfg.run_dir = run;
    unlink(log_path);
    assert_int_equal(owb_backend_create(name, &cfg, &b, diag), OWB_OK);
    return b;
}

/* The logged calls, each as its argv joined with " | ". */
static size_t calls(char out[][512], size_t max)
{
    size_t len = 0, n = 0;
    struct stat st;
    if (stat(log_path, &st) != 0)
        return 0;
    char *text = t_read_file(log_path, &len);
    for (char *line = strtok(text, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line), *a;
        out[n][0] = '\0';
        cJSON_ArrayForEach(a, cJSON_GetObjectItem(o, "argv"))
        {
            if (out[n][0])
                strcat(out[n], " | ");
            strcat(out[n], a->valuestring);
        }
        n++;
        cJSON_Delete(o);
    }
    free(text);
    return n;
}

static void expect_calls(const char *const *want, size_t n_want)
{
    char got[64][512];
    size_t n = calls(got, 64);
    for (size_t i = 0; i < n && i < n_want; i++)
        if (strcmp(got[i], want[i]) != 0)
            fail_msg("call %zu:\n got  %s\n want %s", i, got[i], want[i]);
    assert_int_equal(n, n_want);
}

static struct owb_wifi hostile(enum owb_security sec, const char *psk)
{
    struct owb_wifi w = {0};
    strcpy(w.ssid, SSID32);
    w.ssid_len = strlen(SSID32);
    w.security = sec;
    strcpy(w.psk, psk);
    assert_int_equal(w.ssid_len, 32);
    assert_int_equal(owb_wifi_check(&w), OWB_OK);
    return w;
}

static void test_uci(void **state)
{
    (void)state;
    struct owb_backend *b = make("uci");
    struct owb_wifi w = hostile(OWB_SEC_WPA2_PSK, HOSTILE_PSK);
    fake("uci.state", "wireless.sta.ssid=OldNet\nwireless.sta.encryption=psk2\n"
                      "wireless.sta.key=old secret\n");

    assert_int_equal(b->ops->apply(b, &w, "kitchen"), OWB_OK);
    const char *want[] = {
        "uci | -q | get | wireless.sta.ssid",
        "uci | -q | get | wireless.sta.encryption",
        "uci | -q | get | wireless.sta.key",
        "uci | -q | get | wireless.sta.hidden",
        "uci | -q | get | wireless.sta.disabled",
        ("uci | set | wireless.sta.ssid=" SSID32),
        "uci | set | wireless.sta.encryption=psk2",
        ("uci | set | wireless.sta.key=" HOSTILE_PSK),
        "uci | set | wireless.sta.hidden=0",
        "uci | set | wireless.sta.disabled=0",
        "uci | set | system.@system[0].hostname=kitchen",
        "uci | commit | system",
        "uci | commit | wireless",
        "wifi | reload",
    };
    expect_calls(want, sizeof want / sizeof want[0]);

    /* Joined: ubus says up with an address. */
    fake("ubus.status.out", "{\"up\":false}");
    assert_int_equal(b->ops->check(b, false), OWB_JOIN_PENDING);
    assert_int_equal(b->ops->check(b, true), OWB_JOIN_WRONG_PASSWORD);
    fake("ubus.status.out", "{\"up\":true,\"ipv4-address\":[]}");
    assert_int_equal(b->ops->check(b, true), OWB_JOIN_NO_IP);
    fake("ubus.status.out",
         "{\"up\":true,\"ipv4-address\":[{\"address\":\"10.1.2.3\",\"mask\":24}]}");
    assert_int_equal(b->ops->check(b, false), OWB_JOIN_OK);

    /* Rollback puts every old value back and removes the ones that were absent. */
    unlink(log_path);
    assert_int_equal(b->ops->rollback(b), OWB_OK);
    char path[4096];
    snprintf(path, sizeof path, "%s/uci.state", fake_dir);
    char *st = t_read_file(path, NULL);
    assert_non_null(strstr(st, "wireless.sta.ssid=OldNet\n"));
    assert_non_null(strstr(st, "wireless.sta.key=old secret\n"));
    assert_null(strstr(st, "hidden"));
    assert_null(strstr(st, "disabled"));
    free(st);

    /* Open network: encryption none and no key. */
    w = hostile(OWB_SEC_OPEN, "");
    w.hidden = true;
    assert_int_equal(b->ops->apply(b, &w, ""), OWB_OK);
    st = t_read_file(path, NULL);
    assert_non_null(strstr(st, "wireless.sta.encryption=none\n"));
    assert_null(strstr(st, "wireless.sta.key="));
    assert_non_null(strstr(st, "wireless.sta.hidden=1\n"));
    free(st);

    unlink(log_path);
    assert_int_equal(b->ops->ap_up(b, "OWB-dev", "abcdefghijklmnopqrstuv"), OWB_OK);
    const char *want_ap[] = {"uci | set | wireless.ap.ssid=OWB-dev",
                             "uci | set | wireless.ap.encryption=psk2",
                             "uci | set | wireless.ap.key=abcdefghijklmnopqrstuv",
                             "uci | set | wireless.ap.disabled=0",
                             "uci | commit | wireless",
                             "wifi | reload"};
    expect_calls(want_ap, 6);

    fake("iwinfo.scan.out",
         "Cell 01 - Address: 00:11:22:33:44:55\n          ESSID: \"Home \"Net\"\"\n"
         "Cell 02 - Address: 00:11:22:33:44:56\n          ESSID: unknown\n"
         "Cell 03 - Address: 00:11:22:33:44:57\n          ESSID: \"Cafe\"\n");
    char ssids[OWB_SCAN_MAX][OWB_SSID_MAX + 1];
    size_t n = 0;
    assert_int_equal(b->ops->scan(b, ssids, &n), OWB_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ssids[0], "Home \"Net\"");
    assert_string_equal(ssids[1], "Cafe");
    b->ops->destroy(b);
}

static void test_wpa_supplicant(void **state)
{
    (void)state;
    struct owb_backend *b = make("wpa_supplicant");
    char path[4096], *text;
    const char *old = "ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev\nupdate_config=1\n\n"
                      "network={\n\tssid=\"old\"\n\tpsk=\"oldpassword\"\n}\n";
    struct owb_wifi w = hostile(OWB_SEC_WPA2_PSK, HOSTILE_PSK);

    snprintf(path, sizeof path, "%s/wpa.conf", dir);
    assert_int_equal(owb_file_write_atomic(path, old, strlen(old), 0600, 0), OWB_OK);
    assert_int_equal(b->ops->apply(b, &w, "ignored"), OWB_OK);
    text = t_read_file(path, NULL);
    assert_string_equal(
        text, "ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev\nupdate_config=1\n\n"
              "network={\n\tssid=c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a920242878292022715c207a7a\n"
              "\tkey_mgmt=WPA-PSK\n\tpsk=" HOSTILE_PSK_HEX "\n}\n");
    free(text);
    struct stat st;
    stat(path, &st);
    assert_int_equal(st.st_mode & 0777, 0600);
    const char *want[] = {"wpa_cli | -i | wlan0 | reconfigure"};
    expect_calls(want, 1);

    fake("wpa_cli.status.out",
         "bssid=00:11:22:33:44:55\nwpa_state=COMPLETED\nip_address=10.0.0.9\n");
    assert_int_equal(b->ops->check(b, false), OWB_JOIN_OK);
    fake("wpa_cli.status.out", "wpa_state=COMPLETED\n");
    assert_int_equal(b->ops->check(b, true), OWB_JOIN_NO_IP);
    fake("wpa_cli.status.out", "wpa_state=4WAY_HANDSHAKE\n");
    assert_int_equal(b->ops->check(b, false), OWB_JOIN_PENDING);
    assert_int_equal(b->ops->check(b, true), OWB_JOIN_WRONG_PASSWORD);

    assert_int_equal(b->ops->rollback(b), OWB_OK);
    text = t_read_file(path, NULL);
    assert_string_equal(text, old);
    free(text);

    /* 64-hex PSK bare; SAE with sae_password; open with NONE; hidden scans. */
    w = hostile(OWB_SEC_WPA2_PSK,
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_int_equal(b->ops->apply(b, &w, ""), OWB_OK);
    text = t_read_file(path, NULL);
    assert_non_null(
        strstr(text, "\tpsk=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"));
    free(text);
    w = hostile(OWB_SEC_WPA3_SAE, "sae secret");
    w.hidden = true;
    assert_int_equal(b->ops->apply(b, &w, ""), OWB_OK);
    text = t_read_file(path, NULL);
    /* The passphrase's bytes in hex: nothing in it is ever quoted. */
    assert_non_null(strstr(
        text,
        "\tscan_ssid=1\n\tkey_mgmt=SAE\n\tieee80211w=2\n\tsae_password=73616520736563726574\n"));
    free(text);
    /* Rollback after a second apply restores what the second replaced. */
    assert_int_equal(b->ops->rollback(b), OWB_OK);
    text = t_read_file(path, NULL);
    assert_non_null(strstr(text, "\tpsk=0123456789abcdef"));
    free(text);

    /* No config at all before: rollback removes ours. */
    unlink(path);
    w = hostile(OWB_SEC_OPEN, "");
    assert_int_equal(b->ops->apply(b, &w, ""), OWB_OK);
    text = t_read_file(path, NULL);
    assert_non_null(strstr(text, "ctrl_interface=/var/run/wpa_supplicant\n"));
    assert_non_null(strstr(text, "\tkey_mgmt=NONE\n"));
    free(text);
    assert_int_equal(b->ops->rollback(b), OWB_OK);
    assert_int_not_equal(access(path, F_OK), 0);

    unlink(log_path);
    assert_int_equal(b->ops->ap_up(b, "OWB-dev", "abcdefghijklmnopqrstuv"), OWB_OK);
    snprintf(path, sizeof path, "%s/wpa-ap.conf", dir);
    text = t_read_file(path, NULL);
    assert_non_null(strstr(text, "\tssid=4f57422d646576\n\tmode=2\n"));
    assert_non_null(strstr(text, "\tpsk=" AP_PSK_HEX "\n"));
    free(text);
    const char *want_ap[] = {"wpa_cli | -i | wlan1 | reconfigure"};
    expect_calls(want_ap, 1);
    assert_int_equal(b->ops->ap_down(b), OWB_OK);
    text = t_read_file(path, NULL);
    assert_null(strstr(text, "network={"));
    free(text);

    fake("wpa_cli.scan_results.out",
         "bssid / frequency / signal level / flags / ssid\n"
         "00:11:22:33:44:55\t2412\t-40\t[WPA2-PSK-CCMP][ESS]\tHome Net\n"
         "00:11:22:33:44:56\t2437\t-70\t[ESS]\tOpen Cafe\n");
    char ssids[OWB_SCAN_MAX][OWB_SSID_MAX + 1];
    size_t n = 0;
    assert_int_equal(b->ops->scan(b, ssids, &n), OWB_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ssids[0], "Home Net");
    assert_string_equal(ssids[1], "Open Cafe");

    /* wpa_cli exits 0 but wpa_supplicant refused the config: a failure. */
    fake("wpa_cli.reconfigure.out", "FAIL\n");
    w = hostile(OWB_SEC_WPA2_PSK, "12345678");
    assert_int_equal(b->ops->apply(b, &w, ""), OWB_ERR_IO);
    fake("wpa_cli.reconfigure.out", NULL);
    b->ops->destroy(b);
}

static void test_nmcli(void **state)
{
    (void)state;
    struct owb_backend *b = make("nmcli");
    char path[4096], *text;
    struct owb_wifi w = hostile(OWB_SEC_WPA2_PSK, HOSTILE_PSK);

    snprintf(path, sizeof path, "%s/nm/owb-premises.nmconnection", dir);
    unlink(path);
    assert_int_equal(b->ops->apply(b, &w, "kitchen"), OWB_OK);
    text = t_read_file(path, NULL);
    assert_string_equal(
        text,
        "[connection]\nid=owb-premises\ntype=wifi\ninterface-name=wlan0\nautoconnect=true\n\n"
        "[wifi]\nmode=infrastructure\nssid=195;169;195;169;195;169;195;169;195;169;195;169;"
        "195;169;195;169;195;169;195;169;32;36;40;120;41;32;34;113;92;32;122;122;\n\n"
        "[wifi-security]\nkey-mgmt=wpa-psk\npsk=\\spa\"ss\\s$(reboot)\\s`id`\\s\\\\n\\\\\\s\n\n"
        "[ipv4]\nmethod=auto\n\n[ipv6]\nmethod=auto\n");
    free(text);
    struct stat st;
    stat(path, &st);
    assert_int_equal(st.st_mode & 0777, 0600);
    const char *want[] = {"nmcli | general | hostname | kitchen", "nmcli | connection | reload",
                          "nmcli | --wait | 3 | connection | up | id | owb-premises"};
    expect_calls(want, 3);

    fake("nmcli.owb-premises.out", "activated\n10.0.0.7/24\n");
    assert_int_equal(b->ops->check(b, false), OWB_JOIN_OK);
    fake("nmcli.owb-premises.out", "activating\n\n");
    assert_int_equal(b->ops->check(b, false), OWB_JOIN_PENDING);
    fake("nmcli.owb-premises.out", "activated\n\n");
    assert_int_equal(b->ops->check(b, true), OWB_JOIN_NO_IP);

    /* No keyfile before: rollback takes ours away. */
    unlink(log_path);
    assert_int_equal(b->ops->rollback(b), OWB_OK);
    assert_int_not_equal(access(path, F_OK), 0);
    const char *want_rb[] = {"nmcli | connection | down | id | owb-premises",
                             "nmcli | connection | reload"};
    expect_calls(want_rb, 2);

    unlink(log_path);
    assert_int_equal(b->ops->ap_up(b, "OWB-dev", "abcdefghijklmnopqrstuv"), OWB_OK);
    snprintf(path, sizeof path, "%s/nm/owb-setup-ap.nmconnection", dir);
    text = t_read_file(path, NULL);
    assert_non_null(strstr(text, "mode=ap\nssid=79;87;66;45;100;101;118;\nband=bg\nchannel=6\n"));
    assert_non_null(strstr(text, "[ipv4]\nmethod=shared\naddress1=192.168.3.1/24\n"));
    free(text);

    fake("nmcli.yes.out", "Home\\:Net\nCafe\n\nCafe\n");
    char ssids[OWB_SCAN_MAX][OWB_SSID_MAX + 1];
    size_t n = 0;
    assert_int_equal(b->ops->scan(b, ssids, &n), OWB_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ssids[0], "Home:Net");
    assert_string_equal(ssids[1], "Cafe");
    b->ops->destroy(b);
}

/* What NetworkManager says when it gives up on an activation, on stderr in
 * the C locale, decides the reason (real messages of NetworkManager 1.42). */
static void test_nmcli_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *out, *exit;
        enum owb_join want;
    } v[] = {
        {"Error: Connection activation failed: Secrets were required, but not provided\n", "4",
         OWB_JOIN_WRONG_PASSWORD},
        {"Error: Connection activation failed: The Wi-Fi network could not be found\n", "4",
         OWB_JOIN_NETWORK_NOT_FOUND},
        {"Error: Timeout expired (3 seconds)\n", "3", OWB_JOIN_PENDING},
    };
    struct owb_wifi w = hostile(OWB_SEC_WPA2_PSK, HOSTILE_PSK);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct owb_backend *b = make("nmcli");
        fake("nmcli.owb-premises.out", v[i].out);
        fake("nmcli.owb-premises.exit", v[i].exit);
        assert_int_equal(b->ops->apply(b, &w, ""), OWB_OK);
        fake("nmcli.owb-premises.out", NULL);
        fake("nmcli.owb-premises.exit", NULL);
        assert_int_equal(b->ops->check(b, false), v[i].want);
        b->ops->destroy(b);
    }
    /* Anything else is an apply that failed. */
    struct owb_backend *b = make("nmcli");
    fake("nmcli.owb-premises.out", "Error: unknown connection 'owb-premises'.\n");
    fake("nmcli.owb-premises.exit", "10");
    assert_int_equal(b->ops->apply(b, &w, ""), OWB_ERR_IO);
    fake("nmcli.owb-premises.out", NULL);
    fake("nmcli.owb-premises.exit", NULL);
    b->ops->destroy(b);
}

/* Waits (bounded) until a call starting with prefix is logged: daemons
 * log from their own process, whenever they get to run. */
static bool wait_call(const char *prefix)
{
    char got[64][512];
    for (int i = 0; i < 500; i++) {
        size_t n = calls(got, 64);
        for (size_t k = 0; k < n; k++)
            if (strncmp(got[k], prefix, strlen(prefix)) == 0)
                return true;
        usleep(10 * 1000);
    }
    return false;
}

static bool exists_in_fake(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", fake_dir, name);
    return access(path, F_OK) == 0;
}

/* The station's DHCP client after each change of network, the setup AP's
 * address and DHCP server, and both stopped with SIGTERM even though the
 * agent runs with SIGTERM blocked. */
static void test_wpa_dhcp(void **state)
{
    (void)state;
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    with_dhcp = true;
    fake("udhcpd.any.sleep", "30");
    char path[4096], *text;
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s.terminated", fake_dir, i ? "udhcpd" : "udhcpc");
        unlink(path);
    }
    struct owb_backend *b = make("wpa_supplicant");
    struct owb_wifi w = hostile(OWB_SEC_WPA2_PSK, "12345678");

    assert_int_equal(b->ops->apply(b, &w, "kitchen-sensor"), OWB_OK);
    const char *want[] = {"wpa_cli | -i | wlan0 | reconfigure",
                          "ip | -4 | addr | flush | dev | wlan0"};
    char got[64][512];
    assert_true(calls(got, 64) >= 2);
    assert_string_equal(got[0], want[0]);
    assert_string_equal(got[1], want[1]);
    assert_true(wait_call(
        "udhcpc | -f | -i | wlan0 | -t | 3 | -T | 1 | -A | 1 | -x | hostname:kitchen-sensor"));

    /* Joined at the radio but no address yet, and the client has exited
     * (this fake exits at once): started again. */
    fake("wpa_cli.status.out", "wpa_state=COMPLETED\n");
    fake("udhcpc.any.sleep", "30");
    unlink(log_path);
    /* The exit may take a moment to be seen: look again, within a bound. */
    bool restarted = false;
    for (int i = 0; i < 300 && !restarted; i++) {
        assert_int_equal(b->ops->check(b, false), OWB_JOIN_PENDING);
        restarted = calls(got, 64) > 3;
        usleep(10 * 1000);
    }
    assert_true(wait_call("udhcpc | -f | -i | wlan0"));
    /* A failed handshake: wrong password at once. */
    fake("wpa_cli.status.out", "wpa_state=SCANNING\n");
    fake("wpa_cli.list_networks.out",
         "network id / ssid / bssid / flags\n0\tx\tany\t[TEMP-DISABLED]\n");
    assert_int_equal(b->ops->check(b, false), OWB_JOIN_WRONG_PASSWORD);
    fake("wpa_cli.list_networks.out", NULL);

    unlink(log_path);
    assert_int_equal(b->ops->ap_up(b, "OWB-dev", "abcdefghijklmnopqrstuv"), OWB_OK);
    assert_true(calls(got, 64) >= 2);
    assert_string_equal(got[0], "ip | addr | replace | 192.168.3.1/24 | dev | wlan1");
    assert_string_equal(got[1], "wpa_cli | -i | wlan1 | reconfigure");
    snprintf(path, sizeof path, "%s/run/udhcpd.conf", dir);
    char want_d[4200];
    snprintf(want_d, sizeof want_d, "udhcpd | -f | %s", path);
    assert_true(wait_call(want_d));
    text = t_read_file(path, NULL);
    assert_non_null(strstr(text, "interface wlan1\nstart 192.168.3.100\nend 192.168.3.199\n"));
    assert_null(strstr(text, "router"));
    free(text);

    b->ops->destroy(b);
    assert_true(exists_in_fake("udhcpc.terminated"));
    assert_true(exists_in_fake("udhcpd.terminated"));
    fake("udhcpc.any.sleep", NULL);
    fake("udhcpd.any.sleep", NULL);
    fake("wpa_cli.status.out", NULL);
    with_dhcp = false;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* SSIDs as wpa_cli scan_results prints them (wpa_supplicant's
 * printf_encode), decoded to their bytes. */
static void test_wpa_unescape(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } ok[] = {
        {"Office A", "Office A"},
        {"Caf\\xc3\\xa9 \\\"q\\\" \\\\", "Caf\xc3\xa9 \"q\" \\"},
        {"\\e\\n\\r\\t\\x7F", "\033\n\r\t\x7f"},
        {"\\xC3\\xA9\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9\\xc3\\xa"
         "9\\xc3\\xa9abcdefghijkl",
         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
         "abcdefghijkl"},
    };
    const char *bad[] = {"x\\", "\\x4", "\\xg0", "\\q", "0123456789abcdef0123456789abcdefX"};
    char out[OWB_SSID_MAX + 1];
    size_t n;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_true(owb_wpa_unescape(ok[i].in, strlen(ok[i].in), out, &n));
        assert_int_equal(n, strlen(ok[i].want));
        assert_memory_equal(out, ok[i].want, n);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(owb_wpa_unescape(bad[i], strlen(bad[i]), out, &n));
}

static void test_ap_address_rules(void **state)
{
    (void)state;
    struct in_addr net;
    assert_int_equal(owb_backend_ap_net("192.168.3.1/24", &net), OWB_OK);
    assert_int_equal(ntohl(net.s_addr), 0xc0a80300u);
    assert_int_equal(owb_backend_ap_net("10.1.2.254/24", &net), OWB_OK);
    const char *bad[] = {"192.168.3.1",      "192.168.3.1/16", "192.168.3.150/24", "192.168.3.0/24",
                         "192.168.3.255/24", "x/24",           "192.168.3.1/24 ",  ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(owb_backend_ap_net(bad[i], &net), OWB_ERR_INVALID_ARG);
}

static void test_unknown_backend(void **state)
{
    (void)state;
    struct owb_backend_config cfg = {0};
    struct owb_backend *b = NULL;
    char diag[OWB_DIAG_SIZE];
    assert_int_equal(owb_backend_create("netplan", &cfg, &b, diag), OWB_ERR_INVALID_ARG);
    assert_non_null(strstr(diag, "unknown Wi-Fi backend"));
    assert_int_equal(owb_backend_create("command", &cfg, &b, diag), OWB_ERR_INVALID_ARG);
    assert_non_null(strstr(diag, "--wifi-command"));
}

/* Every backend here runs the setup AP next to the station (uci: the AP
 * and apcli0 on one radio; wpa_supplicant and nmcli: a second interface),
 * so the agent keeps the AP up through the check-in (docs/device.md). */
static void test_ap_with_station(void **state)
{
    (void)state;
    const char *names[] = {"uci", "wpa_supplicant", "nmcli", "command"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct owb_backend *b = make(names[i]);
        assert_true(b->ops->ap_with_station);
        b->ops->destroy(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uci),
        cmocka_unit_test(test_wpa_supplicant),
        cmocka_unit_test(test_wpa_dhcp),
        cmocka_unit_test(test_nmcli_refusals),
        cmocka_unit_test(test_ap_address_rules),
        cmocka_unit_test(test_wpa_unescape),
        cmocka_unit_test(test_nmcli),
        cmocka_unit_test(test_unknown_backend),
        cmocka_unit_test(test_ap_with_station),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
