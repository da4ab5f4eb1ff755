/* imgprivacy._cfit's mix: k-RTIO's out += w * sum (forward) or out = clip(out - w * sum) (inverse),
 * the bits of imgprivacy.krtio.PreparedOverlays.mix_into's numpy code: float32 operations only,
 * the same ones in the same order (the sum of the shuffled blocks j = 1..k, the product by the
 * float32 weight, the add or the subtract, np.clip's clip), compiled under the guards of _cfit.h. */
#include "_cfit.h"

/* np.clip(v, 0.0, 1.0) in float32 as numpy computes it: NaN kept, -0.0 kept (unlike
 * _cfit.c's clip01f, numpy's minimum and maximum), on the bits. */
static inline float
clip_mix(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    const int32_t i = (int32_t)u;
    int32_t r = (i < 0 && u != 0x80000000u) ? 0 : i; /* below 0: +0.0; -0.0 stays */
    r = r > 0x3f800000 ? 0x3f800000 : r;             /* above 1: 1.0 */
    r = (u & 0x7fffffffu) > 0x7f800000u ? i : r;     /* NaN: itself */
    memcpy(&v, &r, sizeof v);
    return v;
}

LOOP void
add_f(float *restrict acc, const float *restrict x, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) acc[k] = acc[k] + x[k];
}

LOOP void
mix_forward(float *restrict out, const float *restrict sum, float w, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        const float v = sum[k] * w;
        out[k] = out[k] + v;
    }
}

LOOP void
mix_inverse(float *restrict out, const float *restrict sum, float w, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        const float v = sum[k] * w;
        out[k] = clip_mix(out[k] - v);
    }
}

typedef struct {
    Py_ssize_t gh, gw, bh, bw, first, stop, H, W, c, k;
    const float **src;
    const int64_t **perm; /* NULL: one source, already summed in block order */
    float w;
    int forward;
} Mix;

/* Block rows first:stop of out (H, W, c) +=, or -= and clipped, w * (the sum over j of block perm_j[p] of
 * source j), the sum in float32 in the order j = 1..k, exactly as PreparedOverlays._strips and mix_into:
 * a block row's blocks are gathered (source 1) and added (sources 2..k) in long runs, then each image
 * row is made from them (the transpose) and mixed into out in one run. */
static int
mix_rows(const Mix *m, float *out)
{
    const Py_ssize_t size = m->bh * m->bw * m->c, seg = m->bw * m->c, n = m->gw * size, Wc = m->W * m->c;
    float *acc = malloc(sizeof(float) * (size_t)(2 * n + m->gw * seg));
    if (acc == NULL) return -1;
    float *tmp = acc + n, *row = acc + 2 * n;
    for (Py_ssize_t r = m->first; r < m->stop; r++) {
        const float *sum;
        if (m->perm == NULL) sum = m->src[0] + r * n;
        else {
            for (Py_ssize_t q = 0; q < m->gw; q++)
                memcpy(acc + q * size, m->src[0] + m->perm[0][r * m->gw + q] * size, (size_t)size * sizeof(float));
            for (Py_ssize_t j = 1; j < m->k; j++) {
                for (Py_ssize_t q = 0; q < m->gw; q++)
                    memcpy(tmp + q * size, m->src[j] + m->perm[j][r * m->gw + q] * size, (size_t)size * sizeof(float));
                add_f(acc, tmp, n);
            }
            sum = acc;
        }
        for (Py_ssize_t dy = 0; dy < m->bh; dy++) {
            const Py_ssize_t y = r * m->bh + dy;
            if (y >= m->H) break;
            for (Py_ssize_t q = 0; q < m->gw; q++)
                memcpy(row + q * seg, sum + q * size + dy * seg, (size_t)seg * sizeof(float));
            if (m->forward) mix_forward(out + y * Wc, row, m->w, Wc);
            else mix_inverse(out + y * Wc, row, m->w, Wc);
        }
    }
    free(acc);
    return 0;
}

const char cfit_mix_doc[] =
"mix(out, sources, perms, weight, forward, geometry)\n\n"
"Block rows first:stop of out (H, W, c; C-contiguous float32): out += w * sum (forward) or\n"
"out = clip(out - w * sum, 0, 1) (inverse), sum = the float32 sum, in order, of block perms[j][p] of\n"
"sources[j] (C-contiguous float32 of shape (gh * gw, bh * bw * c)); perms None: one source, already\n"
"summed in block order.  w is float32(weight); geometry is (gh, gw, bh, bw, first, stop).  The bits\n"
"of imgprivacy.krtio.PreparedOverlays.mix_into's numpy code.  The GIL is released.";

PyObject *
cfit_mix(PyObject *self, PyObject *args)
{
    PyObject *out_obj, *sources, *perms;
    double weight;
    int forward, ok = 0;
    Mix m;
    Py_buffer out_view, views[2 * 64];
    Py_ssize_t held = 0;
    const float *src_ptr[64];
    const int64_t *perm_ptr[64];
    (void)self;
    memset(&m, 0, sizeof(m));
    if (!PyArg_ParseTuple(args, "OO!Odp(nnnnnn):mix", &out_obj, &PyTuple_Type, &sources, &perms, &weight, &forward,
                          &m.gh, &m.gw, &m.bh, &m.bw, &m.first, &m.stop)) {
        return NULL;
    }
    m.k = PyTuple_GET_SIZE(sources);
    m.w = (float)weight;
    m.forward = forward;
    if (m.k < 1 || m.k > 64 || (perms != Py_None && (!PyTuple_Check(perms) || PyTuple_GET_SIZE(perms) != m.k))
        || (perms == Py_None && m.k != 1)) {
        PyErr_SetString(PyExc_ValueError, "mix needs 1 to 64 sources and as many perms (or None with one source)");
        return NULL;
    }
    if (m.gh < 1 || m.gw < 1 || m.bh < 1 || m.bw < 1 || m.first < 0 || m.stop < m.first || m.stop > m.gh) {
        PyErr_SetString(PyExc_ValueError, "mix: geometry (gh, gw, bh, bw, first, stop) out of range");
        return NULL;
    }
    if (PyObject_GetBuffer(out_obj, &out_view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) < 0)
        return NULL;
    if (!cfit_is_format(out_view.format, 'f') || out_view.ndim != 3) {
        PyErr_SetString(PyExc_TypeError, "out must be float32 of shape (H, W, c)");
        goto done;
    }
    m.H = out_view.shape[0];
    m.W = out_view.shape[1];
    m.c = out_view.shape[2];
    if (m.H > m.gh * m.bh || m.W > m.gw * m.bw || m.H <= (m.gh - 1) * m.bh || m.W <= (m.gw - 1) * m.bw) {
        PyErr_SetString(PyExc_ValueError, "mix: out's shape does not match the grid");
        goto done;
    }
    const Py_ssize_t b = m.gh * m.gw, size = m.bh * m.bw * m.c;
    for (Py_ssize_t j = 0; j < m.k; j++) {
        Py_buffer *v = &views[held];
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(sources, j), v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
        held++;
        if (!cfit_is_format(v->format, 'f') || v->len < b * size * (Py_ssize_t)sizeof(float)) {
            PyErr_SetString(PyExc_ValueError, "mix: each source must be float32 of (gh * gw, bh * bw * c)");
            goto done;
        }
        src_ptr[j] = v->buf;
        if (perms != Py_None) {
            Py_buffer *pv = &views[held];
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(perms, j), pv, PyBUF_C_CONTIGUOUS) < 0) goto done;
            held++;
            if (pv->len < b * 8 || ((uintptr_t)pv->buf) % 8) {
                PyErr_SetString(PyExc_ValueError, "mix: each perm must hold gh * gw 8-byte indices");
                goto done;
            }
            perm_ptr[j] = pv->buf;
            if (cfit_check_indices(perm_ptr[j], b, b - 1, 0, "perm") < 0) goto done;
        }
    }
    m.src = src_ptr;
    m.perm = perms == Py_None ? NULL : perm_ptr;
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = mix_rows(&m, (float *)out_view.buf);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    ok = 1;
done:
    for (Py_ssize_t i = 0; i < held; i++) PyBuffer_Release(&views[i]);
    PyBuffer_Release(&out_view);
    if (ok) Py_RETURN_NONE;
    return NULL;
}


const char cfit_scatter_doc[] =
"scatter(total, blocks, where, first, add)\n\n"
"Row i of blocks (n rows of C-contiguous float32) to row where[first + i] of total (C-contiguous\n"
"float32 of shape (b, size)): copied, or added in float32 when add is true.  The bits of\n"
"total[where[first:first + n]] = blocks (or +=) for a permutation where, as\n"
"imgprivacy.krtio.PreparedOverlays's streamed sum of the shuffled overlays does it.  The GIL is released.";

PyObject *
cfit_scatter(PyObject *self, PyObject *args)
{
    PyObject *total_obj, *blocks_obj, *where_obj;
    Py_ssize_t first;
    int add, ok = 0;
    Py_buffer total, blocks, where;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOnp:scatter", &total_obj, &blocks_obj, &where_obj, &first, &add)) return NULL;
    if (PyObject_GetBuffer(total_obj, &total, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) < 0)
        return NULL;
    if (PyObject_GetBuffer(blocks_obj, &blocks, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&total);
        return NULL;
    }
    if (PyObject_GetBuffer(where_obj, &where, PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&blocks);
        PyBuffer_Release(&total);
        return NULL;
    }
    if (!cfit_is_format(total.format, 'f') || total.ndim != 2 || !cfit_is_format(blocks.format, 'f')) {
        PyErr_SetString(PyExc_TypeError, "scatter: total must be float32 of shape (b, size), blocks float32");
        goto done;
    }
    const Py_ssize_t b = total.shape[0], size = total.shape[1];
    const Py_ssize_t n = size ? blocks.len / (Py_ssize_t)sizeof(float) / size : 0;
    if (size < 1 || n * size * (Py_ssize_t)sizeof(float) != blocks.len || first < 0 || first + n > b
        || where.len != b * 8 || ((uintptr_t)where.buf) % 8) {
        PyErr_SetString(PyExc_ValueError, "scatter: blocks must be whole rows of total's size, first + n <= b, "
                                          "where b 8-byte indices");
        goto done;
    }
    const int64_t *dest = (const int64_t *)where.buf + first;
    if (cfit_check_indices(dest, n, b - 1, 0, "where") < 0) goto done;
    float *out = (float *)total.buf;
    const float *src = (const float *)blocks.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        float *row = out + dest[i] * size;
        if (add) add_f(row, src + i * size, size);
        else memcpy(row, src + i * size, (size_t)size * sizeof(float));
    }
    Py_END_ALLOW_THREADS
    ok = 1;
done:
    PyBuffer_Release(&where);
    PyBuffer_Release(&blocks);
    PyBuffer_Release(&total);
    if (ok) Py_RETURN_NONE;
    return NULL;
}
