/* `visft bench loader`: images/s through the whole data pipeline — JPEG decode (libjpeg-turbo), resize
 * (short side 256, antialiased bilinear), random horizontal flip, random 224 crop, normalize and collate into
 * f32 batches — on JPEGs at COCO sizes (about 640x480). bench/loader_torch.py runs the same pipeline in PIL +
 * torchvision on the same files and prints the ratio.
 *
 * Without --dir the images are generated (gradients, shapes, noise: content JPEG cannot compress away) so
 * the benchmark needs no data set. The first epoch is untimed: it warms the page cache for both sides. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "bench/bench.h"
#include "bench/loader.h"
#include "visft/config.h"
#include "visft/context.h"
#include "visft/pipeline.h"

/* The pipeline both sides run (loader_torch.py: Resize(256), RandomHorizontalFlip, RandomCrop(224),
 * ToTensor, Normalize, default_collate). */
static const char pipeline_yaml[] = "transforms:\n"
                                    "  - {resize: {short: 256, interp: bilinear}}\n"
                                    "  - random_flip\n"
                                    "  - {random_crop: {min: 224, max: 224}}\n"
                                    "  - {normalize: {mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}}\n";

/* ---- generating test JPEGs ------------------------------------------------------------------------------ */

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
} jpeg_err;

static void on_jpeg_error(j_common_ptr c) { longjmp(((jpeg_err *)c->err)->jump, 1); }

static uint32_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* A gradient, a dozen filled rectangles and discs, and pixel noise. */
static void draw(uint8_t *px, int w, int h, uint64_t seed) {
    uint64_t s = seed * 2654435761u + 1;
    uint8_t c0[3], c1[3];
    for (int c = 0; c < 3; c++) c0[c] = (uint8_t)lcg(&s), c1[c] = (uint8_t)lcg(&s);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int t = (x + y) * 255 / (w + h);
                px[((size_t)y * w + x) * 3 + c] = (uint8_t)((c0[c] * (255 - t) + c1[c] * t) / 255);
            }
    int shapes = 6 + (int)(lcg(&s) % 10);
    for (int k = 0; k < shapes; k++) {
        int cx = (int)(lcg(&s) % (uint32_t)w), cy = (int)(lcg(&s) % (uint32_t)h);
        int r = 10 + (int)(lcg(&s) % (uint32_t)(h / 3)), disc = (int)(lcg(&s) & 1);
        uint8_t col[3] = {(uint8_t)lcg(&s), (uint8_t)lcg(&s), (uint8_t)lcg(&s)};
        for (int y = cy - r < 0 ? 0 : cy - r; y < h && y <= cy + r; y++)
            for (int x = cx - r < 0 ? 0 : cx - r; x < w && x <= cx + r; x++)
                if (!disc || (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r)
                    memcpy(px + ((size_t)y * w + x) * 3, col, 3);
    }
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        int v = px[i] + (int)(lcg(&s) % 17) - 8;
        px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

static vt_status write_jpeg(const char *path, const uint8_t *px, int w, int h, vt_err *err) {
    FILE *f = fopen(path, "wb");
    if (!f) return vt_err_set(err, VT_EIO, "bench loader: cannot write %s: %s", path, strerror(errno));
    struct jpeg_compress_struct ci;
    jpeg_err je;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = on_jpeg_error;
    if (setjmp(je.jump)) {
        jpeg_destroy_compress(&ci);
        fclose(f);
        return vt_err_set(err, VT_EIO, "bench loader: libjpeg failed writing %s", path);
    }
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 90, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(uintptr_t)(px + (size_t)ci.next_scanline * w * 3);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return fclose(f) == 0 ? VT_OK : vt_err_set(err, VT_EIO, "bench loader: cannot write %s", path);
}

/* COCO's common sizes. */
static const int sizes[][2] = {{640, 480}, {480, 640}, {640, 427}, {427, 640}, {640, 512}, {612, 612},
                               {500, 375}, {640, 360}};

static vt_status generate(const char *dir, int count, vt_err *err) {
    uint8_t *px = malloc(640 * 640 * 3);
    if (!px) return vt_err_set(err, VT_ENOMEM, "bench loader: out of memory");
    vt_status st = VT_OK;
    for (int i = 0; st == VT_OK && i < count; i++) {
        const int *wh = sizes[i % (int)(sizeof sizes / sizeof sizes[0])];
        draw(px, wh[0], wh[1], (uint64_t)i);
        char path[4096];
        snprintf(path, sizeof path, "%s/img%04d.jpg", dir, i);
        st = write_jpeg(path, px, wh[0], wh[1], err);
    }
    free(px);
    return st;
}

/* ---- a dataset over a list of files ---------------------------------------------------------------------- */

typedef struct file_list {
    char **paths;
    size_t n;
} file_list;

static size_t fl_length(void *self) { return ((file_list *)self)->n; }

static vt_status fl_sample(void *self, size_t i, vt_sample *s, vt_err *err) {
    file_list *fl = self;
    s->image_id = (int64_t)i;
    return vt_sample_load_image(s, fl->paths[i], err);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_jpeg_name(const char *n) {
    size_t l = strlen(n);
    return (l > 4 && strcasecmp(n + l - 4, ".jpg") == 0) || (l > 5 && strcasecmp(n + l - 5, ".jpeg") == 0);
}

static void fl_free(file_list *fl) {
    for (size_t i = 0; i < fl->n; i++) free(fl->paths[i]);
    free(fl->paths);
    memset(fl, 0, sizeof *fl);
}

static vt_status list_jpegs(const char *dir, file_list *fl, vt_err *err) {
    memset(fl, 0, sizeof *fl);
    DIR *d = opendir(dir);
    if (!d) return vt_err_set(err, VT_EIO, "bench loader: cannot open %s: %s", dir, strerror(errno));
    size_t cap = 0;
    vt_status st = VT_OK;
    for (struct dirent *e; st == VT_OK && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !is_jpeg_name(e->d_name)) continue;
        if (fl->n == cap) {
            cap = cap ? 2 * cap : 256;
            char **p = realloc(fl->paths, cap * sizeof *p);
            if (!p) {
                st = vt_err_set(err, VT_ENOMEM, "bench loader: out of memory");
                break;
            }
            fl->paths = p;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(fl->paths[fl->n] = malloc(len))) st = vt_err_set(err, VT_ENOMEM, "bench loader: out of memory");
        else snprintf(fl->paths[fl->n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (st == VT_OK && fl->n) qsort(fl->paths, fl->n, sizeof *fl->paths, cmp_str);
    if (st != VT_OK) fl_free(fl);
    return st;
}

/* ---- the benchmark --------------------------------------------------------------------------------------- */

/* One pass over every file; returns seconds, or < 0 with err set. */
static double run_epoch(vt_pipeline *p, size_t *images, vt_err *err) {
    double t0 = vt_now();
    *images = 0;
    for (;;) {
        const vt_batch *b;
        if (vt_pipeline_next(p, &b, NULL, err) != VT_OK) return -1.0;
        if (!b) break;
        *images += (size_t)b->size;
        vt_pipeline_release(p, b);
    }
    return vt_now() - t0;
}

static vt_status bench_files(const vt_bench_loader_opts *o, const char *dir, const file_list *fl, FILE *out,
                             vt_err *err) {
    vt_cfg *cfg = NULL;
    vt_status st = vt_cfg_load_string(pipeline_yaml, sizeof pipeline_yaml - 1, "bench-loader", VT_CFG_NO_BASE,
                                      &cfg, err);
    if (st != VT_OK) return st;
    const vt_dataset_vtable vt = {.struct_size = sizeof vt, .length = fl_length, .sample = fl_sample};
    double *times = calloc((size_t)o->runs, sizeof *times);
    if (!times) {
        vt_cfg_free(cfg);
        return vt_err_set(err, VT_ENOMEM, "bench loader: out of memory");
    }
    size_t images = 0;
    vt_loader_stats last = {0};
    for (int r = 0; st == VT_OK && r < o->warmup + o->runs; r++) {
        /* A loader per epoch, epochs = 1: each pass ends cleanly with the queue drained, thread start
         * included (as a torch DataLoader epoch). */
        vt_pipeline_opts po = vt_pipeline_defaults();
        po.loader.batch_size = o->batch;
        po.loader.workers = o->workers;
        po.loader.seed = (uint64_t)r;
        po.loader.epochs = 1;
        po.loader.on_bad = VT_LOADER_FAIL;
        vt_pipeline *p;
        st = vt_pipeline_create(&vt, (void *)fl, vt_cfg_child(vt_cfg_root(cfg), "transforms"), &po, &p, err);
        if (st != VT_OK) break;
        double t = run_epoch(p, &images, err);
        if (r == o->warmup + o->runs - 1) last = vt_loader_get_stats(vt_pipeline_loader(p));
        vt_pipeline_destroy(p);
        if (t < 0) st = err->code ? err->code : VT_EIO;
        else if (r >= o->warmup) times[r - o->warmup] = t;
    }
    if (st == VT_OK) {
        double t = vt_bench_median(times, o->runs);
        double ips = (double)images / t, cores = o->workers > 0 ? o->workers : 1;
        fprintf(out, "visft loader: %zu JPEGs from %s, batch %d, workers %d\n", fl->n, dir, o->batch, o->workers);
        fprintf(out, "  pipeline: decode + resize 256 (bilinear, antialiased) + flip + random crop 224 + normalize"
                     " + collate\n");
        fprintf(out, "  %.1f images/s, %.1f images/s per core (median of %d epochs, %.3f s each)\n", ips,
                ips / cores, o->runs, t);
        double per = 1e3 / (double)(last.samples ? last.samples : 1);
        fprintf(out, "  per image (last epoch): read+decode %.2f ms, transforms %.2f ms, collate %.2f ms\n",
                last.read_s * per, last.transform_s * per, last.collate_s * per);
        if (o->json)
            fprintf(out, "{\"bench\": \"loader\", \"impl\": \"visft\", \"images\": %zu, \"workers\": %d, \"batch\": %d, "
                         "\"images_per_s\": %.3f, \"images_per_s_per_core\": %.3f}\n",
                    fl->n, o->workers, o->batch, ips, ips / cores);
    }
    free(times);
    vt_cfg_free(cfg);
    return st;
}

vt_status vt_bench_loader(const vt_bench_loader_opts *o, FILE *out, vt_err *err) {
    char tmp[] = "/tmp/visft_bench_loader_XXXXXX";
    const char *dir = o->dir;
    bool remove_after = false;
    if (!dir) {
        if (!mkdtemp(tmp)) return vt_err_set(err, VT_EIO, "bench loader: cannot create a temporary dir");
        dir = tmp;
        remove_after = true;
    } else if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        return vt_err_set(err, VT_EIO, "bench loader: cannot create %s: %s", dir, strerror(errno));
    }
    file_list fl;
    vt_status st = list_jpegs(dir, &fl, err);
    if (st == VT_OK && fl.n == 0) {
        fprintf(out, "generating %d JPEGs at COCO sizes in %s\n", o->count, dir);
        st = generate(dir, o->count, err);
        if (st == VT_OK) st = list_jpegs(dir, &fl, err);
    }
    if (st == VT_OK) st = bench_files(o, dir, &fl, out, err);
    if (remove_after) { /* what generate() may have written, even when it failed midway */
        char path[sizeof tmp + 32];
        for (int i = 0; i < o->count; i++) snprintf(path, sizeof path, "%s/img%04d.jpg", tmp, i), unlink(path);
        rmdir(tmp);
    }
    fl_free(&fl);
    return st;
}
