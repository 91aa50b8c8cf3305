/* `visft plugins` (what was found: components, refusals with their reason, shadowed files, path problems)
 * and `visft plugins describe NAME` (a plugin's components and every parameter, from its spec table). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "visft/config.h"

typedef struct plugins_args {
    vt_cli_strings plugin_paths;
} plugins_args;

typedef struct describe_args {
    vt_cli_strings plugin_paths;
    const char *name;
} describe_args;

/* ---- a minimal column table ------------------------------------------------------------------------- */

#define TABLE_COLS 5

typedef struct table {
    char **cells; /* rows * TABLE_COLS, owned */
    size_t rows, cap;
    bool oom;
} table;

static void table_add(table *t, const char *c0, const char *c1, const char *c2, const char *c3, const char *c4) {
    if (t->oom) return;
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **p = realloc(t->cells, cap * TABLE_COLS * sizeof *p);
        if (!p) {
            t->oom = true;
            return;
        }
        t->cells = p;
        t->cap = cap;
    }
    const char *row[TABLE_COLS] = {c0, c1, c2, c3, c4};
    for (int i = 0; i < TABLE_COLS; i++) {
        t->cells[t->rows * TABLE_COLS + i] = strdup(row[i] ? row[i] : "-");
        if (!t->cells[t->rows * TABLE_COLS + i]) t->oom = true;
    }
    t->rows++;
}

/* Prints left-aligned columns (the last one unpadded) with `indent` spaces before each row. */
static void table_print(const table *t, FILE *f, int indent) {
    size_t width[TABLE_COLS] = {0};
    for (size_t r = 0; r < t->rows; r++)
        for (int c = 0; c < TABLE_COLS; c++) {
            const char *s = t->cells[r * TABLE_COLS + c];
            if (s && strlen(s) > width[c]) width[c] = strlen(s);
        }
    for (size_t r = 0; r < t->rows; r++) {
        fprintf(f, "%*s", indent, "");
        for (int c = 0; c < TABLE_COLS; c++) {
            const char *s = t->cells[r * TABLE_COLS + c];
            if (c + 1 < TABLE_COLS)
                fprintf(f, "%-*s  ", (int)width[c], s ? s : "");
            else
                fprintf(f, "%s\n", s ? s : "");
        }
    }
}

static void table_free(table *t) {
    for (size_t i = 0; i < t->rows * TABLE_COLS; i++) free(t->cells[i]);
    free(t->cells);
}

/* ---- visft plugins ---------------------------------------------------------------------------------- */

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

static int list_run(const vt_cli_io *io, void *vargs) {
    plugins_args *a = vargs;
    vt_registry *reg;
    vt_err err;
    vt_err_clear(&err);
    if (vt_cli_open_registry(&a->plugin_paths, NULL, &reg, &err) != VT_OK) return vt_cli_fail(io, "%s", err.msg);

    table t = {0};
    table_add(&t, "KIND", "NAME", "VERSION", "PLUGIN", "PATH");
    for (size_t i = 0; i < vt_registry_component_count(reg); i++) {
        const vt_component *c = vt_registry_component(reg, i);
        table_add(&t, vt_component_kind_name(c->kind), c->name, c->plugin->version, c->plugin->name, c->plugin->path);
    }
    for (size_t i = 0; i < vt_registry_plugin_count(reg); i++) { /* loaded, but registered nothing */
        const vt_plugin_info *p = vt_registry_plugin(reg, i);
        bool any = false;
        for (size_t j = 0; j < vt_registry_component_count(reg) && !any; j++)
            any = vt_registry_component(reg, j)->plugin == p;
        if (p->state == VT_PLUGIN_LOADED && !any) table_add(&t, "-", "(no components)", p->version, p->name, p->path);
    }
    if (t.oom) {
        table_free(&t);
        vt_registry_destroy(reg);
        return vt_cli_fail(io, "out of memory");
    }
    FILE *f = io->out;
    if (t.rows > 1)
        table_print(&t, f, 0);
    else
        fprintf(f, "no plugins found\n");
    table_free(&t);

    const char *titles[] = {"refused", "shadowed"};
    const vt_plugin_state states[] = {VT_PLUGIN_REFUSED, VT_PLUGIN_SHADOWED};
    for (int s = 0; s < 2; s++) {
        bool first = true;
        for (size_t i = 0; i < vt_registry_plugin_count(reg); i++) {
            const vt_plugin_info *p = vt_registry_plugin(reg, i);
            if (p->state != states[s]) continue;
            if (first) fprintf(f, "\n%s:\n", titles[s]);
            first = false;
            fprintf(f, "  %s: %s\n", p->path, p->reason);
        }
    }
    if (vt_registry_path_problem_count(reg)) {
        fprintf(f, "\nsearch path problems:\n");
        for (size_t i = 0; i < vt_registry_path_problem_count(reg); i++)
            fprintf(f, "  %s\n", vt_registry_path_problem(reg, i));
    }
    fprintf(f, "\nsearched:");
    for (size_t i = 0; i < vt_registry_path_count(reg); i++) fprintf(f, " %s", vt_registry_path(reg, i));
    fprintf(f, "%s\n", vt_registry_path_count(reg) ? "" : " (nothing)");
    vt_registry_destroy(reg);
    return VT_CLI_OK;
}

/* ---- visft plugins describe ------------------------------------------------------------------------- */

static const char *type_name(const vt_param_spec *s, char *buf, size_t size) {
    static const char *names[] = {"bool", "int", "float", "string", "enum", "list", "map", "seq"};
    const char *base = (unsigned)s->type < sizeof names / sizeof names[0] ? names[s->type] : "?";
    if (s->type == VT_PARAM_LIST || (s->type == VT_PARAM_SEQ && s->elem_type == VT_PARAM_MAP)) {
        const char *elem = (unsigned)s->elem_type < sizeof names / sizeof names[0] ? names[s->elem_type] : "?";
        snprintf(buf, size, "list[%s]", elem);
        return buf;
    }
    return base;
}

static const char *fmt_num(double v, char *buf, size_t size) {
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%g", v);
    return buf;
}

static const char *range_text(const vt_param_spec *s, char *buf, size_t size) {
    bool numeric = s->type == VT_PARAM_INT || s->type == VT_PARAM_FLOAT ||
                   (s->type == VT_PARAM_LIST && s->elem_type != VT_PARAM_STRING);
    if (numeric && s->min <= s->max) {
        char lo[32], hi[32];
        snprintf(buf, size, "[%s, %s]", fmt_num(s->min, lo, sizeof lo), fmt_num(s->max, hi, sizeof hi));
        return buf;
    }
    if (s->type == VT_PARAM_ENUM && s->choices) {
        size_t used = 0;
        buf[0] = '\0';
        for (size_t i = 0; s->choices[i] && used + 1 < size; i++)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? "|" : "", s->choices[i]);
        return buf;
    }
    return "-";
}

static void describe_component(const vt_component *c, FILE *f) {
    fprintf(f, "\n%s %s%s%s\n", vt_component_kind_name(c->kind), c->name, *c->description ? ": " : "",
            c->description);
    if (c->n_params == 0) {
        fprintf(f, "  (no parameters)\n");
        return;
    }
    table t = {0};
    table_add(&t, "PARAMETER", "TYPE", "DEFAULT", "RANGE/CHOICES", "DESCRIPTION");
    for (size_t i = 0; i < c->n_params; i++) {
        const vt_param_spec *s = &c->params[i];
        char tbuf[32], rbuf[256];
        const char *def = s->required ? "(required)" : s->default_value ? s->default_value : "-";
        table_add(&t, s->name, type_name(s, tbuf, sizeof tbuf), def, range_text(s, rbuf, sizeof rbuf), or_dash(s->help));
    }
    table_print(&t, f, 2);
    table_free(&t);
}

static void describe_plugin(const vt_registry *reg, const vt_plugin_info *p, const char *only, FILE *f) {
    fprintf(f, "plugin %s %s (license %s, plugin ABI %u.%u)\n", p->name, p->version, or_dash(p->license),
            p->abi_major, p->abi_minor);
    if (p->description && *p->description) fprintf(f, "  %s\n", p->description);
    fprintf(f, "  path: %s\n", p->path);
    for (size_t i = 0; i < vt_registry_component_count(reg); i++) {
        const vt_component *c = vt_registry_component(reg, i);
        if (c->plugin == p && (!only || strcmp(c->name, only) == 0)) describe_component(c, f);
    }
}

static int not_found(const vt_cli_io *io, const vt_registry *reg, const char *name) {
    for (size_t i = 0; i < vt_registry_plugin_count(reg); i++) {
        const vt_plugin_info *p = vt_registry_plugin(reg, i);
        if (p->state == VT_PLUGIN_REFUSED && p->name && strcmp(p->name, name) == 0)
            return vt_cli_fail(io, "plugin '%s' (%s) was refused: %s", name, p->path, p->reason);
    }
    size_t n = vt_registry_plugin_count(reg) + vt_registry_component_count(reg), k = 0;
    const char **names = malloc((n + 1) * sizeof *names);
    for (size_t i = 0; names && i < vt_registry_plugin_count(reg); i++)
        if (vt_registry_plugin(reg, i)->state == VT_PLUGIN_LOADED) names[k++] = vt_registry_plugin(reg, i)->name;
    for (size_t i = 0; names && i < vt_registry_component_count(reg); i++)
        names[k++] = vt_registry_component(reg, i)->name;
    const char *hint = names ? vt_suggest(name, (const char *const *)names, k) : NULL;
    int rc = hint ? vt_cli_fail(io, "no plugin or component named '%s' (did you mean '%s'?)", name, hint)
                  : vt_cli_fail(io, "no plugin or component named '%s' (see 'visft plugins')", name);
    free(names);
    return rc;
}

static int describe_run(const vt_cli_io *io, void *vargs) {
    describe_args *a = vargs;
    vt_registry *reg;
    vt_err err;
    vt_err_clear(&err);
    if (vt_cli_open_registry(&a->plugin_paths, NULL, &reg, &err) != VT_OK) return vt_cli_fail(io, "%s", err.msg);

    /* A plugin name shows all its components; otherwise every component of that name (any kind), grouped
     * under its plugin. */
    bool found = false;
    for (size_t i = 0; i < vt_registry_plugin_count(reg) && !found; i++) {
        const vt_plugin_info *p = vt_registry_plugin(reg, i);
        if (p->state == VT_PLUGIN_LOADED && strcmp(p->name, a->name) == 0) {
            describe_plugin(reg, p, NULL, io->out);
            found = true;
        }
    }
    bool by_plugin = found;
    for (size_t i = 0; i < vt_registry_plugin_count(reg) && !by_plugin; i++) {
        const vt_plugin_info *p = vt_registry_plugin(reg, i);
        bool has = false;
        for (size_t j = 0; j < vt_registry_component_count(reg); j++) {
            const vt_component *c = vt_registry_component(reg, j);
            has |= c->plugin == p && strcmp(c->name, a->name) == 0;
        }
        if (has) {
            if (found) fputc('\n', io->out);
            describe_plugin(reg, p, a->name, io->out);
            found = true;
        }
    }
    int rc = found ? VT_CLI_OK : not_found(io, reg, a->name);
    vt_registry_destroy(reg);
    return rc;
}

static const vt_cli_option describe_options[] = {
    VT_CLI_PLUGIN_PATH_OPTION(describe_args, plugin_paths),
    {0},
};

static const vt_cli_arg describe_arguments[] = {
    {"NAME", offsetof(describe_args, name), false, "a plugin name or a component (head/dataset/benchmark) name", false},
    {0},
};

static const vt_cli_command describe_cmd = {
    .name = "describe",
    .summary = "show a plugin's components and every parameter: type, default, range, help",
    .options = describe_options,
    .args = describe_arguments,
    .args_size = sizeof(describe_args),
    .run = describe_run,
};

static const vt_cli_command *const plugins_subcommands[] = {&describe_cmd, NULL};

static const vt_cli_option plugins_options[] = {
    VT_CLI_PLUGIN_PATH_OPTION(plugins_args, plugin_paths),
    {0},
};

const vt_cli_command vt_cmd_plugins = {
    .name = "plugins",
    .summary = "list every plugin found, with kind, version and path (and why any was refused)",
    .description = "List every plugin component found, with kind, version and path; then the plugin files that\n"
                   "were refused (with the reason) or shadowed by an earlier file of the same name.",
    .options = plugins_options,
    .args_size = sizeof(plugins_args),
    .run = list_run,
    .subcommands = plugins_subcommands,
    .epilog = "Plugins are searched in: --plugin-path, VISFT_PLUGIN_PATH (colon-separated), the config's\n"
              "plugin_paths, the build tree's plugins/, the install prefix's lib/visft/plugins.",
};
