/* Table-driven argument parsing and help for the visft CLI (see cli.h).
 *
 * Accepted forms: --name VALUE, --name=VALUE, -n VALUE, -nVALUE, --flag, -f, and `--` to end options.
 * Options and positionals may be interleaved. A subcommand must be the first word after its parent. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "visft/config.h"

#define PATH_MAX_LEN 256

int vt_cli_fail(const vt_cli_io *io, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("visft: ", io->err);
    vfprintf(io->err, fmt, ap);
    fputc('\n', io->err);
    va_end(ap);
    return VT_CLI_FAIL;
}

static size_t count_options(const vt_cli_option *o) {
    size_t n = 0;
    while (o && o[n].name) n++;
    return n;
}

static size_t count_args(const vt_cli_arg *a) {
    size_t n = 0;
    while (a && a[n].name) n++;
    return n;
}

static size_t count_subcommands(const vt_cli_command *const *s) {
    size_t n = 0;
    while (s && s[n]) n++;
    return n;
}

/* ---- help ------------------------------------------------------------------------------------------- */

static const vt_cli_option help_option = {"help", 'h', VT_CLI_FLAG, 0, NULL, "show this help and exit"};

/* "-s, --set K=V" as printed in the options list. */
static void option_label(const vt_cli_option *o, char *buf, size_t size) {
    char shortpart[8] = "    ";
    if (o->short_name) snprintf(shortpart, sizeof shortpart, "-%c, ", o->short_name);
    if (o->type == VT_CLI_FLAG)
        snprintf(buf, size, "%s--%s", shortpart, o->name);
    else
        snprintf(buf, size, "%s--%s %s", shortpart, o->name, o->metavar ? o->metavar : "VALUE");
}

static void print_usage(const vt_cli_command *cmd, const char *path, FILE *f) {
    fprintf(f, "usage: %s [-h]", path);
    for (size_t i = 0; i < count_options(cmd->options); i++) {
        const vt_cli_option *o = &cmd->options[i];
        char name[64];
        if (o->short_name)
            snprintf(name, sizeof name, "-%c", o->short_name);
        else
            snprintf(name, sizeof name, "--%s", o->name);
        if (o->type == VT_CLI_FLAG)
            fprintf(f, " [%s]", name);
        else
            fprintf(f, " [%s %s]%s", name, o->metavar ? o->metavar : "VALUE", o->type == VT_CLI_STRINGS ? "..." : "");
    }
    size_t nsub = count_subcommands(cmd->subcommands);
    if (nsub) fprintf(f, cmd->run ? " [COMMAND [ARGS...]]" : " COMMAND [ARGS...]");
    for (size_t i = 0; i < count_args(cmd->args); i++)
        fprintf(f, cmd->args[i].optional ? " [%s%s]" : " %s%s", cmd->args[i].name, cmd->args[i].variadic ? "..." : "");
    fputc('\n', f);
}

void vt_cli_print_help(const vt_cli_command *cmd, const char *path, FILE *f) {
    print_usage(cmd, path, f);
    fprintf(f, "\n%s\n", cmd->description ? cmd->description : cmd->summary);

    /* One label column for every list in this help, so the texts line up. */
    size_t width = 0;
    char label[128];
    size_t nopt = count_options(cmd->options), nargs = count_args(cmd->args);
    size_t nsub = count_subcommands(cmd->subcommands);
    for (size_t i = 0; i <= nopt; i++) {
        option_label(i < nopt ? &cmd->options[i] : &help_option, label, sizeof label);
        if (strlen(label) > width) width = strlen(label);
    }
    for (size_t i = 0; i < nargs; i++)
        if (strlen(cmd->args[i].name) > width) width = strlen(cmd->args[i].name);
    for (size_t i = 0; i < nsub; i++)
        if (strlen(cmd->subcommands[i]->name) > width) width = strlen(cmd->subcommands[i]->name);
    int w = (int)width + 2;

    if (nsub) {
        fprintf(f, "\ncommands:\n");
        for (size_t i = 0; i < nsub; i++)
            fprintf(f, "  %-*s%s\n", w, cmd->subcommands[i]->name, cmd->subcommands[i]->summary);
    }
    if (nargs) {
        fprintf(f, "\narguments:\n");
        for (size_t i = 0; i < nargs; i++) fprintf(f, "  %-*s%s\n", w, cmd->args[i].name, cmd->args[i].help);
    }
    fprintf(f, "\noptions:\n");
    for (size_t i = 0; i <= nopt; i++) {
        const vt_cli_option *o = i < nopt ? &cmd->options[i] : &help_option;
        option_label(o, label, sizeof label);
        fprintf(f, "  %-*s%s%s\n", w, label, o->help, o->type == VT_CLI_STRINGS ? " (repeatable)" : "");
    }
    if (nsub) fprintf(f, "\nRun '%s COMMAND --help' for a command's options.\n", path);
    if (cmd->epilog) fprintf(f, "\n%s\n", cmd->epilog);
}

/* ---- parsing ---------------------------------------------------------------------------------------- */

typedef struct parse_state {
    const vt_cli_command *cmd;
    const char *path;
    const vt_cli_io *io;
    char *args;
} parse_state;

static int usage_error(const parse_state *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const parse_state *ps, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(ps->io->err, "%s: %s; see '%s --help'\n", ps->path, msg, ps->path);
    return VT_CLI_USAGE;
}

static void free_lists(const vt_cli_command *cmd, char *args) {
    for (size_t i = 0; i < count_options(cmd->options); i++)
        if (cmd->options[i].type == VT_CLI_STRINGS) free(((vt_cli_strings *)(void *)(args + cmd->options[i].offset))->v);
    for (size_t i = 0; i < count_args(cmd->args); i++)
        if (cmd->args[i].variadic) free(((vt_cli_strings *)(void *)(args + cmd->args[i].offset))->v);
}

/* Appends to a repeatable option's or a variadic argument's list. */
static int append_string(const parse_state *ps, vt_cli_strings *list, const char *value);

static int store_value(const parse_state *ps, const vt_cli_option *o, const char *value) {
    void *field = ps->args + o->offset;
    if (o->type == VT_CLI_STRING) {
        *(const char **)field = value;
        return VT_CLI_OK;
    }
    return append_string(ps, field, value);
}

static int append_string(const parse_state *ps, vt_cli_strings *list, const char *value) {
    const char **v = realloc(list->v, (list->n + 1) * sizeof *v);
    if (!v) return vt_cli_fail(ps->io, "out of memory");
    v[list->n++] = value;
    list->v = v;
    return VT_CLI_OK;
}

static const vt_cli_option *find_long(const vt_cli_command *cmd, const char *name, size_t len) {
    if (len == 4 && strncmp(name, "help", 4) == 0) return &help_option;
    for (size_t i = 0; i < count_options(cmd->options); i++)
        if (strlen(cmd->options[i].name) == len && strncmp(cmd->options[i].name, name, len) == 0)
            return &cmd->options[i];
    return NULL;
}

static const vt_cli_option *find_short(const vt_cli_command *cmd, char c) {
    if (c == 'h') return &help_option;
    for (size_t i = 0; i < count_options(cmd->options); i++)
        if (cmd->options[i].short_name == c) return &cmd->options[i];
    return NULL;
}

static int unknown_option(const parse_state *ps, const char *arg) {
    size_t n = count_options(ps->cmd->options);
    const char *names[64];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 64; i++) names[k++] = ps->cmd->options[i].name;
    if (k < 64) names[k++] = "help";
    const char *word = arg;
    while (*word == '-') word++;
    char bare[64];
    snprintf(bare, sizeof bare, "%.*s", (int)strcspn(word, "="), word);
    const char *hint = vt_suggest(bare, (const char *const *)names, k);
    if (hint) return usage_error(ps, "unknown option '%s' (did you mean '--%s'?)", arg, hint);
    return usage_error(ps, "unknown option '%s'", arg);
}

/* Handles argv[*i] (an option); may consume argv[*i + 1]. Returns -1 to go on, else an exit status. */
static int parse_option(const parse_state *ps, int argc, char **argv, int *i, bool *help) {
    const char *arg = argv[*i];
    const vt_cli_option *o;
    const char *value = NULL;
    if (arg[1] == '-') {
        const char *name = arg + 2, *eq = strchr(name, '=');
        o = find_long(ps->cmd, name, eq ? (size_t)(eq - name) : strlen(name));
        if (!o) return unknown_option(ps, arg);
        if (eq) {
            if (o->type == VT_CLI_FLAG) return usage_error(ps, "option '--%s' takes no value", o->name);
            value = eq + 1;
        }
    } else {
        o = find_short(ps->cmd, arg[1]);
        if (!o) return unknown_option(ps, arg);
        if (arg[2]) {
            if (o->type == VT_CLI_FLAG) return usage_error(ps, "option '-%c' takes no value (in '%s')", arg[1], arg);
            value = arg + 2;
        }
    }
    if (o == &help_option) {
        *help = true;
        return -1;
    }
    if (o->type == VT_CLI_FLAG) {
        *(bool *)(void *)(ps->args + o->offset) = true;
        return -1;
    }
    if (!value) {
        if (*i + 1 >= argc) return usage_error(ps, "option '--%s' needs a value (%s)", o->name, o->metavar ? o->metavar : "VALUE");
        value = argv[++*i];
    }
    int rc = store_value(ps, o, value);
    return rc == VT_CLI_OK ? -1 : rc;
}

static int dispatch(const vt_cli_command *cmd, const char *path, int argc, char **argv, const vt_cli_io *io) {
    /* A subcommand is the very next word. */
    size_t nsub = count_subcommands(cmd->subcommands);
    if (argc > 0 && argv[0][0] != '-') {
        for (size_t i = 0; i < nsub; i++) {
            if (strcmp(argv[0], cmd->subcommands[i]->name) == 0) {
                char sub[PATH_MAX_LEN];
                snprintf(sub, sizeof sub, "%s %s", path, cmd->subcommands[i]->name);
                return dispatch(cmd->subcommands[i], sub, argc - 1, argv + 1, io);
            }
        }
    }

    char *args = calloc(1, cmd->args_size ? cmd->args_size : 1);
    if (!args) return vt_cli_fail(io, "out of memory");
    parse_state ps = {cmd, path, io, args};
    size_t nargs = count_args(cmd->args), npos = 0;
    bool help = false, only_positional = false;
    int rc = -1;
    for (int i = 0; i < argc && rc < 0; i++) {
        const char *a = argv[i];
        if (!only_positional && strcmp(a, "--") == 0) {
            only_positional = true;
        } else if (!only_positional && a[0] == '-' && a[1] != '\0') {
            rc = parse_option(&ps, argc, argv, &i, &help);
        } else if (npos < nargs && cmd->args[npos].variadic) {
            if (append_string(&ps, (vt_cli_strings *)(void *)(args + cmd->args[npos].offset), a) != VT_CLI_OK)
                rc = VT_CLI_FAIL;
        } else if (npos < nargs) {
            *(const char **)(void *)(args + cmd->args[npos++].offset) = a;
        } else if (nsub && npos == 0) {
            const char *names[64];
            size_t k = 0;
            for (size_t j = 0; j < nsub && k < 64; j++) names[k++] = cmd->subcommands[j]->name;
            const char *hint = vt_suggest(a, (const char *const *)names, k);
            if (hint)
                rc = usage_error(&ps, "unknown command '%s' (did you mean '%s'?)", a, hint);
            else
                rc = usage_error(&ps, "unknown command '%s'", a);
        } else {
            rc = usage_error(&ps, "unexpected argument '%s'", a);
        }
    }
    if (rc < 0 && help) {
        vt_cli_print_help(cmd, path, io->out);
        rc = VT_CLI_OK;
    }
    if (rc < 0 && npos < nargs && !cmd->args[npos].optional &&
        !(cmd->args[npos].variadic && ((vt_cli_strings *)(void *)(args + cmd->args[npos].offset))->n > 0))
        rc = usage_error(&ps, "missing argument %s", cmd->args[npos].name);
    if (rc < 0 && !cmd->run) rc = usage_error(&ps, "missing command");
    if (rc < 0) rc = cmd->run(io, args);
    free_lists(cmd, args);
    free(args);
    return rc;
}

int vt_cli_dispatch(const vt_cli_command *root, int argc, char **argv, const vt_cli_io *io) {
    if (argc < 1) return dispatch(root, root->name, 0, argv, io);
    return dispatch(root, root->name, argc - 1, argv + 1, io);
}

int vt_cli_main(int argc, char **argv, FILE *out, FILE *err) {
    vt_cli_io io = {out, err};
    int rc = vt_cli_dispatch(&vt_cli_root, argc, argv, &io);
    fflush(out);
    fflush(err);
    return rc;
}
