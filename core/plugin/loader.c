/* Plugin loader: walks the search paths, dlopens each candidate and decides whether to accept it.
 *
 * A candidate is refused, with a one-line reason, when it cannot be dlopened, lacks the descriptor
 * symbol, speaks another ABI major or a newer minor, has a descriptor shorter than its ABI needs, leaves
 * name/version/init NULL, fails its init, registers a bad component, or registers a (kind, name) that
 * another plugin already has. Every other candidate still loads.
 *
 * Nothing is ever dlclosed: a plugin's vtables and strings are referenced for the life of the process,
 * and unloading code that may still be on some instance's call path is not worth the risk. */
#define _GNU_SOURCE /* dladdr, dladdr1, dlinfo: locate symbols and the library's own directory */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin/internal.h"

#define MAX_STR 4096 /* bound on descriptor strings copied from a plugin */

/* ---- search paths ----------------------------------------------------------------------------------- */

static vt_status add_path(vt_registry *reg, const char *path, size_t len, bool is_default, vt_err *err) {
    if (!vt_grow((void **)&reg->paths, &reg->cap_paths, reg->n_paths, sizeof *reg->paths))
        return vt_err_set(err, VT_ENOMEM, "out of memory");
    char *copy = malloc(len + 1);
    if (!copy) return vt_err_set(err, VT_ENOMEM, "out of memory");
    memcpy(copy, path, len);
    copy[len] = '\0';
    reg->paths[reg->n_paths++] = (vt_search_path){copy, is_default};
    return VT_OK;
}

vt_status vt_registry_add_path(vt_registry *reg, const char *path, vt_err *err) {
    if (!reg || !path || !*path) return vt_err_set(err, VT_EINVAL, "plugin search path: empty path");
    return add_path(reg, path, strlen(path), false, err);
}

vt_status vt_registry_add_path_list(vt_registry *reg, const char *list, vt_err *err) {
    if (!reg) return vt_err_set(err, VT_EINVAL, "plugin search path: no registry");
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) { /* "a::b" and a trailing ':' add nothing */
            vt_status st = add_path(reg, p, len, false, err);
            if (st != VT_OK) return st;
        }
        p = end ? end + 1 : p + len;
    }
    return VT_OK;
}

/* Directory holding this libvisft (realpath), or NULL. */
static char *own_lib_dir(void) {
    Dl_info di;
    if (!dladdr((void *)&vt_registry_add_default_paths, &di) || !di.dli_fname) return NULL;
    char *real = realpath(di.dli_fname, NULL);
    if (!real) return NULL;
    char *slash = strrchr(real, '/');
    if (slash) *slash = '\0';
    return real;
}

static bool is_build_tree_lib_dir(const char *dir) {
#ifdef VISFT_LIB_BUILD_DIR
    char *build = realpath(VISFT_LIB_BUILD_DIR, NULL);
    bool same = dir && build && strcmp(dir, build) == 0;
    free(build);
    return same;
#else
    (void)dir;
    return false;
#endif
}

vt_status vt_registry_add_default_paths(vt_registry *reg, vt_err *err) {
    if (!reg) return vt_err_set(err, VT_EINVAL, "plugin search path: no registry");
    char *dir = own_lib_dir();
    vt_status st = VT_OK;
    bool in_build_tree = is_build_tree_lib_dir(dir);
#ifdef VISFT_PLUGIN_BUILD_DIR
    /* An installed visft must not pick up whatever its old build tree holds. */
    if (in_build_tree) st = add_path(reg, VISFT_PLUGIN_BUILD_DIR, strlen(VISFT_PLUGIN_BUILD_DIR), true, err);
#endif
    if (st == VT_OK && dir && !in_build_tree) {
        /* Installed: plugins sit at LIBDIR/visft/plugins beside us, wherever the prefix was moved to. */
        size_t n = strlen(dir) + sizeof "/visft/plugins";
        char *p = malloc(n);
        if (!p) {
            st = vt_err_set(err, VT_ENOMEM, "out of memory");
        } else {
            snprintf(p, n, "%s/visft/plugins", dir);
            st = add_path(reg, p, strlen(p), true, err);
            free(p);
        }
    }
#ifdef VISFT_PLUGIN_INSTALL_DIR
    if (st == VT_OK && (!dir || in_build_tree))
        st = add_path(reg, VISFT_PLUGIN_INSTALL_DIR, strlen(VISFT_PLUGIN_INSTALL_DIR), true, err);
#endif
    free(dir);
    return st;
}

/* ---- plugin records --------------------------------------------------------------------------------- */

static vt_status problem(vt_registry *reg, vt_err *err, const char *fmt, ...) {
    if (!vt_grow((void **)&reg->problems, &reg->cap_problems, reg->n_problems, sizeof(char *)))
        return vt_err_set(err, VT_ENOMEM, "out of memory");
    char buf[VT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *s = vt_strdup_bounded(buf, sizeof buf);
    if (!s) return vt_err_set(err, VT_ENOMEM, "out of memory");
    reg->problems[reg->n_problems++] = s;
    return VT_OK;
}

static vt_plugin_rec *rec_new(vt_registry *reg, const char *path, const char *real) {
    if (!vt_grow((void **)&reg->plugins, &reg->cap_plugins, reg->n_plugins, sizeof(vt_plugin_rec *)))
        return NULL;
    vt_plugin_rec *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    const char *slash = strrchr(path, '/');
    r->path = vt_strdup_bounded(path, PATH_MAX);
    r->base = vt_strdup_bounded(slash ? slash + 1 : path, PATH_MAX);
    r->real = real ? vt_strdup_bounded(real, PATH_MAX) : NULL;
    r->reason = vt_strdup_bounded("", 1);
    if (!r->path || !r->base || !r->reason || (real && !r->real)) {
        free(r->path), free(r->base), free(r->real), free(r->reason), free(r);
        return NULL;
    }
    r->info.path = r->path;
    r->info.reason = r->reason;
    reg->plugins[reg->n_plugins++] = r;
    return r;
}

/* Sets the record's state and one-line reason (newlines from plugin messages become spaces). */
static void rec_state(vt_plugin_rec *r, vt_plugin_state state, const char *fmt, ...) {
    char buf[VT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
    char *s = vt_strdup_bounded(buf, sizeof buf);
    if (s) { /* on allocation failure the old (empty) reason stays: the state still tells */
        free(r->reason);
        r->reason = s;
        r->info.reason = s;
    }
    r->info.state = state;
}

static void rec_descriptor_strings(vt_plugin_rec *r, const vt_plugin_descriptor *d) {
    r->name = vt_strdup_bounded(d->name, MAX_STR);
    r->version = vt_strdup_bounded(d->version, MAX_STR);
    r->description = vt_strdup_bounded(d->description, MAX_STR);
    r->license = vt_strdup_bounded(d->license, MAX_STR);
    r->info.name = r->name;
    r->info.version = r->version;
    r->info.description = r->description;
    r->info.license = r->license;
}

/* ---- the registrar handed to init ------------------------------------------------------------------- */

typedef struct load_state {
    vt_registrar registrar; /* first: add_component gets it back as `self` */
    vt_plugin_rec *rec;
    vt_component **pending;
    size_t n, cap;
    bool open;   /* false once init returned: late calls are refused */
    bool failed; /* a component was rejected; the whole plugin is then refused */
    vt_err first;
} load_state;

static vt_status registrar_add(vt_registrar *self, const vt_component_info *info, vt_err *err) {
    if (!self) return vt_err_set(err, VT_EINVAL, "add_component: NULL registrar");
    load_state *ls = (load_state *)self;
    if (!ls->open) return vt_err_set(err, VT_ESTATE, "add_component called after init returned");
    vt_component *comp = NULL;
    vt_err local;
    vt_err_clear(&local);
    vt_status st = vt_component_build(info, &ls->rec->info, &comp, &local);
    if (st == VT_OK && !vt_grow((void **)&ls->pending, &ls->cap, ls->n, sizeof *ls->pending)) {
        vt_component_free(comp);
        st = vt_err_set(&local, VT_ENOMEM, "out of memory");
    }
    if (st != VT_OK) {
        if (!ls->failed) ls->first = local;
        ls->failed = true;
        if (err) *err = local;
        return st;
    }
    ls->pending[ls->n++] = comp;
    return VT_OK;
}

/* ---- loading one file ------------------------------------------------------------------------------- */

/* Finds the descriptor symbol in the object itself (dlsym also searches its dependencies) and checks it
 * is a data object at least `min_size` bytes long, so reading its header cannot run off its end. */
static const vt_plugin_descriptor *find_descriptor(void *handle, vt_plugin_rec *r) {
    dlerror();
    void *sym = dlsym(handle, VT_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        rec_state(r, VT_PLUGIN_REFUSED, "no '%s' symbol (not a visft plugin, or VISFT_PLUGIN_DEFINE missing)",
                  VT_PLUGIN_ENTRY_SYMBOL);
        return NULL;
    }
#ifdef __GLIBC__
    struct link_map *own = NULL, *where = NULL;
    const ElfW(Sym) *esym = NULL;
    Dl_info di;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &own) == 0 && dladdr1(sym, &di, (void **)&where, RTLD_DL_LINKMAP) &&
        where && own && where != own) {
        rec_state(r, VT_PLUGIN_REFUSED, "no '%s' symbol of its own (one is only in a library it links: %s)",
                  VT_PLUGIN_ENTRY_SYMBOL, di.dli_fname ? di.dli_fname : "?");
        return NULL;
    }
    if (dladdr1(sym, &di, (void **)&esym, RTLD_DL_SYMENT) && esym) {
        if (ELF64_ST_TYPE(esym->st_info) /* same bits in ELF32 */ != STT_OBJECT) {
            rec_state(r, VT_PLUGIN_REFUSED, "'%s' is not a data object (a function?)", VT_PLUGIN_ENTRY_SYMBOL);
            return NULL;
        }
        if (esym->st_size < offsetof(vt_plugin_descriptor, struct_size) + sizeof(uint32_t)) {
            rec_state(r, VT_PLUGIN_REFUSED, "'%s' is only %zu bytes: struct too short", VT_PLUGIN_ENTRY_SYMBOL,
                      (size_t)esym->st_size);
            return NULL;
        }
        const vt_plugin_descriptor *d = sym;
        if (d->struct_size > esym->st_size) {
            rec_state(r, VT_PLUGIN_REFUSED, "descriptor claims struct_size %u but the symbol is %zu bytes",
                      (unsigned)d->struct_size, (size_t)esym->st_size);
            return NULL;
        }
    }
#endif
    return sym;
}

/* Checks the descriptor header; on success copies it into *out (host layout, missing fields zero). */
static bool check_descriptor(const vt_plugin_descriptor *d, vt_plugin_rec *r, vt_plugin_descriptor *out) {
    r->info.abi_major = d->abi_major;
    r->info.abi_minor = d->abi_minor;
    /* Major first: with another major, nothing past the header can be trusted to mean anything. */
    if (d->abi_major != VT_PLUGIN_ABI_MAJOR) {
        rec_state(r, VT_PLUGIN_REFUSED, "ABI major mismatch: built for plugin ABI %u.%u, this visft speaks %d.%d",
                  d->abi_major, d->abi_minor, VT_PLUGIN_ABI_MAJOR, VT_PLUGIN_ABI_MINOR);
        return false;
    }
    if (d->abi_minor > VT_PLUGIN_ABI_MINOR) {
        rec_state(r, VT_PLUGIN_REFUSED,
                  "built for plugin ABI %u.%u, newer than this visft's %d.%d (upgrade visft or rebuild the plugin)",
                  d->abi_major, d->abi_minor, VT_PLUGIN_ABI_MAJOR, VT_PLUGIN_ABI_MINOR);
        return false;
    }
    if (d->struct_size < VT_PLUGIN_DESCRIPTOR_SIZE_1_0) {
        rec_state(r, VT_PLUGIN_REFUSED, "descriptor struct too short: %u bytes, ABI %u.%u needs at least %zu",
                  d->struct_size, d->abi_major, d->abi_minor, (size_t)VT_PLUGIN_DESCRIPTOR_SIZE_1_0);
        return false;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, d, d->struct_size < sizeof *out ? d->struct_size : sizeof *out);
    rec_descriptor_strings(r, out);
    const char *missing = !out->name ? "name" : !out->version ? "version" : !out->init ? "init" : NULL;
    if (missing) {
        rec_state(r, VT_PLUGIN_REFUSED, "descriptor has a NULL %s", missing);
        return false;
    }
    if (!vt_valid_name(out->name)) {
        rec_state(r, VT_PLUGIN_REFUSED, "plugin name '%.64s' is not [A-Za-z0-9_.-]+", out->name);
        return false;
    }
    return true;
}

static vt_status run_init(vt_registry *reg, vt_plugin_rec *r, const vt_plugin_descriptor *d, vt_err *err) {
    load_state ls = {0};
    ls.registrar.struct_size = sizeof ls.registrar;
    ls.registrar.host_abi_major = VT_PLUGIN_ABI_MAJOR;
    ls.registrar.host_abi_minor = VT_PLUGIN_ABI_MINOR;
    ls.registrar.add_component = registrar_add;
    ls.rec = r;
    ls.open = true;
    vt_err_clear(&ls.first);

    vt_err ierr;
    vt_err_clear(&ierr);
    vt_status st = d->init(&ls.registrar, &ierr);
    ls.open = false;
    ierr.msg[sizeof ierr.msg - 1] = '\0'; /* the plugin may have left it unterminated */

    vt_status ret = VT_OK;
    vt_err cerr;
    vt_err_clear(&cerr);
    /* A rejected component is the root cause even when init then failed because of it. */
    if (ls.failed) {
        rec_state(r, VT_PLUGIN_REFUSED, "%s", ls.first.msg);
    } else if (st != VT_OK) {
        rec_state(r, VT_PLUGIN_REFUSED, "init failed: %s", ierr.msg[0] ? ierr.msg : vt_status_name(st));
    } else if (vt_registry_commit(reg, ls.pending, ls.n, &cerr) != VT_OK) {
        rec_state(r, VT_PLUGIN_REFUSED, "%s", cerr.msg);
        if (cerr.code == VT_ENOMEM) ret = vt_err_set(err, VT_ENOMEM, "out of memory");
    } else {
        r->info.state = VT_PLUGIN_LOADED;
    }
    for (size_t i = 0; i < ls.n; i++) vt_component_free(ls.pending[i]); /* committed ones are NULL */
    free(ls.pending);
    return ret;
}

static vt_status load_file(vt_registry *reg, const char *path, vt_err *err) {
    char *real = realpath(path, NULL);
    int real_errno = errno;
    if (real) {
        for (size_t i = 0; i < reg->n_plugins; i++) {
            if (reg->plugins[i]->real && strcmp(reg->plugins[i]->real, real) == 0) {
                free(real); /* the same file reached twice through the search path: once is enough */
                return VT_OK;
            }
        }
    }
    vt_plugin_rec *r = rec_new(reg, path, real);
    free(real);
    if (!r) return vt_err_set(err, VT_ENOMEM, "out of memory");
    if (!r->real) {
        rec_state(r, VT_PLUGIN_REFUSED, "%s", strerror(real_errno));
        return VT_OK;
    }
    /* Like PATH: the first file of a name wins, later ones are shadowed, not loaded. */
    for (size_t i = 0; i + 1 < reg->n_plugins; i++) {
        const vt_plugin_rec *o = reg->plugins[i];
        if (o->info.state != VT_PLUGIN_SHADOWED && strcmp(o->base, r->base) == 0) {
            rec_state(r, VT_PLUGIN_SHADOWED, "shadowed by %s, found earlier in the search path", o->path);
            return VT_OK;
        }
    }

    dlerror();
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *msg = dlerror();
        size_t plen = strlen(path);
        if (msg && strncmp(msg, path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0) msg += plen + 2;
        rec_state(r, VT_PLUGIN_REFUSED, "cannot load: %s", msg ? msg : "dlopen failed");
        return VT_OK;
    }
    r->handle = handle;
    const vt_plugin_descriptor *sym = find_descriptor(handle, r);
    vt_plugin_descriptor d;
    if (!sym || !check_descriptor(sym, r, &d)) return VT_OK;

    for (size_t i = 0; i + 1 < reg->n_plugins; i++) {
        const vt_plugin_rec *o = reg->plugins[i];
        if (o->info.state == VT_PLUGIN_LOADED && o->name && strcmp(o->name, d.name) == 0) {
            rec_state(r, VT_PLUGIN_REFUSED, "plugin '%s' is already loaded from %s", d.name, o->path);
            return VT_OK;
        }
    }
    return run_init(reg, r, &d, err);
}

/* ---- scanning --------------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_plugin_name(const char *n) {
    size_t len = strlen(n);
    return n[0] != '.' && len > 3 && strcmp(n + len - 3, ".so") == 0;
}

static vt_status scan_dir(vt_registry *reg, const char *dir, vt_err *err) {
    DIR *d = opendir(dir);
    if (!d) return problem(reg, err, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    vt_status st = VT_OK;
    struct dirent *e;
    while (st == VT_OK && (e = readdir(d))) {
        if (!is_plugin_name(e->d_name)) continue;
        char *s = vt_strdup_bounded(e->d_name, PATH_MAX);
        if (!s || !vt_grow((void **)&names, &cap, n, sizeof *names)) {
            free(s);
            st = vt_err_set(err, VT_ENOMEM, "out of memory");
            break;
        }
        names[n++] = s;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str); /* name order: the same result on every machine */
    for (size_t i = 0; i < n; i++) {
        if (st == VT_OK) {
            size_t len = strlen(dir) + strlen(names[i]) + 2;
            char *path = malloc(len);
            struct stat sb;
            if (!path) {
                st = vt_err_set(err, VT_ENOMEM, "out of memory");
            } else {
                snprintf(path, len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]);
                if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) st = load_file(reg, path, err);
                free(path);
            }
        }
        free(names[i]);
    }
    free(names);
    return st;
}

vt_status vt_registry_load(vt_registry *reg, vt_err *err) {
    if (!reg) return vt_err_set(err, VT_EINVAL, "plugin loader: no registry");
    for (; reg->next_path < reg->n_paths; reg->next_path++) {
        const vt_search_path *sp = &reg->paths[reg->next_path];
        struct stat sb;
        vt_status st = VT_OK;
        if (stat(sp->path, &sb) != 0) {
            if (!sp->is_default) st = problem(reg, err, "%s: %s", sp->path, strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            st = scan_dir(reg, sp->path, err);
        } else if (S_ISREG(sb.st_mode)) {
            st = load_file(reg, sp->path, err);
        } else if (!sp->is_default) {
            st = problem(reg, err, "%s: not a directory or a plugin file", sp->path);
        }
        if (st != VT_OK) return st;
    }
    return VT_OK;
}
