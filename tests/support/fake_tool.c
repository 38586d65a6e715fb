/* A stand-in for the system tools the device backends call (uci, wifi,
 * ubus, iwinfo, wpa_cli, nmcli, curl) and for a command-backend program.
 * It appends one JSON line per call to $OWB_FAKE_LOG with its name, its
 * exact argument vector and the OWB_* environment, then behaves as the
 * files in $OWB_FAKE_DIR say:
 *   NAME.KEY.out    printed on stdout      NAME.KEY.exit   exit status
 *   NAME.KEY.sleep  seconds to sleep first
 * where KEY is tried as the last argument, then the first, then "any".
 * As uci it keeps "key=value" state in $OWB_FAKE_DIR/uci.state so that
 * get/set/delete behave like the real thing. As "apply-to-file" (the demo
 * and the tests' command backend) apply writes the settings it got to
 * $OWB_FAKE_DIR/applied.json, and a rollback can leave the previous
 * network a while to come back (rejoin() below). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

static const char *dir(void)
{
    const char *d = getenv("OWB_FAKE_DIR");
    return d ? d : ".";
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static char *behaviour(const char *name, const char *key, const char *what)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s.%s", dir(), name, key, what);
    return slurp(path);
}

static char *lookup(const char *name, int argc, char **argv, const char *what)
{
    char *v = NULL;
    if (argc > 1)
        v = behaviour(name, argv[argc - 1], what);
    if (!v && argc > 1)
        v = behaviour(name, argv[1], what);
    if (!v)
        v = behaviour(name, "any", what);
    return v;
}

static void log_call(const char *name, int argc, char **argv)
{
    const char *log = getenv("OWB_FAKE_LOG");
    extern char **environ;
    cJSON *o = cJSON_CreateObject(), *args = cJSON_AddArrayToObject(o, "argv"),
          *env = cJSON_AddObjectToObject(o, "env");
    char *text;
    FILE *f;

    cJSON_AddStringToObject(o, "tool", name);
    for (int i = 0; i < argc; i++)
        cJSON_AddItemToArray(args, cJSON_CreateString(argv[i]));
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "OWB_", 4) || !strncmp(*e, "OWB_FAKE_", 9))
            continue;
        char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(eq - *e), *e);
        cJSON_AddStringToObject(env, key, eq + 1);
    }
    text = cJSON_PrintUnformatted(o);
    if (log && text && (f = fopen(log, "a"))) {
        fprintf(f, "%s\n", text);
        fclose(f);
    }
    free(text);
    cJSON_Delete(o);
}

/* uci get/set/delete on a key=value file. */
static int fake_uci(int argc, char **argv)
{
    char path[4096], *state, *arg = NULL, *verb = NULL;
    snprintf(path, sizeof path, "%s/uci.state", dir());
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        if (!verb)
            verb = argv[i];
        else if (!arg)
            arg = argv[i];
    }
    if (!verb || !arg)
        return 0;
    state = slurp(path);
    if (!state)
        state = calloc(1, 1);
    size_t klen = strcspn(arg, "=");
    char *out = calloc(1, strlen(state) + strlen(arg) + 3);
    int found = 0;
    for (char *line = strtok(state, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, arg, klen) == 0 && line[klen] == '=') {
            found = 1;
            if (!strcmp(verb, "get"))
                printf("%s\n", line + klen + 1);
            if (!strcmp(verb, "get"))
                strcat(strcat(out, line), "\n");
            continue; /* set replaces, delete drops */
        }
        strcat(strcat(out, line), "\n");
    }
    if (!strcmp(verb, "set"))
        strcat(strcat(out, arg), "\n");
    if (!strcmp(verb, "set") || !strcmp(verb, "delete")) {
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(out, f);
            fclose(f);
        }
    }
    free(out);
    free(state);
    return !strcmp(verb, "get") && !found ? 1 : 0;
}

static void write_applied(void)
{
    char path[4096];
    cJSON *o = cJSON_CreateObject();
    const char *names[] = {"OWB_SSID", "OWB_SECURITY", "OWB_PSK", "OWB_HIDDEN", "OWB_HOSTNAME"};
    for (size_t i = 0; i < 5; i++)
        cJSON_AddStringToObject(o, names[i], getenv(names[i]) ? getenv(names[i]) : "");
    char *text = cJSON_PrintUnformatted(o);
    snprintf(path, sizeof path, "%s/applied.json", dir());
    FILE *f = fopen(path, "w");
    if (f && text) {
        fprintf(f, "%s\n", text);
        fclose(f);
    }
    free(text);
    cJSON_Delete(o);
}

static void put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* As apply-to-file, a previous network that takes a while to come back:
 * with apply-to-file.rejoin holding N, a rollback leaves it re-associating
 * ($OWB_FAKE_DIR/rejoining holds the checks left), the next N checks say
 * "still trying" (10), then they say joined (0) until the next apply. The
 * exit status of a check answered so, or -1. */
static int rejoin(const char *action)
{
    char path[4096], conf[4096], *v;
    int left;

    snprintf(path, sizeof path, "%s/rejoining", dir());
    snprintf(conf, sizeof conf, "%s/apply-to-file.rejoin", dir());
    if (!strcmp(action, "apply"))
        unlink(path);
    if (!strcmp(action, "rollback") && (v = slurp(conf))) {
        put_text(path, v);
        free(v);
    }
    if (strcmp(action, "check") != 0 || !(v = slurp(path)))
        return -1;
    left = atoi(v);
    free(v);
    if (left <= 0)
        return 0;
    char text[16];
    snprintf(text, sizeof text, "%d", left - 1);
    put_text(path, text);
    return 10;
}

/* A daemon stand-in (udhcpc, udhcpd) notes a SIGTERM in
 * OWB_FAKE_DIR/NAME.terminated: a child that inherited a blocked SIGTERM
 * never would. */
static char term_path[4096];

static void on_term(int sig)
{
    int fd = open(term_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    (void)sig;
    if (fd >= 0)
        close(fd);
    _exit(143);
}

int main(int argc, char **argv)
{
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    char *v;
    int code = 0, rejoined = -1;

    log_call(name, argc, argv);
    snprintf(term_path, sizeof term_path, "%s/%s.terminated", dir(), name);
    signal(SIGTERM, on_term);
    if ((v = lookup(name, argc, argv, "sleep"))) {
        sleep((unsigned)atoi(v));
        free(v);
    }
    if (!strcmp(name, "uci"))
        code = fake_uci(argc, argv);
    if (!strcmp(name, "apply-to-file") && argc > 1 && !strcmp(argv[1], "apply"))
        write_applied();
    if (!strcmp(name, "apply-to-file") && argc > 1)
        rejoined = rejoin(argv[1]);
    if ((v = lookup(name, argc, argv, "out"))) {
        fputs(v, stdout);
        free(v);
    }
    if ((v = lookup(name, argc, argv, "exit"))) {
        code = atoi(v);
        free(v);
    }
    return rejoined >= 0 ? rejoined : code;
}
