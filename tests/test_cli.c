/* The command-line toolkit (owb/cli.h) and every command built on it:
 * values and ranges, verbs, and --help generated from the table the
 * parser reads. For each program and command, every option --help lists
 * is run through the real parser, so help and parser cannot drift apart. */
#include "test_support.h"

#include <getopt.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <pty.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "owb/cli.h"
#include "owb/fileio.h"
#include "owb/httpd.h"
#include "proc.h"

struct opts {
    const char *name;
    unsigned count, mode;
    double rate;
    bool quiet;
};

static const struct owb_opt table[] = {
    {.name = "name",
     .short_name = 'n',
     .type = OWB_OPT_STR,
     .off = offsetof(struct opts, name),
     .arg = "NAME",
     .help = "a name"},
    OWB_OPT_UINT_("count", "N", struct opts, count, 1, 10, "how many"),
    OWB_OPT_CHOICE_("mode", "full|normal|off", struct opts, mode, "the mode"),
    OWB_OPT_DOUBLE_("rate", "R", struct opts, rate, 0.5, 100, "how fast"),
    OWB_OPT_FLAG_("quiet", struct opts, quiet, "say less"),
};

static int run_verb(void *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argv;
    return argc;
}

static const struct owb_verb verbs[] = {
    {"list", "", run_verb, "list them"},
    {"show", "ID", run_verb, "show one"},
    {"assign", "ID...", run_verb, "assign some"},
};

/* Parses a NULL-terminated argv against table into o. */
static int parse(struct opts *o, int *next, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;
    const struct owb_opt_group groups[] = {{table, OWB_ARRAY_LEN(table), o}};
    const struct owb_cli cli = {
        .prog = "owb-test", .usage = "[options]", .groups = groups, .n_groups = 1};

    memset(o, 0, sizeof *o);
    argv[argc++] = "cmd";
    va_start(ap, next);
    for (char *a; (a = va_arg(ap, char *)) && argc < 15;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return owb_cli_parse(&cli, argc, argv, next);
}

static void test_values_and_ranges(void **state)
{
    struct opts o;
    int next;
    (void)state;

    assert_int_equal(parse(&o, &next, "-n", "x", "--count", "10", "--mode", "off", "--rate", "0.5",
                           "--quiet", "arg", NULL),
                     OWB_CLI_RUN);
    assert_string_equal(o.name, "x");
    assert_int_equal(o.count, 10);
    assert_int_equal(o.mode, 2);
    assert_true(o.rate == 0.5);
    assert_true(o.quiet);
    assert_int_equal(next, 10);
    /* Out of range, not a number, not a choice, unknown: usage errors. */
    const char *bad[][2] = {{"--count", "0"},  {"--count", "11"},   {"--count", "-1"},
                            {"--count", "1x"}, {"--count", ""},     {"--rate", "0.4"},
                            {"--rate", "nan"}, {"--rate", "1e3"},   {"--mode", "ful"},
                            {"--mode", ""},    {"--mode", "full|"}, {"--nope", "1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(parse(&o, &next, bad[i][0], bad[i][1], NULL), OWB_EXIT_USAGE);
    /* --help answers 0 and stops there. */
    assert_int_equal(parse(&o, &next, "--help", "--count", "0", NULL), OWB_EXIT_OK);
}

static void test_range_message(void **state)
{
    char out[1024];
    (void)state;
    char *argv[] = {OWB_SERVER_BIN, "serve", "--threads", "300", NULL};
    assert_int_equal(t_run_err(argv, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, "--threads takes a whole number from 1 to 256, not '300'"));
    char *argv2[] = {OWB_SERVER_BIN, "serve", "--sync", "off", NULL};
    assert_int_equal(t_run_err(argv2, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, "--sync takes normal or full, not 'off'"));
    char *argv3[] = {OWB_SERVER_BIN, "device", "--busy-timeout", "0", "list", NULL};
    assert_int_equal(t_run_err(argv3, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, "--busy-timeout takes a whole number from 1 to 600000"));
}

static void test_verbs(void **state)
{
    const struct owb_cli cli = {.prog = "owb-test", .verbs = verbs, .n_verbs = 3};
    char *argv[] = {"cmd", "assign", "a", "b", "c", NULL};
    const struct owb_verb *v;
    int next = 1;
    (void)state;

    v = owb_cli_verb(&cli, 5, argv, &next);
    assert_non_null(v);
    assert_int_equal(v->fn(NULL, 5 - next, argv + next), 3);
    /* Too few or too many arguments, no verb, an unknown one. */
    char *bad[][4] = {{"cmd", "show", NULL}, {"cmd", "show", "a", "b"}, {"cmd", "list", "a", NULL},
                      {"cmd", NULL},         {"cmd", "frob", NULL},     {"cmd", "assign", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int argc = 0;
        while (argc < 4 && bad[i][argc])
            argc++;
        next = 1;
        assert_null(owb_cli_verb(&cli, argc, bad[i], &next));
    }
}

/* The help lists every option of the table, and -h. */
static void test_help_from_table(void **state)
{
    struct opts o;
    const struct owb_opt_group groups[] = {{table, OWB_ARRAY_LEN(table), &o}};
    const struct owb_cli cli = {
        .prog = "owb-test", .usage = "[options]", .groups = groups, .n_groups = 1};
    char *text = NULL, want[64];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    (void)state;

    owb_cli_help(f, &cli);
    fclose(f);
    for (size_t i = 0; i < OWB_ARRAY_LEN(table); i++) {
        snprintf(want, sizeof want, "--%s", table[i].name);
        assert_non_null(strstr(text, want));
    }
    assert_non_null(strstr(text, "-n, --name NAME"));
    assert_non_null(strstr(text, "--mode full|normal|off"));
    assert_non_null(strstr(text, "-h, --help"));
    free(text);
}

/* Every option line of a help text ("  --name ARG" or "  -x, --name ARG"):
 * runs the command with that option (and a value when it takes one) and
 * --help after it. The parser stops at --help with 0 once it has taken
 * the option; an option it does not know is a usage error (2). */
static void check_help_options(char *const base[], size_t nbase)
{
    char help[16384], err[4096], value[256];
    char *argv[16];
    size_t checked = 0;

    memcpy(argv, base, nbase * sizeof *argv);
    argv[nbase] = "--help";
    argv[nbase + 1] = NULL;
    assert_int_equal(t_run(argv, NULL, help, sizeof help), 0);
    assert_non_null(strstr(help, "\nOptions:\n"));
    for (char *line = strtok(strstr(help, "\nOptions:\n") + 10, "\n"); line;
         line = strtok(NULL, "\n")) {
        char name[64] = "", arg[128] = "";
        char *dash = strstr(line, "--");
        if (strncmp(line, "  -", 3) != 0 || !dash)
            continue; /* a continuation line */
        if (sscanf(dash, "%63s", name) != 1 || strcmp(name, "--help") == 0)
            continue;
        /* A value's name follows after one space; help text after two. */
        const char *after = dash + strlen(name);
        if (after[0] == ' ' && after[1] != ' ' && after[1] != '\0')
            sscanf(after + 1, "%127s", arg);
        /* The label's value: the first of several choices. */
        snprintf(value, sizeof value, "%.*s", (int)strcspn(arg, "|"), arg);
        size_t k = nbase;
        argv[k++] = name;
        if (arg[0])
            argv[k++] = strchr(arg, '|') ? value : "1";
        argv[k++] = "--help";
        argv[k] = NULL;
        int rc = t_run_err(argv, NULL, err, sizeof err);
        if (rc != 0)
            fail_msg("%s %s %s: exit %d: %s", base[0], nbase > 1 ? base[1] : "", name, rc, err);
        checked++;
    }
    assert_true(checked > 0);
}

/* The commands a program's --help lists. */
static size_t commands_of(const char *bin, char names[][32], size_t cap)
{
    char out[8192];
    size_t n = 0;
    char *argv[] = {(char *)bin, "--help", NULL};

    assert_int_equal(t_run(argv, NULL, out, sizeof out), 0);
    char *p = strstr(out, "Commands:\n");
    assert_non_null(p);
    for (char *line = strtok(p + 10, "\n"); line && n < cap; line = strtok(NULL, "\n")) {
        if (strncmp(line, "  ", 2) != 0)
            break;
        sscanf(line, "%31s", names[n++]);
    }
    return n;
}

static void test_every_listed_option_parses(void **state)
{
    const char *bins[] = {OWB_SERVER_BIN, OWB_MINT_BIN};
    char names[16][32];
    (void)state;

    for (size_t b = 0; b < 2; b++) {
        size_t n = commands_of(bins[b], names, 16);
        assert_true(n >= 5);
        for (size_t i = 0; i < n; i++) {
            char *base[] = {(char *)bins[b], names[i]};
            check_help_options(base, 2);
        }
    }
    char *device[] = {OWB_DEVICE_BIN};
    check_help_options(device, 1);
}

/* --signing-key was in init's help and refused by its parser. */
static void test_init_signing_key(void **state)
{
    char *dir = t_tmpdir(), db[4096], master[4096], signing[4096], out[4096];
    (void)state;

    snprintf(db, sizeof db, "%s/owb.db", dir);
    snprintf(master, sizeof master, "%s/master.key", dir);
    snprintf(signing, sizeof signing, "%s/elsewhere.key", dir);
    char *argv[] = {OWB_SERVER_BIN, "init",          "--db",  db,  "--master-key",
                    master,         "--signing-key", signing, NULL};
    assert_int_equal(t_run(argv, NULL, out, sizeof out), 0);
    assert_int_equal(access(signing, F_OK), 0);
    char *pub[] = {OWB_SERVER_BIN, "signing-key", "public", "--signing-key", signing, NULL};
    assert_int_equal(t_run(pub, NULL, out, sizeof out), 0);
    assert_int_equal(strlen(out), 43 + 1); /* 32 bytes in base64url, and a newline */
    t_rmtree(dir);
    free(dir);
}

/* init makes the folders it writes into, and when one cannot be made it
 * fails before it writes anything (it used to write both keys first). */
static void test_init_folders(void **state)
{
    char *dir = t_tmpdir(), db[4096], master[4096], blocker[4096], out[4096];
    struct stat st;
    (void)state;

    snprintf(db, sizeof db, "%s/var/lib/owb/owb.db", dir);
    snprintf(master, sizeof master, "%s/etc/owb/owb-master.key", dir);
    char *argv[] = {OWB_SERVER_BIN, "init", "--db", db, "--master-key", master, NULL};
    assert_int_equal(t_run(argv, NULL, out, sizeof out), 0);
    snprintf(out, sizeof out, "%s/etc/owb", dir);
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(out, sizeof out, "%s/etc/owb/owb-signing.key", dir);
    assert_int_equal(access(out, F_OK), 0);

    /* The database made, its master key elsewhere: no new key is made (it
     * would not open the database), and it says where it looked. */
    snprintf(master, sizeof master, "%s/elsewhere/owb-master.key", dir);
    assert_int_equal(t_run_err(argv, NULL, out, sizeof out), 1);
    if (!strstr(out, "has a master key, but none is at") || !strstr(out, "nothing written"))
        fail_msg("want the missing key named: %s", out);
    assert_int_equal(access(master, F_OK), -1);
    snprintf(out, sizeof out, "%s/elsewhere/owb-signing.key", dir);
    assert_int_equal(access(out, F_OK), -1);

    /* The database's folder under a file: nothing written, and it says why. */
    snprintf(blocker, sizeof blocker, "%s/not-a-folder", dir);
    assert_int_equal(owb_file_write_atomic(blocker, "x", 1, 0600, OWB_WRITE_NO_REPLACE), OWB_OK);
    snprintf(db, sizeof db, "%s/not-a-folder/owb.db", dir);
    snprintf(master, sizeof master, "%s/keys/owb-master.key", dir);
    assert_int_equal(t_run_err(argv, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "nothing written"));
    assert_int_equal(access(master, F_OK), -1);
    snprintf(out, sizeof out, "%s/keys/owb-signing.key", dir);
    assert_int_equal(access(out, F_OK), -1);
    t_rmtree(dir);
    free(dir);
}

/* --listen without a port said "No such file or directory"; a host name
 * was refused. */
static void test_listen_forms(void **state)
{
    char out[4096];
    (void)state;

    assert_true(owb_listen_valid("127.0.0.1:8080"));
    assert_true(owb_listen_valid("localhost:8090"));
    assert_true(owb_listen_valid("[::1]:0"));
    assert_true(owb_listen_valid(":8080"));
    assert_false(owb_listen_valid("127.0.0.1"));
    assert_false(owb_listen_valid("127.0.0.1:99999"));
    assert_false(owb_listen_valid("no-such-host.invalid:80"));
    char *argv[] = {OWB_SERVER_BIN, "serve", "--listen", "127.0.0.1", NULL};
    assert_int_equal(t_run_err(argv, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, "--listen takes HOST:PORT"));
    assert_non_null(strstr(out, "not '127.0.0.1'"));
    char *dev[] = {OWB_DEVICE_BIN, "--listen", "192.168.3.1", NULL};
    assert_int_equal(t_run_err(dev, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, "--listen takes HOST:PORT"));
}

/* Reads from the pty until want shows up (10 s at most); all of it in buf. */
static bool pty_wait(int fd, const char *want, char *buf, size_t cap, size_t *len)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    for (int i = 0; i < 100 && !strstr(buf, want); i++) {
        if (poll(&p, 1, 100) == 1) {
            ssize_t n = read(fd, buf + *len, cap - 1 - *len);
            if (n <= 0)
                break;
            *len += (size_t)n;
            buf[*len] = '\0';
        }
    }
    return strstr(buf, want) != NULL;
}

/* On a terminal, network add asks for the PSK twice and echoes neither;
 * a PSK that breaks a rule says which. */
static void test_network_psk_prompt(void **state)
{
    char *dir = t_tmpdir(), db[4096], key[4096], out[8192] = "";
    size_t len = 0;
    int fd, status;
    (void)state;

    snprintf(db, sizeof db, "%s/owb.db", dir);
    snprintf(key, sizeof key, "%s/master.key", dir);
    char *init[] = {OWB_SERVER_BIN, "init", "--db", db, "--master-key", key, NULL};
    assert_int_equal(t_run(init, NULL, out, sizeof out), 0);
    char *add[] = {OWB_SERVER_BIN, "network", "--db",   db,           "--master-key", key, "add",
                   "office",       "--ssid",  "Office", "--security", "wpa2-psk",     NULL};
    pid_t pid = forkpty(&fd, NULL, NULL, NULL);
    assert_true(pid >= 0);
    if (pid == 0) {
        execv(add[0], add);
        _exit(127);
    }
    out[0] = '\0';
    assert_true(pty_wait(fd, "PSK: ", out, sizeof out, &len));
    assert_int_equal(write(fd, "correct horse\n", 14), 14);
    assert_true(pty_wait(fd, "PSK again: ", out, sizeof out, &len));
    assert_int_equal(write(fd, "correct horse\n", 14), 14);
    assert_true(pty_wait(fd, "network office added", out, sizeof out, &len));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_null(strstr(out, "correct horse"));
    close(fd);

    char *bad[] = {OWB_SERVER_BIN, "network", "--db",  db,           "--master-key", key, "add",
                   "lobby",        "--ssid",  "Lobby", "--security", "wpa2-psk",     NULL};
    assert_int_equal(t_run_err(bad, "short\n", out, sizeof out), 1);
    assert_non_null(strstr(out, "the PSK must be 8-63 characters"));
    assert_int_equal(t_run_err(bad, "caf\xc3\xa9-au-lait\n", out, sizeof out), 1);
    assert_non_null(strstr(out, "printable ASCII"));
    t_rmtree(dir);
    free(dir);
}

static void test_base_url(void **state)
{
    char url[OWB_URL_MAX + 2];
    (void)state;

    assert_true(owb_base_url_valid("http://a\"b\\c"));
    assert_false(owb_base_url_valid(""));
    assert_false(owb_base_url_valid(NULL));
    assert_false(owb_base_url_valid("ftp://x"));
    memset(url, 'a', sizeof url);
    memcpy(url, "http://", 7);
    url[OWB_BASE_URL_MAX] = '\0';
    assert_true(owb_base_url_valid(url));
    url[OWB_BASE_URL_MAX] = 'a';
    url[OWB_BASE_URL_MAX + 1] = '\0';
    assert_false(owb_base_url_valid(url));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_ranges),
        cmocka_unit_test(test_range_message),
        cmocka_unit_test(test_verbs),
        cmocka_unit_test(test_help_from_table),
        cmocka_unit_test(test_every_listed_option_parses),
        cmocka_unit_test(test_init_signing_key),
        cmocka_unit_test(test_init_folders),
        cmocka_unit_test(test_listen_forms),
        cmocka_unit_test(test_network_psk_prompt),
        cmocka_unit_test(test_base_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
