/* What the two files of imgprivacy._cfit share (_cfit.c: the module and the fitting; _cfit_mix.c:
 * the mix): the floating-point guards (see _cfit.c), which every file must include first. */
#ifndef IMGPRIVACY_CFIT_H
#define IMGPRIVACY_CFIT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__FAST_MATH__)
#error "imgprivacy._cfit must not be compiled with -ffast-math or -Ofast: format 1 needs IEEE-754 arithmetic"
#endif
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "imgprivacy._cfit needs FLT_EVAL_METHOD == 0 (no excess precision): format 1 is double arithmetic"
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#if defined(_MSC_VER)
#pragma fp_contract(off)
#if !defined(__STDC_VERSION__) || __STDC_VERSION__ < 199901L
#define restrict __restrict
#endif
#endif

#if defined(_MSC_VER)
#define NOINLINE static __declspec(noinline)
#else
#define NOINLINE static __attribute__((noinline))
#endif

/* The elementwise loops are also compiled for AVX2 where GCC can pick a version when the module loads
 * (x86-64 Linux, glibc's ifunc): four doubles a step instead of SSE2's two, the same IEEE-754 operations
 * lane by lane (AVX2 has no fused multiply-add, which is a separate extension, and -ffp-contract=off
 * forbids contraction anyway).  The first-use check in imgprivacy/_resample.py runs the version chosen. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(IMGPRIVACY_NO_CLONES)
#define LOOP NOINLINE __attribute__((target_clones("avx2", "default")))
#else
#define LOOP NOINLINE
#endif

/* A buffer's struct format is the single native item `want` ('f', 'd'). */
int cfit_is_format(const char *fmt, char want);
/* Raise ValueError unless every idx[i] is in [0, hi] (and nondecreasing if monotonic). */
int cfit_check_indices(const int64_t *idx, Py_ssize_t count, Py_ssize_t hi, int monotonic, const char *what);

extern const char cfit_mix_doc[];
PyObject *cfit_mix(PyObject *self, PyObject *args);
extern const char cfit_scatter_doc[];
PyObject *cfit_scatter(PyObject *self, PyObject *args);

#endif
