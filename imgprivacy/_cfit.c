/* imgprivacy._cfit: the format-1 overlay fitting (imgprivacy/_resample.py) in one C loop, and the mix.
 *
 * fit(src, out, rows, cols, layout, carry, carry_row) -> carry_row
 *
 * Resamples `src` (h, w, c) to (gh * bh, gw * bw) exactly as imgprivacy._resample.Resampler
 * does, converts the channels as imgprivacy.krtio._fitting.block_strips does (RGB -> grey by
 * the luminance in float64, grey -> RGB by repetition) and writes float32 straight into the
 * block layout of block rows r0:r1 in `out`: row p - r0 * gw of `out` is block p (row-major),
 * its pixels in (bh, bw, c) order.  The numpy code is the reference; this file computes the
 * same bits:
 *
 * - the index and weight tables (rows, cols) are made in Python by the very functions the
 *   numpy path uses (_linear_weights, _area_edges), so every weight is the same double;
 * - every output value is made by the same IEEE-754 double operations, on the same operands
 *   and in the same order: grow  fl(fl(a * w0) + fl(b * w1));  shrink  cum[j] = fl(cum[j-1] +
 *   x[j-1]) strictly in order (rows from row 0 whatever the first row asked for, carried
 *   between calls in `carry`; columns from column 0 for each row, the first term copied as
 *   np.cumsum does), integral = fl(cum[whole] + fl(frac * x[nxt])), out = fl(fl(integral[i+1]
 *   - integral[i]) * scale); then the cast to float (round to nearest, as numpy's cast), the
 *   clip in float (numpy's minimum then maximum: NaN kept, -0.0 -> +0.0) where numpy clips,
 *   and the luminance fl(fl(fl(r * L0) + fl(g * L1)) + fl(b * L2)) in double on the clipped
 *   floats;
 * - IEEE-754 makes each of these operations correctly rounded, so equal operands give equal
 *   bits on any conforming machine.  What a C compiler could change is forbidden here:
 *   contraction into fused multiply-adds (GCC contracts across statements by default where the
 *   target has FMA, e.g. aarch64 or x86-64 with -march=native) is off (-ffp-contract=off from
 *   setup.py, and the STDC pragma in _cfit.h for compilers that honour it), reassociation needs
 *   -ffast-math / -Ofast (refused in _cfit.h: __FAST_MATH__ is an error) and excess precision (x87)
 *   is refused by FLT_EVAL_METHOD.  Auto-vectorisation of the independent elementwise loops
 *   computes the same operations lane by lane; the running sums stay sequential (GCC never
 *   reassociates them without -ffast-math).  A build that breaks any of this fails, and the
 *   optional extension is then simply absent (the numpy path is used).  On first use
 *   imgprivacy._resample also checks the kernel against the numpy code on small cases (the
 *   float64 values before the cast too, which a fused multiply-add changes about one in six
 *   of) and does not use it if a bit differs: tests/test_resample.py shows that check refusing
 *   this file compiled with -mfma -ffp-contract=fast.
 *
 * mix(out, sources, perms, weight, forward, geometry), in _cfit_mix.c: k-RTIO's mix (PreparedOverlays.mix_into):
 * out += fl32(w * sum) or out = clip(out - fl32(w * sum)), the sum of the shuffled blocks in
 * float32 in the order j = 1..k; float32 operations only, the same ones in the same order.
 *
 * Only the CPython C API and the buffer protocol are used (no numpy headers).  The GIL is
 * released while computing, so two threads fit two halves of the block rows in parallel.
 */
#include "_cfit.h"

enum { SAME = 0, GROW = 1, SHRINK = 2 };

typedef struct {
    int kind;
    Py_ssize_t n_in, n_out;
    const int64_t *ia, *ib; /* grow: i0, i1 (n_out); shrink: whole, nxt (n_out + 1) */
    const double *wa, *wb;  /* grow: 1 - w, w (n_out); shrink: frac (n_out + 1) */
    double scale;           /* shrink: n_out / n_in */
    Py_buffer views[4];
    int held;
} Axis;

typedef struct {
    const char *base;
    Py_ssize_t h, w, c, s0, s1, s2;
    int is_double;
    int is_u8;            /* 8-bit samples, decoded through lut (below) */
    int u8_flat, invert;  /* 8-bit: pixels contiguous, channels in order (a row is read in one loop) */
    Py_ssize_t coff[3];   /* 8-bit: byte offset of channel ch within a pixel (the channel order) */
    double lut[256];      /* 8-bit: sample u -> (double)fl32(u / 255), or of 1 - that when inverted */
} Source;

static void
release_axis(Axis *ax)
{
    for (int i = 0; i < ax->held; i++) {
        PyBuffer_Release(&ax->views[i]);
    }
    ax->held = 0;
}

/* One table of an axis: a contiguous buffer of at least `count` 8-byte items. */
static int
get_table(Axis *ax, PyObject *obj, Py_ssize_t count, const void **ptr, const char *what)
{
    Py_buffer *view = &ax->views[ax->held];
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS) < 0) {
        return -1;
    }
    ax->held++;
    if (view->len < count * 8) {
        PyErr_Format(PyExc_ValueError, "%s needs %zd 8-byte items, got %zd bytes", what, count, view->len);
        return -1;
    }
    if (((uintptr_t)view->buf) % 8 != 0) {
        PyErr_Format(PyExc_ValueError, "%s is not 8-byte aligned", what);
        return -1;
    }
    *ptr = view->buf;
    return 0;
}

int
cfit_check_indices(const int64_t *idx, Py_ssize_t count, Py_ssize_t hi, int monotonic, const char *what)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        if (idx[i] < 0 || idx[i] > hi || (monotonic && i > 0 && idx[i] < idx[i - 1])) {
            PyErr_Format(PyExc_ValueError, "%s: index %lld at %zd is out of range", what, (long long)idx[i], i);
            return -1;
        }
    }
    return 0;
}

/* (kind, ia, ib, wa, wb, scale) for an axis of n_in -> n_out samples. */
static int
parse_axis(PyObject *spec, Axis *ax, Py_ssize_t n_in, Py_ssize_t n_out, const char *name)
{
    PyObject *ia, *ib, *wa, *wb;
    const void *p;
    memset(ax, 0, sizeof(*ax));
    ax->n_in = n_in;
    ax->n_out = n_out;
    if (!PyArg_ParseTuple(spec, "iOOOOd", &ax->kind, &ia, &ib, &wa, &wb, &ax->scale)) {
        return -1;
    }
    if (ax->kind == SAME) {
        if (n_in != n_out) {
            PyErr_Format(PyExc_ValueError, "%s: 'same' needs equal sizes, got %zd and %zd", name, n_in, n_out);
            return -1;
        }
        return 0;
    }
    if (ax->kind == GROW) {
        if (get_table(ax, ia, n_out, &p, name) < 0) return -1;
        ax->ia = p;
        if (get_table(ax, ib, n_out, &p, name) < 0) return -1;
        ax->ib = p;
        if (get_table(ax, wa, n_out, &p, name) < 0) return -1;
        ax->wa = p;
        if (get_table(ax, wb, n_out, &p, name) < 0) return -1;
        ax->wb = p;
        if (cfit_check_indices(ax->ia, n_out, n_in - 1, 0, name) < 0) return -1;
        return cfit_check_indices(ax->ib, n_out, n_in - 1, 0, name);
    }
    if (ax->kind == SHRINK) {
        if (get_table(ax, ia, n_out + 1, &p, name) < 0) return -1;
        ax->ia = p;
        if (get_table(ax, ib, n_out + 1, &p, name) < 0) return -1;
        ax->ib = p;
        if (get_table(ax, wa, n_out + 1, &p, name) < 0) return -1;
        ax->wa = p;
        if (cfit_check_indices(ax->ia, n_out + 1, n_in, 1, name) < 0) return -1;
        return cfit_check_indices(ax->ib, n_out + 1, n_in - 1, 0, name);
    }
    PyErr_Format(PyExc_ValueError, "%s: unknown kind %d", name, ax->kind);
    return -1;
}

/* The elementwise loops, each on its own with restrict pointers so that the compiler vectorises
 * them (lane by lane: the same operations on each value). */
LOOP void
widen_f(double *restrict d, const float *restrict s, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) d[k] = (double)s[k];
}

/* 8-bit samples in order: fl32(u / 255) (or fl32(1 - that)) widened, as the lookup table below holds them,
 * computed in the loop so that it vectorises (the same float32 operations on each value). */
LOOP void
widen_u8(double *restrict d, const unsigned char *restrict s, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) d[k] = (double)((float)s[k] / 255.0f);
}

LOOP void
widen_u8_inverted(double *restrict d, const unsigned char *restrict s, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) d[k] = (double)(1.0f - (float)s[k] / 255.0f);
}

LOOP void
add_into(double *restrict acc, const double *restrict x, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) acc[k] = acc[k] + x[k];
}

LOOP void
integral_row(double *restrict out, const double *restrict cum, const double *restrict x, double f, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        const double part = f * x[k];
        out[k] = cum[k] + part;
    }
}

LOOP void
diff_scale(double *restrict t, const double *restrict hi, const double *restrict lo, double scale, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        const double d = hi[k] - lo[k];
        t[k] = d * scale;
    }
}

/* The same operations as add_into, integral_row and diff_scale on a float32 source row read in place
 * (each value widened exactly, as numpy's type promotion does), the last two fused into one pass:
 * the values and their order of operations are unchanged, only fewer passes over memory. */
LOOP void
add_into_f(double *restrict acc, const float *restrict x, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) acc[k] = acc[k] + (double)x[k];
}

LOOP void
integral_diff_f(double *restrict t, double *restrict prev, const double *restrict cum, const float *restrict x,
                double f, double scale, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        const double part = f * (double)x[k];
        const double integral = cum[k] + part;
        const double d = integral - prev[k];
        t[k] = d * scale;
        prev[k] = integral;
    }
}

/* The same on 8-bit rows in order, each sample decoded as widen_u8 does (U8 below: fl32(u / 255), or
 * fl32(1 - that), widened), in the loop so that it vectorises. */
#define U8(u, inv) ((inv) ? (double)(1.0f - (float)(u) / 255.0f) : (double)((float)(u) / 255.0f))
#define U8_LOOPS(body) \
    if (inv) { const int invc = 1; for (Py_ssize_t k = 0; k < n; k++) { body } } \
    else { const int invc = 0; for (Py_ssize_t k = 0; k < n; k++) { body } }

LOOP void
add_into_u8(double *restrict acc, const unsigned char *restrict x, int inv, Py_ssize_t n)
{
    U8_LOOPS(acc[k] = acc[k] + U8(x[k], invc);)
}

LOOP void
integral_diff_u8(double *restrict t, double *restrict prev, const double *restrict cum, const unsigned char *restrict x,
                 int inv, double f, double scale, Py_ssize_t n)
{
    U8_LOOPS(const double part = f * U8(x[k], invc); const double integral = cum[k] + part;
             const double d = integral - prev[k]; t[k] = d * scale; prev[k] = integral;)
}

LOOP void
integral_u8(double *restrict out, const double *restrict cum, const unsigned char *restrict x, int inv, double f,
            Py_ssize_t n)
{
    U8_LOOPS(const double part = f * U8(x[k], invc); out[k] = cum[k] + part;)
}

LOOP void
integral_f(double *restrict out, const double *restrict cum, const float *restrict x, double f, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        const double part = f * (double)x[k];
        out[k] = cum[k] + part;
    }
}

LOOP void
lerp(double *restrict t, const double *restrict a, const double *restrict b, double w0, double w1, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        const double p = a[k] * w0;
        const double q = b[k] * w1;
        t[k] = p + q;
    }
}

/* numpy's clip01 in float32: minimum(v, 1) then maximum(v, 0); NaN kept (its bits), -0.0 -> +0.0 as
 * numpy's maximum gives (checked by the first-use check in imgprivacy/_resample.py and the tests).
 * Done on the bits (positive floats order as their bits read as integers; negative ones, -0.0 among
 * them, have the sign bit), so that it vectorises: a compiler keeping IEEE-754 exceptions exact
 * (-ftrapping-math, the default) will not if-convert float comparisons. */
static inline float
clip01f(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    const int32_t i = (int32_t)u;
    int32_t r = i < 0 ? 0 : i;                           /* below 0 (or -0.0, -NaN): +0.0 */
    r = r > 0x3f800000 ? 0x3f800000 : r;                 /* above 1 (or +inf, +NaN): 1.0 */
    r = (u & 0x7fffffffu) > 0x7f800000u ? i : r;         /* NaN: itself, as numpy's minimum/maximum */
    memcpy(&v, &r, sizeof v);
    return v;
}

/* An image row of gw segments of seg values, cast (and clipped) to the segments' places, blk floats apart. */
LOOP void
narrow_blocks(float *restrict d, const double *restrict s, Py_ssize_t gw, Py_ssize_t seg, Py_ssize_t blk)
{
    for (Py_ssize_t q = 0; q < gw; q++)
        for (Py_ssize_t k = 0; k < seg; k++) d[q * blk + k] = (float)s[q * seg + k];
}

LOOP void
narrow_clip_blocks(float *restrict d, const double *restrict s, Py_ssize_t gw, Py_ssize_t seg, Py_ssize_t blk)
{
    for (Py_ssize_t q = 0; q < gw; q++)
        for (Py_ssize_t k = 0; k < seg; k++) d[q * blk + k] = clip01f((float)s[q * seg + k]);
}

/* RGB -> grey, as block_strips: the clipped floats, the luminance in double, cast, clipped. */
LOOP void
luma_row(float *restrict d, const double *restrict s, const double *restrict luma, Py_ssize_t n)
{
    const double l0 = luma[0], l1 = luma[1], l2 = luma[2];
    for (Py_ssize_t x = 0; x < n; x++) {
        const double r = (double)clip01f((float)s[3 * x]);
        const double g = (double)clip01f((float)s[3 * x + 1]);
        const double b = (double)clip01f((float)s[3 * x + 2]);
        const double pr = r * l0;
        const double pg = g * l1;
        const double pb = b * l2;
        const double sum = pr + pg;
        d[x] = clip01f((float)(sum + pb));
    }
}

/* grey -> RGB, as block_strips: the clipped grey repeated. */
LOOP void
repeat_row(float *restrict d, const double *restrict s, Py_ssize_t n)
{
    for (Py_ssize_t x = 0; x < n; x++) {
        const float v = clip01f((float)s[x]);
        d[3 * x] = v;
        d[3 * x + 1] = v;
        d[3 * x + 2] = v;
    }
}

/* A growing column axis, as Resampler._column_pass: g = fl(fl(t[i0] * w0) + fl(t[i1] * w1)). */
static inline void
col_grow(const Axis *ax, const Py_ssize_t c, const double *restrict t, double *restrict g)
{
    const int64_t *i0 = ax->ia, *i1 = ax->ib;
    const double *w0 = ax->wa, *w1 = ax->wb;
    for (Py_ssize_t o = 0; o < ax->n_out; o++) {
        const double *a = t + i0[o] * c, *b = t + i1[o] * c;
        for (Py_ssize_t ch = 0; ch < c; ch++) {
            const double p = a[ch] * w0[o];
            const double q = b[ch] * w1[o];
            g[o * c + ch] = p + q;
        }
    }
}

/* A shrinking column axis, as Resampler._column_pass, without storing the running sums:
 * cum[0] = 0, cum[1] = t[0] (np.cumsum copies its first term), cum[k] = fl(cum[k-1] + t[k-1]);
 * integral[i] = fl(cum[whole[i]] + fl(t[nxt[i]] * frac[i])); g[i] = fl(fl(integral[i+1] - integral[i]) * scale). */
static inline void
col_shrink(const Axis *ax, const Py_ssize_t c, const double *restrict t, double *restrict g)
{
    const int64_t *whole = ax->ia, *nxt = ax->ib;
    const double *frac = ax->wa, scale = ax->scale;
    double sum[3] = {0.0, 0.0, 0.0}, prev[3] = {0.0, 0.0, 0.0};
    Py_ssize_t k = 0; /* sum = cum[k] */
    for (Py_ssize_t i = 0; i <= ax->n_out; i++) {
        const Py_ssize_t target = (Py_ssize_t)whole[i];
        if (k == 0 && target > 0) {
            for (Py_ssize_t ch = 0; ch < c; ch++) sum[ch] = t[ch];
            k = 1;
        }
        for (; k < target; k++)
            for (Py_ssize_t ch = 0; ch < c; ch++) sum[ch] = sum[ch] + t[k * c + ch];
        const double *xn = t + nxt[i] * c;
        for (Py_ssize_t ch = 0; ch < c; ch++) {
            const double part = xn[ch] * frac[i];
            const double integral = sum[ch] + part;
            if (i > 0) {
                const double d = integral - prev[ch];
                g[(i - 1) * c + ch] = d * scale;
            }
            prev[ch] = integral;
        }
    }
}

/* The column pass of one row t (n_in * c) into g (n_out * c); c is a constant in each copy. */
NOINLINE void
column_pass1(const Axis *ax, const double *restrict t, double *restrict g)
{
    if (ax->kind == GROW) col_grow(ax, 1, t, g);
    else col_shrink(ax, 1, t, g);
}

NOINLINE void
column_pass3(const Axis *ax, const double *restrict t, double *restrict g)
{
    if (ax->kind == GROW) col_grow(ax, 3, t, g);
    else col_shrink(ax, 3, t, g);
}

/* Source row j widened to double (exact), as numpy's astype(float64) or type promotion. */
static void
load_row(const Source *s, Py_ssize_t j, double *restrict dst)
{
    const char *row = s->base + j * s->s0;
    const Py_ssize_t w = s->w, c = s->c, n = w * c;
    if (s->is_u8 && s->u8_flat) {
        if (s->invert) widen_u8_inverted(dst, (const unsigned char *)row, n);
        else widen_u8(dst, (const unsigned char *)row, n);
    }
    else if (s->is_u8) { /* any strides (a turned or mirrored view), the channels in their order */
        for (Py_ssize_t x = 0; x < w; x++) {
            const unsigned char *px = (const unsigned char *)row + x * s->s1;
            for (Py_ssize_t ch = 0; ch < c; ch++) dst[x * c + ch] = s->lut[px[s->coff[ch]]];
        }
    }
    else if (!s->is_double) {
        if (s->s2 == (Py_ssize_t)sizeof(float) && s->s1 == c * (Py_ssize_t)sizeof(float)) {
            widen_f(dst, (const float *)row, n);
        }
        else {
            for (Py_ssize_t x = 0; x < w; x++)
                for (Py_ssize_t ch = 0; ch < c; ch++)
                    dst[x * c + ch] = (double)*(const float *)(row + x * s->s1 + ch * s->s2);
        }
    }
    else {
        if (s->s2 == (Py_ssize_t)sizeof(double) && s->s1 == c * (Py_ssize_t)sizeof(double)) {
            memcpy(dst, row, (size_t)n * sizeof(double));
        }
        else {
            for (Py_ssize_t x = 0; x < w; x++)
                for (Py_ssize_t ch = 0; ch < c; ch++)
                    dst[x * c + ch] = *(const double *)(row + x * s->s1 + ch * s->s2);
        }
    }
}

static inline const float *
src_row_f(const Source *s, Py_ssize_t j)
{
    return (const float *)(s->base + j * s->s0);
}

static inline const unsigned char *
src_row_u8(const Source *s, Py_ssize_t j)
{
    return (const unsigned char *)(s->base + j * s->s0);
}

/* Two row slots of widened source rows, so a row read by several output rows is converted once. */
typedef struct {
    const Source *src;
    double *buf[2];
    Py_ssize_t idx[2];
    int next; /* the slot to refill */
} Rows;

static const double *
get_row(Rows *r, Py_ssize_t j, Py_ssize_t keep)
{
    for (int i = 0; i < 2; i++)
        if (r->idx[i] == j) return r->buf[i];
    int slot = r->next;
    if (r->idx[slot] == keep) slot ^= 1; /* never evict the row the caller holds */
    load_row(r->src, j, r->buf[slot]);
    r->idx[slot] = j;
    r->next = slot ^ 1;
    return r->buf[slot];
}

typedef struct {
    Py_ssize_t out_h, gw, bh, bw, cout, r0, r1;
    int needs_clip;
    double luma[3];
} Layout;

/* One output row g (W * cin doubles) to its place in each block of its block row: cast (and clipped)
 * straight there, or, for a channel conversion, cast and converted into frow, then copied there. */
static void
write_row(const Layout *L, Py_ssize_t cin, const double *restrict g, float *restrict frow, float *restrict dest_row)
{
    const Py_ssize_t W = L->gw * L->bw, blk = L->bh * L->bw * L->cout, seg = L->bw * L->cout;
    if (cin == L->cout) {
        if (L->needs_clip) narrow_clip_blocks(dest_row, g, L->gw, seg, blk);
        else narrow_blocks(dest_row, g, L->gw, seg, blk);
        return;
    }
    if (cin == 3) luma_row(frow, g, L->luma, W);
    else repeat_row(frow, g, W);
    for (Py_ssize_t q = 0; q < L->gw; q++) memcpy(dest_row + q * blk, frow + q * seg, (size_t)seg * sizeof(float));
}

/* The work, without the GIL.  Returns the new carry row, or -1 when out of memory. */
static Py_ssize_t
fit_rows(const Source *src, const Axis *ra, const Axis *ca, const Layout *L, float *out, double *raw, double *carry,
         Py_ssize_t carry_row)
{
    const Py_ssize_t cin = src->c, n = src->w * cin, W = ca->n_out;
    const Py_ssize_t y_first = L->r0 * L->bh, y_stop = L->r1 * L->bh;
    const Py_ssize_t widest = (n > W * 3 ? n : W * 3) + 8;
    double *mem = malloc(sizeof(double) * (size_t)(6 * widest));
    float *frow = malloc(sizeof(float) * (size_t)widest);
    if (mem == NULL || frow == NULL) {
        free(mem);
        free(frow);
        return -1;
    }
    double *slot0 = mem, *slot1 = mem + widest, *t = mem + 2 * widest, *prev = mem + 3 * widest,
           *cur = mem + 4 * widest, *g = mem + 5 * widest;
    Rows rows = {src, {slot0, slot1}, {-1, -1}, 0};
    /* float32 rows of contiguous pixels are read in place by a shrinking row axis */
    const int flat_f = ra->kind == SHRINK && !src->is_double && !src->is_u8 && src->s2 == (Py_ssize_t)sizeof(float)
                       && src->s1 == cin * (Py_ssize_t)sizeof(float);
    /* 8-bit rows in order, likewise */
    const int flat_u8 = ra->kind == SHRINK && src->is_u8 && src->u8_flat;
    Py_ssize_t k = carry_row;
    const Py_ssize_t blk_row = L->gw * L->bh * L->bw * L->cout;
    for (Py_ssize_t y = y_first; y < y_stop; y++) {
        const double *tr = t;
        if (ra->kind == SAME) {
            tr = get_row(&rows, y, -1);
        }
        else if (ra->kind == GROW) {
            const Py_ssize_t j0 = (Py_ssize_t)ra->ia[y], j1 = (Py_ssize_t)ra->ib[y];
            const double *a = get_row(&rows, j0, -1);
            const double *b = get_row(&rows, j1, j0);
            lerp(t, a, b, ra->wa[y], ra->wb[y], n);
        }
        else if (flat_f) { /* shrink, float32 rows read in place: the same operations as below */
            if (y == y_first) {
                if (k > (Py_ssize_t)ra->ia[y]) k = 0;
                if (k == 0)
                    for (Py_ssize_t i = 0; i < n; i++) carry[i] = 0.0;
                for (; k < (Py_ssize_t)ra->ia[y]; k++) add_into_f(carry, src_row_f(src, k), n);
                integral_f(prev, carry, src_row_f(src, (Py_ssize_t)ra->ib[y]), ra->wa[y], n);
            }
            for (; k < (Py_ssize_t)ra->ia[y + 1]; k++) add_into_f(carry, src_row_f(src, k), n);
            integral_diff_f(t, prev, carry, src_row_f(src, (Py_ssize_t)ra->ib[y + 1]), ra->wa[y + 1], ra->scale, n);
        }
        else if (flat_u8) { /* shrink, 8-bit rows read in place: the same operations as below */
            const int inv = src->invert;
            if (y == y_first) {
                if (k > (Py_ssize_t)ra->ia[y]) k = 0;
                if (k == 0)
                    for (Py_ssize_t i = 0; i < n; i++) carry[i] = 0.0;
                for (; k < (Py_ssize_t)ra->ia[y]; k++) add_into_u8(carry, src_row_u8(src, k), inv, n);
                integral_u8(prev, carry, src_row_u8(src, (Py_ssize_t)ra->ib[y]), inv, ra->wa[y], n);
            }
            for (; k < (Py_ssize_t)ra->ia[y + 1]; k++) add_into_u8(carry, src_row_u8(src, k), inv, n);
            integral_diff_u8(t, prev, carry, src_row_u8(src, (Py_ssize_t)ra->ib[y + 1]), inv, ra->wa[y + 1], ra->scale, n);
        }
        else { /* shrink: cum[j] = fl(cum[j-1] + x[j-1]) from row 0, carried in `carry` (= cum[k]) */
            if (y == y_first) {
                if (k > (Py_ssize_t)ra->ia[y]) k = 0; /* a carry from further down: sum again from row 0 */
                if (k == 0)
                    for (Py_ssize_t i = 0; i < n; i++) carry[i] = 0.0;
                for (; k < (Py_ssize_t)ra->ia[y]; k++) add_into(carry, get_row(&rows, k, -1), n);
                integral_row(prev, carry, get_row(&rows, (Py_ssize_t)ra->ib[y], -1), ra->wa[y], n);
            }
            for (; k < (Py_ssize_t)ra->ia[y + 1]; k++) add_into(carry, get_row(&rows, k, -1), n);
            integral_row(cur, carry, get_row(&rows, (Py_ssize_t)ra->ib[y + 1], -1), ra->wa[y + 1], n);
            diff_scale(t, cur, prev, ra->scale, n);
            double *swap = prev;
            prev = cur;
            cur = swap;
        }
        if (ca->kind != SAME) {
            if (cin == 3) column_pass3(ca, tr, g);
            else column_pass1(ca, tr, g);
            tr = g;
        }
        const Py_ssize_t r = y / L->bh, dy = y % L->bh;
        if (raw != NULL) /* the checks' mode: the double rows before the cast, in image layout */
            memcpy(raw + (y - y_first) * W * cin, tr, (size_t)(W * cin) * sizeof(double));
        else
            write_row(L, cin, tr, frow, out + (r - L->r0) * blk_row + dy * L->bw * L->cout);
    }
    free(frow);
    free(mem);
    return k;
}

int
cfit_is_format(const char *fmt, char want)
{
    if (fmt == NULL) return want == 'B';
    if (fmt[0] == '@' || fmt[0] == '=' || fmt[0] == (PY_LITTLE_ENDIAN ? '<' : '>')) fmt++;
    return fmt[0] == want && fmt[1] == '\0';
}

PyDoc_STRVAR(fit_doc,
"fit(src, out, rows, cols, layout, carry, carry_row, decode=None) -> carry_row\n\n"
"Block rows r0:r1 of src (h, w, c; float32 or float64, any strides) fitted to the padded grid,\n"
"written as float32 into out (C-contiguous, (r1 - r0) * gw rows of bh * bw * cout), bit for bit\n"
"what imgprivacy.krtio._fitting.block_strips computes with numpy.  rows and cols are\n"
"(kind, ia, ib, wa, wb, scale) with kind 0 same, 1 grow (i0, i1, 1 - w, w), 2 shrink\n"
"(whole, nxt, frac, -, scale); layout is (out_h, gw, bh, bw, cout, r0, r1, needs_clip, L0, L1, L2).\n"
"carry (float64, w * c) holds the running row sum cum[carry_row] of a shrinking row axis between\n"
"calls (carry_row 0: start from row 0); the new carry_row is returned.  A float64 out (cout == c)\n"
"gets the rows r0 * bh:r1 * bh before the cast, in image layout (the checks compare them with the\n"
"numpy code's float64 rows).  src may also be uint8 (any strides, negative ones included) with\n"
"decode = (o0, o1, o2, invert): the image fl32(src[..., order] / 255), or fl32(1 - that) when\n"
"invert, as imgprivacy._resample.decode_u8 makes it (imgprivacy.data.to_float, then\n"
"numpy.subtract(1, x)); for c == 1 the order is (0, 0, 0).  The GIL is released.");

static PyObject *
cfit_fit(PyObject *self, PyObject *args)
{
    PyObject *src_obj, *out_obj, *rows_spec, *cols_spec, *carry_obj, *decode_obj = Py_None;
    Layout L;
    int needs_clip;
    Py_ssize_t carry_row, result = 0;
    Py_buffer src_view, out_view, carry_view;
    Axis ra, ca;
    int have_src = 0, have_out = 0, have_carry = 0, ok = 0;
    (void)self;
    memset(&ra, 0, sizeof(ra));
    memset(&ca, 0, sizeof(ca));
    if (!PyArg_ParseTuple(args, "OOO!O!(nnnnnnnpddd)On|O:fit", &src_obj, &out_obj, &PyTuple_Type, &rows_spec,
                          &PyTuple_Type, &cols_spec, &L.out_h, &L.gw, &L.bh, &L.bw, &L.cout, &L.r0, &L.r1, &needs_clip,
                          &L.luma[0], &L.luma[1], &L.luma[2], &carry_obj, &carry_row, &decode_obj)) {
        return NULL;
    }
    L.needs_clip = needs_clip;
    if (PyObject_GetBuffer(src_obj, &src_view, PyBUF_RECORDS_RO) < 0) goto done;
    have_src = 1;
    Source src;
    src.is_u8 = 0;
    if (src_view.ndim != 3) {
        PyErr_Format(PyExc_ValueError, "src must have 3 dimensions (h, w, c), got %d", src_view.ndim);
        goto done;
    }
    if (cfit_is_format(src_view.format, 'f')) src.is_double = 0;
    else if (cfit_is_format(src_view.format, 'd')) src.is_double = 1;
    else if (cfit_is_format(src_view.format, 'B')) src.is_double = 0, src.is_u8 = 1;
    else {
        PyErr_Format(PyExc_TypeError, "src must hold float32, float64 or uint8, got format '%s'",
                     src_view.format ? src_view.format : "B");
        goto done;
    }
    src.base = src_view.buf;
    src.h = src_view.shape[0];
    src.w = src_view.shape[1];
    src.c = src_view.shape[2];
    src.s0 = src_view.strides[0];
    src.s1 = src_view.strides[1];
    src.s2 = src_view.strides[2];
    {
        const Py_ssize_t item = src_view.itemsize;
        if (((uintptr_t)src.base) % item || src.s0 % item || src.s1 % item || src.s2 % item) {
            PyErr_SetString(PyExc_ValueError, "src must be aligned");
            goto done;
        }
    }
    if (src.h < 1 || src.w < 1 || !(src.c == 1 || src.c == 3)) {
        PyErr_Format(PyExc_ValueError, "src must be (h, w, 1) or (h, w, 3) with h, w >= 1, got (%zd, %zd, %zd)",
                     src.h, src.w, src.c);
        goto done;
    }
    if (src.is_u8 != (decode_obj != Py_None)) {
        PyErr_SetString(PyExc_TypeError, "decode = (o0, o1, o2, invert) is given for a uint8 src, and only for one");
        goto done;
    }
    if (src.is_u8) {
        int order[3], invert;
        if (!PyTuple_Check(decode_obj)) {
            PyErr_SetString(PyExc_TypeError, "decode must be a tuple (o0, o1, o2, invert)");
            goto done;
        }
        if (!PyArg_ParseTuple(decode_obj, "iiip:decode", &order[0], &order[1], &order[2], &invert)) goto done;
        const int perm = order[0] != order[1] && order[1] != order[2] && order[0] != order[2];
        for (int ch = 0; ch < 3; ch++) {
            if (order[ch] < 0 || order[ch] >= src.c || (src.c == 3 && !perm)) {
                PyErr_SetString(PyExc_ValueError, "decode: the order must be a permutation of the channels");
                goto done;
            }
            src.coff[ch] = order[ch] * src.s2;
        }
        for (int u = 0; u < 256; u++) { /* numpy's astype(float32), then a float32 division: one rounding */
            const float v = (float)u / 255.0f;
            src.lut[u] = invert ? (double)(1.0f - v) : (double)v;
        }
        src.invert = invert;
        src.u8_flat = src.s2 == 1 && src.s1 == src.c && (src.c == 1 || (order[0] == 0 && order[1] == 1 && order[2] == 2));
    }
    if (L.gw < 1 || L.bh < 1 || L.bw < 1 || !(L.cout == 1 || L.cout == 3) || L.r0 < 0 || L.r1 < L.r0) {
        PyErr_SetString(PyExc_ValueError, "layout: gw, bh, bw >= 1, cout 1 or 3, 0 <= r0 <= r1 needed");
        goto done;
    }
    if (L.r1 * L.bh > L.out_h) {
        PyErr_SetString(PyExc_ValueError, "layout: r1 * bh must not pass out_h");
        goto done;
    }
    if (parse_axis(rows_spec, &ra, src.h, L.out_h, "rows") < 0) goto done;
    if (parse_axis(cols_spec, &ca, src.w, L.gw * L.bw, "cols") < 0) goto done;
    if (PyObject_GetBuffer(out_obj, &out_view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    have_out = 1;
    const int raw = cfit_is_format(out_view.format, 'd');
    if (!cfit_is_format(out_view.format, 'f') && !(raw && L.cout == src.c)) {
        PyErr_SetString(PyExc_TypeError, "out must hold float32 (or float64 for the raw rows, cout == c)");
        goto done;
    }
    if (out_view.len < (L.r1 - L.r0) * L.gw * L.bh * L.bw * L.cout * (Py_ssize_t)(raw ? sizeof(double) : sizeof(float))) {
        PyErr_SetString(PyExc_ValueError, "out is too small for block rows r0:r1");
        goto done;
    }
    if (PyObject_GetBuffer(carry_obj, &carry_view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    have_carry = 1;
    if (!cfit_is_format(carry_view.format, 'd') || carry_view.len < src.w * src.c * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "carry must be float64 of w * c items");
        goto done;
    }
    if (carry_row < 0 || carry_row > src.h) {
        PyErr_SetString(PyExc_ValueError, "carry_row must be in [0, h]");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    result = fit_rows(&src, &ra, &ca, &L, raw ? NULL : (float *)out_view.buf, raw ? (double *)out_view.buf : NULL,
                      (double *)carry_view.buf, carry_row);
    Py_END_ALLOW_THREADS
    if (result < 0) {
        PyErr_NoMemory();
        goto done;
    }
    ok = 1;
done:
    release_axis(&ra);
    release_axis(&ca);
    if (have_carry) PyBuffer_Release(&carry_view);
    if (have_out) PyBuffer_Release(&out_view);
    if (have_src) PyBuffer_Release(&src_view);
    return ok ? PyLong_FromSsize_t(result) : NULL;
}

static PyMethodDef cfit_methods[] = {
    {"fit", cfit_fit, METH_VARARGS, fit_doc},
    {"mix", cfit_mix, METH_VARARGS, cfit_mix_doc},
    {"scatter", cfit_scatter, METH_VARARGS, cfit_scatter_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef cfit_module = {
    PyModuleDef_HEAD_INIT, "_cfit",
    "The compiled format-1 overlay fitting of imgprivacy (optional; imgprivacy._resample is the reference).", -1,
    cfit_methods,
};

PyMODINIT_FUNC
PyInit__cfit(void)
{
    return PyModule_Create(&cfit_module);
}
