/* One iteration of the scaling loops of _dense_pair.py in one pass over the kernel
 * (wrapped by _dense_sweep.pyx).
 *
 * The kernel K (n x m, row-major) is read once per iteration, by blocks of OTKIT_BLOCK
 * rows: the row sums r_i = K_i. v of the block (four rows at a time: v is read once for
 * four rows), the relaxed updates u'_i of the block from a_i / r_i, then the column sums
 * c += u'_i K_i. (four rows at a time again) while the block is in L1. The products and
 * the row sums are in the storage type T (double or float: a float kernel takes twice
 * the lanes, its row sums within about sqrt(m / lanes) units of float's last place), the
 * column sums accumulate in double (four rows' products at a time; a float kernel's
 * rows eight at a time, in both passes). The relaxed update is
 *     relax(prev, exact, w) = exact exp(clip((w - 1) log(exact / prev), -1, 1)),
 * `exact` itself at w = 1; its log and exp (on [-1, 1] only) are the branch-free
 * polynomials below, within a few units in the last place of libm's, so that a block's
 * updates vectorize (a NaN ratio stays NaN, as in NumPy).
 */
#ifndef OTKIT_DENSE_SWEEP_H
#define OTKIT_DENSE_SWEEP_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* AVX-512 or AVX2 with FMA where the CPU has them, chosen at load time. */
#define OTKIT_SWEEP_MULTIVERSION                                                            \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define OTKIT_SWEEP_MULTIVERSION
#endif

/* Inlined into each clone of its callers: a call left out of line runs the baseline
 * (SSE2) code whatever the clone. */
#if defined(__GNUC__)
#define OTKIT_INLINE static inline __attribute__((always_inline))
#else
#define OTKIT_INLINE static inline
#endif

/* Rows a block: its relaxed updates (a chain of divisions and polynomials) on 8 lanes. */
#define OTKIT_BLOCK 8

/* exp(y) for |y| <= 1: the Taylor polynomial of degree 18 (remainder below 1e-17). */
static inline double otkit_exp_unit(double y)
{
    double p = 1.5619206968586225e-16;
    p = p * y + 2.8114572543455206e-15;
    p = p * y + 4.779477332387385e-14;
    p = p * y + 7.647163731819816e-13;
    p = p * y + 1.1470745597729725e-11;
    p = p * y + 1.6059043836821613e-10;
    p = p * y + 2.08767569878681e-09;
    p = p * y + 2.505210838544172e-08;
    p = p * y + 2.755731922398589e-07;
    p = p * y + 2.7557319223985893e-06;
    p = p * y + 2.48015873015873e-05;
    p = p * y + 0.0001984126984126984;
    p = p * y + 0.001388888888888889;
    p = p * y + 0.008333333333333333;
    p = p * y + 0.041666666666666664;
    p = p * y + 0.16666666666666666;
    p = p * y + 0.5;
    p = p * y + 1.0;
    return p * y + 1.0;
}

/* log(x) for x > 0 (subnormals included; +inf gives a finite 1024 log 2, 0 a finite
 * -1077 log 2, which the caller's clip makes immaterial): x = 2^e t with t in
 * [sqrt(1/2), sqrt(2)), log t = 2 atanh(s), s = (t - 1) / (t + 1), |s| < 0.172, the series
 * to s^21 (remainder below 1e-19); log 2 split so that e log2_hi is exact. */
static inline double otkit_log_pos(double x)
{
    double tiny = x < 2.2250738585072014e-308 ? 1.0 : 0.0;
    x = tiny != 0.0 ? x * 18014398509481984.0 : x; /* 2^54 */
    union {
        double d;
        uint64_t u;
    } bits = {x};
    double e = (double)((int64_t)((bits.u >> 52) & 0x7ff) - 1023) - 54.0 * tiny;
    bits.u = (bits.u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    double t = bits.d;
    double big = t > 1.4142135623730951 ? 1.0 : 0.0;
    t = big != 0.0 ? 0.5 * t : t;
    e += big;
    double s = (t - 1.0) / (t + 1.0), s2 = s * s;
    double p = 0.047619047619047616;
    p = p * s2 + 0.05263157894736842;
    p = p * s2 + 0.058823529411764705;
    p = p * s2 + 0.06666666666666667;
    p = p * s2 + 0.07692307692307693;
    p = p * s2 + 0.09090909090909091;
    p = p * s2 + 0.1111111111111111;
    p = p * s2 + 0.14285714285714285;
    p = p * s2 + 0.2;
    p = p * s2 + 0.3333333333333333;
    double log_t = 2.0 * s + 2.0 * s * (s2 * p);
    return e * 0.6931471804855391 + (log_t + e * 7.440617110012397e-11);
}

static inline double otkit_relax(double prev, double exact, double w)
{
    double q = exact / prev;
    double step = otkit_log_pos(q) * (w - 1.0);
    step = q == q ? step : q; /* NaN in, NaN out */
    /* comparisons, not fmin/fmax: a NaN step must stay NaN */
    step = step < -1.0 ? -1.0 : step;
    step = step > 1.0 ? 1.0 : step;
    return exact * otkit_exp_unit(step);
}

static inline int otkit_in_range(double s, double lo, double hi) { return s > lo && s < hi; }

/* r[k] = K_{i+k}. v for k < 4 (rows of length m from `row`, stride m) */
#define OTKIT_DEFINE_ROWS4(NAME, T)                                                         \
    OTKIT_INLINE void NAME(const T *row, int64_t m, const T *v, double *r)                  \
    {                                                                                       \
        const T *k0 = row, *k1 = row + m, *k2 = row + 2 * m, *k3 = row + 3 * m;             \
        T r0 = 0, r1 = 0, r2 = 0, r3 = 0;                                                    \
        _Pragma("omp simd reduction(+ : r0, r1, r2, r3)") for (int64_t j = 0; j < m; j++)   \
        {                                                                                   \
            T vj = v[j];                                                                    \
            r0 += k0[j] * vj;                                                               \
            r1 += k1[j] * vj;                                                               \
            r2 += k2[j] * vj;                                                               \
            r3 += k3[j] * vj;                                                               \
        }                                                                                   \
        r[0] = (double)r0, r[1] = (double)r1, r[2] = (double)r2, r[3] = (double)r3;         \
    }                                                                                       \
    OTKIT_INLINE double NAME##_one(const T *row, int64_t m, const T *v)                     \
    {                                                                                       \
        T r0 = 0;                                                                           \
        _Pragma("omp simd reduction(+ : r0)") for (int64_t j = 0; j < m; j++) r0 +=         \
            row[j] * v[j];                                                                  \
        return (double)r0;                                                                  \
    }

/* r[k] = K_{i+k}. v for k < 8 */
#define OTKIT_DEFINE_ROWS8(NAME, T)                                                         \
    OTKIT_INLINE void NAME##_8(const T *row, int64_t m, const T *v, double *r)              \
    {                                                                                       \
        const T *k0 = row, *k1 = row + m, *k2 = row + 2 * m, *k3 = row + 3 * m;             \
        const T *k4 = row + 4 * m, *k5 = row + 5 * m, *k6 = row + 6 * m, *k7 = row + 7 * m; \
        T r0 = 0, r1 = 0, r2 = 0, r3 = 0, r4 = 0, r5 = 0, r6 = 0, r7 = 0;                   \
        _Pragma("omp simd reduction(+ : r0, r1, r2, r3, r4, r5, r6, r7)")                   \
        for (int64_t j = 0; j < m; j++) {                                                   \
            T vj = v[j];                                                                    \
            r0 += k0[j] * vj, r1 += k1[j] * vj, r2 += k2[j] * vj, r3 += k3[j] * vj;         \
            r4 += k4[j] * vj, r5 += k5[j] * vj, r6 += k6[j] * vj, r7 += k7[j] * vj;         \
        }                                                                                   \
        r[0] = r0, r[1] = r1, r[2] = r2, r[3] = r3, r[4] = r4, r[5] = r5, r[6] = r6;        \
        r[7] = r7;                                                                          \
    }

OTKIT_DEFINE_ROWS4(otkit_rows4_f64, double)
OTKIT_DEFINE_ROWS4(otkit_rows4_f32, float)
OTKIT_DEFINE_ROWS8(otkit_rows4_f64, double) /* (unused: the float64 sweep keeps four) */
OTKIT_DEFINE_ROWS8(otkit_rows4_f32, float)

/* The sweep: given u, v, the previous column sums `cols` and the factor w,
 *   rows = K v (mode 1: skipped, rows holds K v already),
 *   err[0] = ||u * rows - a||^2 (the old u), err[1] = ||v * cols - b||^2 (the old sums),
 *   u_new = relax(u, a / rows, w), cols = u_new K, v_new = relax(v, b / cols, w);
 * returns 0, or 1 when u_new leaves (lo, hi) (cols, v_new are then not computed), or 2
 * when v_new does. Mode 2: rows and the errors only (returns 0). acc: m doubles of work. */
#define OTKIT_DEFINE_SWEEP(NAME, ROWS4, T)                                                  \
    OTKIT_SWEEP_MULTIVERSION                                                                \
    static int NAME(const T *K, int64_t n, int64_t m, const T *a, const T *b, const T *u,   \
                    const T *v, T *rows, T *cols, T *u_new, T *v_new, double *acc,          \
                    double w, double lo, double hi, int mode, double *err)            \
    {                                                                                       \
        double err_rows = 0.0, err_cols = 0.0;                                              \
        int u_ok = 1, v_ok = 1;                                                             \
        for (int64_t j = 0; j < m; j++) {                                                   \
            double d = (double)v[j] * (double)cols[j] - (double)b[j];                       \
            err_cols += d * d;                                                              \
            acc[j] = 0.0;                                                                   \
        }                                                                                   \
        for (int64_t i0 = 0; i0 < n; i0 += OTKIT_BLOCK) {                                   \
            int64_t nb = n - i0 < OTKIT_BLOCK ? n - i0 : OTKIT_BLOCK;                       \
            const T *block = K + i0 * m;                                                    \
            double r[OTKIT_BLOCK], s[OTKIT_BLOCK];                                          \
            int64_t k = 0;                                                                  \
            if (mode == 1) {                                                                \
                for (k = 0; k < nb; k++)                                                    \
                    r[k] = (double)rows[i0 + k];                                            \
            } else {                                                                        \
                if (nb == 8 && sizeof(T) == 4) { /* (float: eight rows a pass) */          \
                    ROWS4##_8(block, m, v, r);                                              \
                    k = 8;                                                                  \
                }                                                                           \
                for (; k + 4 <= nb; k += 4)                                                 \
                    ROWS4(block + k * m, m, v, r + k);                                      \
                for (; k < nb; k++)                                                         \
                    r[k] = ROWS4##_one(block + k * m, m, v);                                \
                for (k = 0; k < nb; k++) {                                              \
                    rows[i0 + k] = (T)r[k];                                             \
                    r[k] = (double)rows[i0 + k];                                        \
                }                                                                       \
            }                                                                               \
            for (k = 0; k < nb; k++) {                                                      \
                double d = (double)u[i0 + k] * r[k] - (double)a[i0 + k];                    \
                err_rows += d * d;                                                          \
            }                                                                               \
            if (mode == 2)                                                                  \
                continue;                                                                   \
            if (w == 1.0) {                                                                 \
                for (k = 0; k < nb; k++)                                                    \
                    s[k] = (double)a[i0 + k] / r[k];                                        \
            } else {                                                                        \
                _Pragma("omp simd") for (k = 0; k < nb; k++) s[k] =                         \
                    otkit_relax((double)u[i0 + k], (double)a[i0 + k] / r[k], w);            \
            }                                                                               \
            for (k = 0; k < nb; k++) {                                                      \
                u_new[i0 + k] = (T)s[k];                                                    \
                s[k] = (double)u_new[i0 + k];                                               \
                if (!otkit_in_range(s[k], lo, hi))                                          \
                    u_ok = 0;                                                               \
            }                                                                               \
            if (!u_ok)                                                                      \
                continue; /* (the errors still need every row) */                           \
            k = 0;                                                                          \
            if (nb == 8 && sizeof(T) == 4) { /* (float: eight rows' products a double sum) */\
                const T *k0 = block, *k1 = k0 + m, *k2 = k1 + m, *k3 = k2 + m;              \
                const T *k4 = k3 + m, *k5 = k4 + m, *k6 = k5 + m, *k7 = k6 + m;             \
                T s0 = (T)s[0], s1 = (T)s[1], s2 = (T)s[2], s3 = (T)s[3];                   \
                T s4 = (T)s[4], s5 = (T)s[5], s6 = (T)s[6], s7 = (T)s[7];                   \
                _Pragma("omp simd") for (int64_t j = 0; j < m; j++) acc[j] +=               \
                    (double)(((s0 * k0[j] + s1 * k1[j]) + (s2 * k2[j] + s3 * k3[j])) +      \
                             ((s4 * k4[j] + s5 * k5[j]) + (s6 * k6[j] + s7 * k7[j])));      \
                k = 8;                                                                      \
            }                                                                               \
            for (; k + 4 <= nb; k += 4) {                                                   \
                const T *k0 = block + k * m, *k1 = k0 + m, *k2 = k1 + m, *k3 = k2 + m;      \
                T s0 = (T)s[k], s1 = (T)s[k + 1], s2 = (T)s[k + 2], s3 = (T)s[k + 3];      \
                _Pragma("omp simd") for (int64_t j = 0; j < m; j++) acc[j] +=               \
                    (double)((s0 * k0[j] + s1 * k1[j]) + (s2 * k2[j] + s3 * k3[j]));        \
            }                                                                               \
            for (; k < nb; k++) {                                                           \
                const T *k0 = block + k * m;                                                \
                T s0 = (T)s[k];                                                             \
                _Pragma("omp simd") for (int64_t j = 0; j < m; j++) acc[j] +=               \
                    (double)(s0 * k0[j]);                                                   \
            }                                                                               \
        }                                                                                   \
        err[0] = err_rows;                                                                  \
        err[1] = err_cols;                                                                  \
        if (mode == 2)                                                                      \
            return 0;                                                                       \
        if (!u_ok)                                                                          \
            return 1;                                                                       \
        for (int64_t j = 0; j < m; j++)                                                 \
            cols[j] = (T)acc[j];                                                        \
        if (w == 1.0) {                                                                 \
            for (int64_t j = 0; j < m; j++)                                             \
                v_new[j] = (T)((double)b[j] / (double)cols[j]);                         \
        } else {                                                                        \
            _Pragma("omp simd") for (int64_t j = 0; j < m; j++) v_new[j] =              \
                (T)otkit_relax((double)v[j], (double)b[j] / (double)cols[j], w);        \
        }                                                                               \
        for (int64_t j = 0; j < m; j++)                                                 \
            if (!otkit_in_range((double)v_new[j], lo, hi))                              \
                v_ok = 0;                                                               \
        return v_ok ? 0 : 2;                                                                \
    }

OTKIT_DEFINE_SWEEP(otkit_sweep_f64, otkit_rows4_f64, double)
OTKIT_DEFINE_SWEEP(otkit_sweep_f32, otkit_rows4_f32, float)

/* The averaged self-term step: s_new = sqrt(s a / p) (p = K s); returns 1 when s_new
 * leaves (lo, hi) (nothing else done), else 0 with p_new = K s_new and
 * err[0] = ||s_new * p_new - a||^2. */
#define OTKIT_DEFINE_SELF(NAME, ROWS4, T)                                                   \
    OTKIT_SWEEP_MULTIVERSION                                                                \
    static int NAME(const T *K, int64_t n, const T *a, const T *s, const T *p, T *s_new,    \
                    T *p_new, double lo, double hi, double *err)                            \
    {                                                                                       \
        double total = 0.0, r[4];                                                           \
        for (int64_t i = 0; i < n; i++) {                                                   \
            T t = (T)sqrt((double)s[i] * ((double)a[i] / (double)p[i]));                    \
            if (!otkit_in_range((double)t, lo, hi))                                         \
                return 1;                                                                   \
            s_new[i] = t;                                                                   \
        }                                                                                   \
        int64_t i = 0;                                                                  \
        for (; i + 4 <= n; i += 4) {                                                    \
            ROWS4(K + i * n, n, s_new, r);                                              \
            for (int k = 0; k < 4; k++) {                                               \
                p_new[i + k] = (T)r[k];                                                 \
                double d = (double)s_new[i + k] * (double)p_new[i + k] - (double)a[i + k];\
                total += d * d;                                                         \
            }                                                                           \
        }                                                                               \
        for (; i < n; i++) {                                                            \
            p_new[i] = (T)ROWS4##_one(K + i * n, n, s_new);                             \
            double d = (double)s_new[i] * (double)p_new[i] - (double)a[i];              \
            total += d * d;                                                             \
        }                                                                               \
        err[0] = total;                                                                     \
        return 0;                                                                           \
    }

OTKIT_DEFINE_SELF(otkit_self_f64, otkit_rows4_f64, double)
OTKIT_DEFINE_SELF(otkit_self_f32, otkit_rows4_f32, float)

/* An annealing stage's sums on the kernel K (n x m, storage T; a, b in double): the
 * column sums c = 1 K (rounded to T, as a product in T would leave them), the ratio
 * b / c, then the row sums r = K (b / c) (the ratio rounded to T, the sums to T); returns
 * 0 with dg = log(c / b) and df = log(r / a) when every b_j / c_j and every a_i / r_i lies
 * in (lo, hi), else 1 (dg, df then unspecified). acc: m doubles, ratio: m T. */
#define OTKIT_DEFINE_STAGE(NAME, ROWS4, T)                                              \
    OTKIT_SWEEP_MULTIVERSION                                                            \
    static int NAME(const T *K, int64_t n, int64_t m, const double *a, const double *b, \
                    double lo, double hi, double *acc, T *ratio, double *dg, double *df)\
    {                                                                                   \
        int ok = 1;                                                                     \
        for (int64_t j = 0; j < m; j++)                                                 \
            acc[j] = 0.0;                                                               \
        int64_t i = 0;                                                                  \
        for (; i + 4 <= n; i += 4) { /* (acc read and written once for four rows) */    \
            const T *k0 = K + i * m, *k1 = k0 + m, *k2 = k1 + m, *k3 = k2 + m;          \
            _Pragma("omp simd") for (int64_t j = 0; j < m; j++) acc[j] +=               \
                ((double)k0[j] + (double)k1[j]) + ((double)k2[j] + (double)k3[j]);      \
        }                                                                               \
        for (; i < n; i++) {                                                            \
            const T *row = K + i * m;                                                   \
            _Pragma("omp simd") for (int64_t j = 0; j < m; j++) acc[j] += (double)row[j];\
        }                                                                               \
        for (int64_t j = 0; j < m; j++) {                                               \
            double c = (double)(T)acc[j], q = b[j] / c;                                 \
            if (!otkit_in_range(q, lo, hi))                                             \
                ok = 0;                                                                 \
            ratio[j] = (T)q;                                                            \
            acc[j] = c;                                                                 \
        }                                                                               \
        if (!ok)                                                                        \
            return 1;                                                                   \
        double r[4];                                                                    \
        for (i = 0; i + 4 <= n; i += 4) {                                               \
            ROWS4(K + i * m, m, ratio, r);                                              \
            for (int k = 0; k < 4; k++)                                                 \
                df[i + k] = (double)(T)r[k];                                            \
        }                                                                               \
        for (; i < n; i++)                                                              \
            df[i] = (double)(T)ROWS4##_one(K + i * m, m, ratio);                        \
        for (i = 0; i < n; i++)                                                         \
            if (!otkit_in_range(a[i] / df[i], lo, hi))                                  \
                ok = 0;                                                                 \
        if (!ok)                                                                        \
            return 1;                                                                   \
        _Pragma("omp simd") for (int64_t j = 0; j < m; j++) dg[j] =                     \
            otkit_log_pos(acc[j] / b[j]);                                               \
        _Pragma("omp simd") for (int64_t k = 0; k < n; k++) df[k] =                     \
            otkit_log_pos(df[k] / a[k]);                                                \
        return 0;                                                                       \
    }

/* A stage's update p <- (T)(p - e d) (T: the potentials' type), computed in double with
 * two roundings as NumPy's ``(p - e * d).astype(T)`` (no fused multiply-add, whatever the
 * module's -ffp-contract); returns max |p|. */
#if defined(__GNUC__) && !defined(__clang__)
#define OTKIT_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define OTKIT_NO_CONTRACT
#endif
#define OTKIT_DEFINE_STEP(NAME, T)                                                          \
    OTKIT_NO_CONTRACT static double NAME(T *p, const double *d, double e, int64_t size)    \
    {                                                                                       \
        double top = 0.0;                                                                   \
        for (int64_t i = 0; i < size; i++) {                                                \
            double t = e * d[i];                                                            \
            p[i] = (T)((double)p[i] - t);                                                   \
            double q = fabs((double)p[i]);                                                  \
            top = q > top ? q : top;                                                        \
        }                                                                                   \
        return top;                                                                         \
    }

OTKIT_DEFINE_STEP(otkit_step_f64, double)
OTKIT_DEFINE_STEP(otkit_step_f32, float)

OTKIT_DEFINE_STAGE(otkit_stage_f64, otkit_rows4_f64, double)
OTKIT_DEFINE_STAGE(otkit_stage_f32, otkit_rows4_f32, float)

#endif
