/* The visft command line: commands described by tables, from which both the parser and --help are made,
 * so the help can never disagree with what is parsed.
 *
 * A command is a vt_cli_command: name, one-line summary, options (flags, strings, repeatable strings),
 * positional arguments, and a handler receiving a zeroed args struct the parser filled by offset.
 * Commands nest (`visft plugins describe`): a command may list subcommands, chosen by the word right after
 * its own name. The root command is `visft` itself; commands.c lists what it offers.
 *
 * Exit status: 0 success, 1 failure (one line on stderr), 2 usage error (one line on stderr). */
#ifndef VISFT_CLI_H
#define VISFT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define VT_CLI_OK 0
#define VT_CLI_FAIL 1
#define VT_CLI_USAGE 2

typedef enum vt_cli_opt_type {
    VT_CLI_FLAG,    /* bool, set by --name */
    VT_CLI_STRING,  /* const char *, --name VALUE / --name=VALUE; the last one given wins */
    VT_CLI_STRINGS  /* vt_cli_strings, repeatable, in order */
} vt_cli_opt_type;

/* A repeatable option's values; v borrows from argv, the array itself is freed by the parser. */
typedef struct vt_cli_strings {
    size_t n;
    const char **v;
} vt_cli_strings;

typedef struct vt_cli_option {
    const char *name;    /* long name without dashes ("set"); NULL ends a table */
    char short_name;     /* 's' for -s; 0 for none */
    vt_cli_opt_type type;
    size_t offset;       /* into the command's args struct */
    const char *metavar; /* "K=V", "DIR"; ignored for flags */
    const char *help;
} vt_cli_option;

typedef struct vt_cli_arg {
    const char *name;    /* "CONFIG"; NULL ends a table */
    size_t offset;       /* const char * field in the args struct (vt_cli_strings when variadic) */
    bool optional;
    const char *help;
    bool variadic;       /* last argument only: takes every remaining positional ("IMAGES...") */
} vt_cli_arg;

/* Where a handler writes: normal output to out, the one-line cause of a failure to err. */
typedef struct vt_cli_io {
    FILE *out, *err;
} vt_cli_io;

typedef struct vt_cli_command vt_cli_command;
struct vt_cli_command {
    const char *name;
    const char *summary;                       /* one line, shown in the parent's command list */
    const char *description;                   /* shown in this command's --help (NULL: summary) */
    const vt_cli_option *options;              /* may be NULL; -h/--help is always added */
    const vt_cli_arg *args;                    /* may be NULL */
    size_t args_size;                          /* sizeof the args struct the offsets point into */
    int (*run)(const vt_cli_io *io, void *args); /* NULL: the command needs a subcommand */
    const vt_cli_command *const *subcommands;  /* NULL-terminated; may be NULL */
    const char *epilog;                        /* extra help text after the options (may be NULL) */
};

/* The `visft` root command (commands.c). */
extern const vt_cli_command vt_cli_root;

/* Parses argv against `root` and runs the chosen handler. argv[0] is the program name and is ignored. */
int vt_cli_dispatch(const vt_cli_command *root, int argc, char **argv, const vt_cli_io *io);

/* The whole CLI: vt_cli_dispatch over vt_cli_root. */
int vt_cli_main(int argc, char **argv, FILE *out, FILE *err);

/* Writes `cmd`'s help; `path` is the command words leading to it ("visft plugins describe"). */
void vt_cli_print_help(const vt_cli_command *cmd, const char *path, FILE *f);

/* "visft: <message>" on io->err; returns VT_CLI_FAIL, for handlers. */
int vt_cli_fail(const vt_cli_io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
