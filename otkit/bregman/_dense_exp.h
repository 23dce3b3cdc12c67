/* The exponential of a float32 stabilized kernel in place (wrapped by _dense_sweep.pyx):
 * its exponents floored, then exponentiated, in one vectorized pass,
 *     K_ij <- exp(max(K_ij, floor))
 * (NaN stays NaN, as NumPy's maximum and exp leave it), where NumPy takes two passes
 * (its maximum alone costs about as much as its exp). The exponential is the branch-free
 * polynomial below, within two units in the last place of libm's expf (measured on a
 * grid of step 1e-4 over the finite range); results beyond the largest finite float are
 * +inf, below the smallest subnormal 0.
 */
#ifndef OTKIT_DENSE_EXP_H
#define OTKIT_DENSE_EXP_H

#include <stdint.h>

#include "_dense_sweep.h" /* OTKIT_SWEEP_MULTIVERSION */

/* exp(x) = 2^k exp(r), k = round(x / log 2), |r| <= log(2) / 2 (log 2 in two parts, k
 * log2_hi exact), exp(r) by its Taylor polynomial of degree 7 (remainder below 6e-9);
 * 2^k as the product of two powers of two, so that results near overflow and in the
 * subnormal range come out right. */
static inline float otkit_exp_f32(float x)
{
    x = x < -150.0f ? -150.0f : x;
    x = x > 150.0f ? 150.0f : x;
    const float shifter = 12582912.0f; /* 1.5 2^23 */
    float t = x * 1.44269502f + shifter;
    float kf = t - shifter;
    float r = (x - kf * 0.693359375f) - kf * -0.00021219444170128554f;
    float p = 0.00019841270113829523f;
    p = p * r + 0.0013888889225199819f;
    p = p * r + 0.008333333767950535f;
    p = p * r + 0.0416666679084301f;
    p = p * r + 0.1666666716337204f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        float f;
        uint32_t u;
    } bt = {t}, bs = {shifter}, s1, s2;
    uint32_t k = bt.u - bs.u + 256;
    uint32_t k1 = k >> 1;
    uint32_t k2 = k - k1;
    s1.u = (k1 - 128 + 127) << 23;
    s2.u = (k2 - 128 + 127) << 23;
    return p * s1.f * s2.f;
}

OTKIT_SWEEP_MULTIVERSION
static void otkit_floor_exp_f32(float *K, int64_t size, float floor)
{
    _Pragma("omp simd") for (int64_t i = 0; i < size; i++)
    {
        float t = K[i] < floor ? floor : K[i];
        K[i] = otkit_exp_f32(t);
    }
}

/* out_i <- (float)K_i, 0 where that is below the smallest normal float (a float32 copy of
 * a float64 kernel without subnormals, whose arithmetic is slow). */
OTKIT_SWEEP_MULTIVERSION
static void otkit_single_copy(const double *K, int64_t size, float *out)
{
    _Pragma("omp simd") for (int64_t i = 0; i < size; i++)
    {
        float t = (float)K[i];
        out[i] = t < 1.17549435e-38f ? 0.0f : t;
    }
}

#endif
