/* Optimizer state: lazy allocation, and enumeration and lookup by name so a trainer can checkpoint it and
 * restore it exactly. Names are "<param name>.<key>" ("group<g>.param<i>.<key>" for unnamed parameters), so
 * they survive rebuilding the model as long as parameter names do. */
#include <stdio.h>
#include <string.h>

#include "optim/internal.h"

static const char *const adamw_keys[] = {"step", "exp_avg", "exp_avg_sq"};
static const char *const sgd_keys[] = {"momentum_buffer"};

int vt_optim_state_keys(const vt_optim *o, const char *const **keys) {
    const char *const *k = NULL;
    int n = 0;
    if (o->opt.kind == VT_OPTIM_ADAMW) {
        k = adamw_keys;
        n = 3;
    } else if (o->opt.momentum != 0) {
        k = sgd_keys;
        n = 1;
    }
    if (keys) *keys = k;
    return n;
}

vt_status vt_optim_init_state(vt_optim *o, vt_optim_param *pp) {
    const char *const *keys;
    int n = vt_optim_state_keys(o, &keys);
    for (int k = 0; k < n; k++) {
        /* "step" is an i64 scalar on the host, the moments have the parameter's shape and device */
        bool is_step = !strcmp(keys[k], "step");
        vt_tensor *t = is_step ? vt_tensor_create(o->c, VT_I64, 0, NULL)
                               : vt_tensor_create_on(o->c, pp->p->device, VT_F32, pp->p->ndim, pp->p->shape);
        if (!t) {
            for (int j = 0; j < k; j++) {
                vt_tensor_release(pp->state[j]);
                pp->state[j] = NULL;
            }
            return vt_ctx_error(o->c)->code;
        }
        pp->state[k] = t;
    }
    return VT_OK;
}

void vt_optim_param_name(const vt_optim *o, size_t group, size_t i, char *buf, size_t len) {
    const vt_tensor *p = o->groups[group].params[i].p;
    if (p->name && p->name[0]) snprintf(buf, len, "%s", p->name);
    else snprintf(buf, len, "group%zu.param%zu", group, i);
}

size_t vt_optim_state_count(const vt_optim *o) {
    if (!o) return 0;
    size_t n = 0;
    int nkeys = vt_optim_state_keys(o, NULL);
    for (size_t g = 0; g < o->n_groups; g++)
        for (size_t i = 0; i < o->groups[g].n; i++)
            if (nkeys > 0 && o->groups[g].params[i].state[0]) n += (size_t)nkeys;
    return n;
}

bool vt_optim_state_at(const vt_optim *o, size_t idx, vt_optim_state_entry *e) {
    if (!o || !e) return false;
    const char *const *keys;
    int nkeys = vt_optim_state_keys(o, &keys);
    for (size_t g = 0; g < o->n_groups; g++)
        for (size_t i = 0; i < o->groups[g].n; i++) {
            const vt_optim_param *pp = &o->groups[g].params[i];
            if (nkeys == 0 || !pp->state[0]) continue;
            if (idx >= (size_t)nkeys) {
                idx -= (size_t)nkeys;
                continue;
            }
            char pname[VT_OPTIM_STATE_NAME_MAX];
            vt_optim_param_name(o, g, i, pname, sizeof pname);
            snprintf(e->name, sizeof e->name, "%s.%s", pname, keys[idx]);
            e->key = keys[idx];
            e->group = g;
            e->index = i;
            e->param = pp->p;
            e->tensor = pp->state[idx];
            return true;
        }
    return false;
}

vt_tensor *vt_optim_state_lookup(vt_optim *o, const char *name, bool create) {
    if (!o) return NULL;
    vt_ctx *c = o->c;
    if (!vt_ctx_ok(c)) return NULL;
    const char *dot = name ? strrchr(name, '.') : NULL;
    const char *const *keys;
    int nkeys = vt_optim_state_keys(o, &keys), k = 0;
    while (dot && k < nkeys && strcmp(dot + 1, keys[k])) k++;
    if (!dot || k == nkeys) {
        vt_ctx_fail(c, VT_ENOTFOUND, "optim: state '%s' does not name a state of this %s optimizer",
                    name ? name : "(null)", o->opt.kind == VT_OPTIM_ADAMW ? "AdamW" : "SGD");
        return NULL;
    }
    size_t plen = (size_t)(dot - name);
    char pname[VT_OPTIM_STATE_NAME_MAX];
    for (size_t g = 0; g < o->n_groups; g++)
        for (size_t i = 0; i < o->groups[g].n; i++) {
            vt_optim_param_name(o, g, i, pname, sizeof pname);
            if (strlen(pname) != plen || strncmp(pname, name, plen)) continue;
            vt_optim_param *pp = &o->groups[g].params[i];
            if (!pp->state[0]) {
                if (!create) {
                    vt_ctx_fail(c, VT_ENOTFOUND, "optim: parameter '%s' has no state yet", pname);
                    return NULL;
                }
                if (vt_optim_init_state(o, pp) != VT_OK) return NULL;
            }
            return pp->state[k];
        }
    vt_ctx_fail(c, VT_ENOTFOUND, "optim: state '%s': no parameter named '%.*s' in the optimizer", name, (int)plen,
                name);
    return NULL;
}
