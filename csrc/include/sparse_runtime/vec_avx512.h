// Vector traits for AVX-512F: 16 floats per vector, masks for tails.
// Include only from a TU built with -mavx512f -mavx512bw -mavx512vl -mfma.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace sr {

struct VecAvx512 {
  using V = __m512;
  static constexpr int W = 16;
  static constexpr int kRegisters = 32;  // vector registers the ISA names
  static constexpr const char* kName = "avx512";
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static V load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  // Lanes i of p with from + i < n, zeros for the rest; any n (none when n <= from, all when
  // n >= from + W). A compare, not a shifted mask: no clamp, one broadcast of n for a row's
  // vectors (from = 0, W, 2W, ...), and nothing for GCC to vectorise across unrolled rows.
  static V load_first(const float* p, int n, int from = 0) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i first = _mm512_add_epi32(lane, _mm512_set1_epi32(from));
    const __mmask16 m = _mm512_cmpgt_epi32_mask(_mm512_set1_epi32(n), first);
    return _mm512_maskz_loadu_ps(m, p);
  }
  static void store_n(float* p, V v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  // max that keeps a NaN once either side has one (numpy's maximum), unlike max_ps.
  static V nan_max(V best, V v) {
    const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_blend_ps(take, best, v);
  }
  // Lanes 0, 2, 4, ... of the 2W floats a then b: a stride-2 read of 2W contiguous floats.
  static V even(V a, V b) {
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(a, idx, b);
  }
  static V abs(V a) { return _mm512_abs_ps(a); }
  static V copysign(V mag, V sign) {
    const __m512i s = _mm512_set1_epi32(0x80000000);
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_andnot_si512(s, _mm512_castps_si512(mag)),
                                               _mm512_and_si512(s, _mm512_castps_si512(sign))));
  }
  static float reduce_add(V a) { return _mm512_reduce_add_ps(a); }
  // Lane i of the result: the sum of rows[i]'s lanes, all W rows reduced together (45 operations
  // against ~8 per reduce_add). Each row's order is the same, whichever lane it takes:
  // ((L0 + L1) + (L2 + L3)) over its 128-bit quarters, each ((e0 + e2) + (e1 + e3)).
  // always_inline: called with an array of W accumulators, which must stay in registers.
  __attribute__((always_inline)) static V lane_sums(const V* rows) {
    V pairs[8], quads[4], halves[2];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i)
      pairs[i] = _mm512_add_ps(_mm512_unpacklo_ps(rows[2 * i], rows[2 * i + 1]),
                               _mm512_unpackhi_ps(rows[2 * i], rows[2 * i + 1]));
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i)
      quads[i] = _mm512_add_ps(_mm512_shuffle_ps(pairs[2 * i], pairs[2 * i + 1], 0x44),
                               _mm512_shuffle_ps(pairs[2 * i], pairs[2 * i + 1], 0xEE));
#pragma GCC unroll 2
    for (int i = 0; i < 2; ++i)
      halves[i] = _mm512_add_ps(_mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1], 0x88),
                                _mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(halves[0], halves[1], 0x88),
                         _mm512_shuffle_f32x4(halves[0], halves[1], 0xDD));
  }

  // Table lookups: g[i] = table[idx[i]] * scale[i] for i < count, the table (32 * S floats, S <= 8)
  // held in 2 * S registers. One vpermt2ps picks 16 lanes out of a 32-float segment; bits 5-7 of
  // the index then choose among the segments by blends. 16 lookups cost S permutes and ~S blends
  // instead of 16 scalar loads and stores: the one-token CSR walk's gather, 1.7x as fast (pass 1
  // of csr_panel_dots on a 192-deep panel, standalone harness). The hardware gather is no help: a
  // 16-lane vgatherdps took ~17.5 cycles on Zen 4 whatever its mask.
  static constexpr int kTableSegments = 8;
  template <int S>
  static void table_products(const float* table, const uint16_t* idx, const float* scale, int32_t count, float* g) {
    static_assert(S >= 1 && S <= kTableSegments);
    V t[2 * S];
#pragma GCC unroll 16
    for (int r = 0; r < 2 * S; ++r) t[r] = _mm512_loadu_ps(table + 16 * r);
    for (int32_t i = 0; i < count; i += W) {
      const __mmask16 m = mask(count - i < W ? count - i : W);
      // Lanes past count hold index 0: they pick an entry and are not stored.
      const __m512i at = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, idx + i));
      V p[S];
#pragma GCC unroll 8
      for (int s = 0; s < S; ++s) p[s] = _mm512_permutex2var_ps(t[2 * s], at, t[2 * s + 1]);
      // Halve the candidates per index bit from 5 up: after the blend on bit b, p[j] holds the
      // lookups for indices in [2b * j, 2b * (j + 1)).
      int live = S, bit = 32;
#pragma GCC unroll 8
      for (int level = 0; level < 3 && live > 1; ++level, bit *= 2) {
        const __mmask16 high = _mm512_test_epi32_mask(at, _mm512_set1_epi32(bit));
#pragma GCC unroll 8
        for (int j = 0; j < live / 2; ++j) p[j] = _mm512_mask_blend_ps(high, p[2 * j], p[2 * j + 1]);
        if (live % 2) p[live / 2] = p[live - 1];
        live = (live + 1) / 2;
      }
      _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(p[0], _mm512_maskz_loadu_ps(m, scale + i)));
    }
  }
  static float reduce_max(V a) { return _mm512_reduce_max_ps(a); }
  // Same polynomial as the AVX2 version; scalef applies 2^n without integer tricks.
  static V exp(V x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.3f));
    const V n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    V p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
    return _mm512_scalef_ps(p, n);
  }
};

}  // namespace sr
