/* The option parser, the verb lookup and --help of owb/cli.h, all read
 * from one table per command. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "owb/cli.h"

/* Options of one command, across its groups; owb-device has the most. */
#define OPTS_MAX 48
#define HELP_WIDTH 79
#define HELP_COLUMN_MAX 28

/* getopt's val for an option: its place among all of the command's. */
#define OPT_VAL_BASE 256

struct opt_ref {
    const struct owb_opt *opt;
    void *dst;
};

static size_t collect(const struct owb_cli *c, struct opt_ref *refs)
{
    size_t n = 0;
    for (size_t g = 0; g < c->n_groups; g++)
        for (size_t i = 0; i < c->groups[g].n && n < OPTS_MAX; i++)
            refs[n++] = (struct opt_ref){&c->groups[g].opts[i], c->groups[g].dst};
    return n;
}

static bool takes_arg(const struct owb_opt *o)
{
    return o->type != OWB_OPT_FLAG;
}

/* getopt_long's tables; --help and -h come last. */
static void build_getopt(const struct opt_ref *refs, size_t n, struct option *lo, char *shorts)
{
    size_t k = 0;
    shorts[k++] = 'h';
    for (size_t i = 0; i < n; i++) {
        const struct owb_opt *o = refs[i].opt;
        lo[i] = (struct option){o->name, takes_arg(o) ? required_argument : no_argument, NULL,
                                OPT_VAL_BASE + (int)i};
        if (o->short_name) {
            shorts[k++] = o->short_name;
            if (takes_arg(o))
                shorts[k++] = ':';
        }
    }
    shorts[k] = '\0';
    lo[n] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n + 1] = (struct option){NULL, 0, NULL, 0};
}

/* "a|b|c" as "a, b or c". */
static void choices_text(const char *choices, char *out, size_t cap)
{
    const char *last = strrchr(choices, '|');
    size_t k = 0;
    for (const char *p = choices; *p && k + 5 < cap; p++) {
        if (*p != '|') {
            out[k++] = *p;
            continue;
        }
        const char *sep = p == last ? " or " : ", ";
        memcpy(out + k, sep, strlen(sep));
        k += strlen(sep);
    }
    out[k] = '\0';
}

static bool parse_choice(const char *choices, const char *arg, unsigned *out)
{
    size_t len = strlen(arg);
    unsigned i = 0;
    for (const char *p = choices; p; p = strchr(p, '|'), i++) {
        p += *p == '|';
        if (strncmp(p, arg, len) == 0 && (p[len] == '|' || p[len] == '\0')) {
            *out = i;
            return len > 0;
        }
    }
    return false;
}

static bool parse_number(const struct owb_opt *o, const char *arg, void *p)
{
    char *end;
    errno = 0;
    if (o->type == OWB_OPT_UINT) {
        unsigned long v = strtoul(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-' || v < o->min || v > o->max)
            return false;
        *(unsigned *)p = (unsigned)v;
        return true;
    }
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= o->min) || v > o->max)
        return false;
    *(double *)p = v;
    return true;
}

/* Stores arg through o; OWB_EXIT_USAGE, with the reason printed, when it
 * is not a value o takes. */
static int store(const char *prog, const struct owb_opt *o, void *dst, const char *arg)
{
    void *p = (char *)dst + o->off;
    char text[256];

    switch (o->type) {
    case OWB_OPT_FLAG:
        *(bool *)p = true;
        return OWB_CLI_RUN;
    case OWB_OPT_STR:
        *(const char **)p = arg;
        return OWB_CLI_RUN;
    case OWB_OPT_CHOICE:
        if (parse_choice(o->choices, arg, (unsigned *)p))
            return OWB_CLI_RUN;
        choices_text(o->choices, text, sizeof text);
        return owb_cli_usage_error(prog, "--%s takes %s, not '%s'", o->name, text, arg);
    case OWB_OPT_UINT:
        if (parse_number(o, arg, p))
            return OWB_CLI_RUN;
        return owb_cli_usage_error(prog, "--%s takes a whole number from %.0f to %.0f, not '%s'",
                                   o->name, o->min, o->max, arg);
    case OWB_OPT_DOUBLE:
    default:
        if (parse_number(o, arg, p))
            return OWB_CLI_RUN;
        return owb_cli_usage_error(prog, "--%s takes a number from %.15g to %.15g, not '%s'",
                                   o->name, o->min, o->max, arg);
    }
}

int owb_cli_parse(const struct owb_cli *c, int argc, char **argv, int *next)
{
    struct opt_ref refs[OPTS_MAX];
    struct option lo[OPTS_MAX + 2];
    char shorts[2 * OPTS_MAX + 2];
    size_t n = collect(c, refs);
    int ch, ret = OWB_CLI_RUN;

    build_getopt(refs, n, lo, shorts);
    /* 0 starts getopt afresh (glibc and musl), so a program may parse
     * more than one argv (the tests do). */
    optind = 0;
    while (ret == OWB_CLI_RUN && (ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        if (ch == 'h') {
            owb_cli_help(stdout, c);
            return OWB_EXIT_OK;
        }
        /* A short option arrives as its letter: find its entry. */
        for (size_t i = 0; ch < OPT_VAL_BASE && ch != '?' && i < n; i++)
            if (refs[i].opt->short_name == ch)
                ch = OPT_VAL_BASE + (int)i;
        if (ch < OPT_VAL_BASE || ch >= OPT_VAL_BASE + (int)n)
            return owb_cli_usage_error(c->prog, "unknown option");
        ret = store(c->prog, refs[ch - OPT_VAL_BASE].opt, refs[ch - OPT_VAL_BASE].dst, optarg);
    }
    *next = optind;
    return ret;
}

int owb_cli_parse_no_args(const struct owb_cli *c, int argc, char **argv)
{
    int next, ret = owb_cli_parse(c, argc, argv, &next);
    if (ret == OWB_CLI_RUN && next != argc)
        ret = owb_cli_usage_error(c->prog, "unexpected argument '%s'", argv[next]);
    return ret;
}

/* How many arguments args names: *min, and *max (SIZE_MAX after "...");
 * a word in brackets ("[ID]") may be left out. */
static void verb_arity(const char *args, size_t *min, size_t *max)
{
    size_t words = 0, optional = 0;
    bool more = false;
    for (const char *p = args; *p; p++) {
        if (*p != ' ' && (p == args || p[-1] == ' ')) {
            words++;
            optional += *p == '[';
        }
        if (strncmp(p, "...", 3) == 0)
            more = true;
    }
    *min = words - optional;
    *max = more ? SIZE_MAX : words;
}

const struct owb_verb *owb_cli_verb(const struct owb_cli *c, int argc, char **argv, int *next)
{
    const struct owb_verb *v = NULL;
    size_t min, max, n;

    if (*next >= argc) {
        char names[256];
        size_t k = 0;
        for (size_t i = 0; i < c->n_verbs && k < sizeof names; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s",
                                  i == 0 ? "" : (i + 1 == c->n_verbs ? " or " : ", "),
                                  c->verbs[i].name);
        owb_cli_usage_error(c->prog, "missing action: %s", names);
        return NULL;
    }
    for (size_t i = 0; i < c->n_verbs && !v; i++)
        if (strcmp(argv[*next], c->verbs[i].name) == 0)
            v = &c->verbs[i];
    if (!v) {
        owb_cli_usage_error(c->prog, "unknown action '%s'", argv[*next]);
        return NULL;
    }
    (*next)++;
    n = (size_t)(argc - *next);
    verb_arity(v->args, &min, &max);
    if (n < min || n > max) {
        if (max == 0)
            owb_cli_usage_error(c->prog, "%s takes no argument", v->name);
        else
            owb_cli_usage_error(c->prog, "usage: %s %s", v->name, v->args);
        return NULL;
    }
    return v;
}

/* Prints text from column col, wrapped at HELP_WIDTH, later lines
 * indented to indent. */
static void wrap(FILE *f, size_t col, size_t indent, const char *text)
{
    bool first = true;
    for (const char *p = text + strspn(text, " "); *p; p += strspn(p, " ")) {
        size_t word = strcspn(p, " ");
        if (!first && col + 1 + word > HELP_WIDTH) {
            fprintf(f, "\n%*s", (int)indent, "");
            col = indent;
        } else if (!first) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", (int)word, p);
        col += word;
        p += word;
        first = false;
    }
    fputc('\n', f);
}

/* "  -l, --listen ADDR:PORT" into buf; its length. */
static size_t opt_label(const struct owb_opt *o, char *buf, size_t cap)
{
    const char *arg = o->type == OWB_OPT_CHOICE ? o->choices : o->arg;
    int n = o->short_name ? snprintf(buf, cap, "  -%c, --%s", o->short_name, o->name)
                          : snprintf(buf, cap, "  --%s", o->name);
    if (arg && n > 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, " %s", arg);
    return n < 0 ? 0 : strlen(buf);
}

static void help_options(FILE *f, const struct owb_cli *c)
{
    static const struct owb_opt help = {.name = "help", .short_name = 'h', .help = "this help"};
    struct opt_ref refs[OPTS_MAX + 1];
    size_t n = collect(c, refs), column = 0;
    char label[128];

    refs[n++] = (struct opt_ref){&help, NULL};
    for (size_t i = 0; i < n; i++) {
        size_t len = opt_label(refs[i].opt, label, sizeof label) + 2;
        if (len > column && len <= HELP_COLUMN_MAX)
            column = len;
    }
    fputs("Options:\n", f);
    for (size_t i = 0; i < n; i++) {
        size_t len = opt_label(refs[i].opt, label, sizeof label);
        fputs(label, f);
        if (len + 2 > column) {
            fputc('\n', f);
            len = 0;
        }
        fprintf(f, "%*s", (int)(column - len), "");
        wrap(f, column, column, refs[i].opt->help);
    }
}

void owb_cli_help(FILE *f, const struct owb_cli *c)
{
    if (!c->n_verbs)
        fprintf(f, "Usage: %s %s\n", c->prog, c->usage);
    for (size_t i = 0; i < c->n_verbs; i++)
        fprintf(f, "%s %s %s%s%s [options]\n", i ? "      " : "Usage:", c->prog, c->verbs[i].name,
                c->verbs[i].args[0] ? " " : "", c->verbs[i].args);
    if (c->n_verbs) {
        fputs("\nActions:\n", f);
        for (size_t i = 0; i < c->n_verbs; i++) {
            int len = fprintf(f, "  %s %s", c->verbs[i].name, c->verbs[i].args);
            len = len < 0 ? 0 : len;
            fprintf(f, "%*s", len < 20 ? 20 - len : 1, "");
            wrap(f, len < 20 ? 20 : (size_t)len + 1, 20, c->verbs[i].summary);
        }
    }
    if (c->about)
        fprintf(f, "\n%s", c->about);
    fputc('\n', f);
    help_options(f, c);
}
