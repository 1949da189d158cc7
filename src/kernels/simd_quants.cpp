// VNNI decode gemv for the K-quant, IQ4 and legacy 32-value block formats (simd_quants.h: the
// design, x's layout and each format's a_j / c_j / u). As simd_avx512.cpp, only the functions inside
// the `#pragma GCC target` region are compiled for AVX-512 + VNNI, no standard-library template is
// used there, and callers reach them only after avx512_vnni_cpu().
//
// Block layouts (byte offsets within a block) from ggml's ggml-common.h, as in quants/block_formats.h:
//   Q4_K 144: d 0, dmin 2, scales 4 (12), qs 16 (128)      Q5_K 176: as Q4_K, qh 16 (32), qs 48 (128)
//   Q6_K 210: ql 0 (128), qh 128 (64), scales 192 (16 int8), d 208
//   Q3_K 110: hmask 0 (32), qs 32 (64), scales 96 (12), d 108
//   Q2_K  84: scales 0 (16), qs 16 (64), d 80, dmin 82
//   IQ4_XS 136: d 0, scales_h 2 (u16), scales_l 4 (4), qs 8 (128)
//   Q4_1 20: d 0, m 2, qs 4;  Q5_0 22: d 0, qh 2 (u32), qs 6;  Q5_1 24: d 0, m 2, qh 4, qs 8
// Compared with ggml's x86 kernels (ggml-cpu/arch/x86/quants.c, ggml_vec_dot_q4_K_q8_K etc.): ggml
// quantizes x to Q8_K (one f32 scale per 256 values, precomputed bsums per 16), multiplies the
// integer sub-scales in as int16 (`vpmaddwd`) and converts once per super-block. Here x keeps one
// scale per 32 values (the rounding every other product in this engine uses, so decode = prefill),
// which forces an f32 convert + FMA per 64 values; the mins / offsets use precomputed sums of x as
// ggml's bsums do. ik_llama.cpp's iqk_mul_mat.cpp goes the same way as ggml for x (Q8_K) and
// spreads the sub-scales with shuffles; it also turns IQ4 values into unsigned bytes + an offset, as here.
#include "kernels/simd_quants.h"

#include <immintrin.h>

#include <cstdint>

#include "kernels/simd_x8.h"
#include "quants/block_formats.h"

namespace mla::simd {

using namespace x8;

int64_t x8_bytes(int64_t cols) {
  const int64_t p = padded(cols);
  return p + 4 * (p / 4 + p / 16 + p / 32 + p / 16);
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

// 16-bit shift counts: a for the lower 32 bytes, b for the upper 32.
inline __m512i counts16(int a, int b) { return _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(a)), _mm256_set1_epi16(static_cast<short>(b)), 1); }
// Byte a in the lower 32 bytes, byte b in the upper 32.
inline __m512i bytes2(int a, int b) { return _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(a)), _mm256_set1_epi8(static_cast<char>(b)), 1); }

// 32 bytes of nibbles -> 64 bytes: the low nibbles, then the high ones (Q4_K / Q5_K order).
inline __m512i nibbles_lo_hi(const uint8_t* p) {
  const __m512i y = bcast256(p);
  return _mm512_and_si512(_mm512_mask_srli_epi16(y, 0xFFFF0000u, y, 4), _mm512_set1_epi8(15));
}
// Two 16-byte nibble blocks A, B (value j low nibble, j + 16 high) -> A lo, A hi, B lo, B hi.
inline __m512i nibbles_ab(__m512i aabb) {
  return _mm512_and_si512(_mm512_mask_srli_epi16(aabb, 0xFF00FF00u, aabb, 4), _mm512_set1_epi8(15));
}
inline __m512i nibbles2(const uint8_t* a, const uint8_t* b) {
  return nibbles_ab(_mm512_mask_broadcast_i32x4(_mm512_broadcast_i32x4(load128(a)), 0xFF00, load128(b)));
}
// ---- K-quants and IQ4_XS: one 256-value super-block per step, four 64-value chunks ----

// Q4_K / Q5_K scales: lanes 0-7 dmin * m_j, lanes 8-15 d * sc_j (k4_scale_min, unpacked 4 at a time:
// bytes 0-3 hold sc 0-3 (low 6 bits) and the top 2 bits of sc 4-7, bytes 4-7 m 0-3 and the top bits
// of m 4-7, bytes 8-11 the low nibbles of sc 4-7 and (high nibbles) m 4-7).
inline __m512 k4_scales(const uint8_t* b) {
  const uint32_t s0 = load_u32(b + 4), s1 = load_u32(b + 8), s2 = load_u32(b + 12);
  const uint32_t sc_lo = s0 & 0x3f3f3f3fu, mn_lo = s1 & 0x3f3f3f3fu;
  const uint32_t sc_hi = (s2 & 0x0f0f0f0fu) | ((s0 >> 6) & 0x03030303u) << 4;
  const uint32_t mn_hi = ((s2 >> 4) & 0x0f0f0f0fu) | ((s1 >> 6) & 0x03030303u) << 4;
  const __m128i bytes = _mm_setr_epi32(static_cast<int>(mn_lo), static_cast<int>(mn_hi), static_cast<int>(sc_lo),
                                       static_cast<int>(sc_hi));
  const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u32(b))));  // d, dmin
  const __m512 mult = _mm512_permutexvar_ps(_mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                                            _mm512_castps128_ps512(dd));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes)), mult);
}

template <bool kFifthBit>
float row_q45_k(const uint8_t* w, int64_t nsb, const X8& x) {
  constexpr int64_t kB = kFifthBit ? 176 : 144;
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  __m256 mins = _mm256_setzero_ps();
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* b = w + s * kB;
    prefetch<kB>(b);
    const __m512 S = k4_scales(b);
    mins = _mm256_fmadd_ps(_mm512_castps512_ps256(S), _mm256_loadu_ps(x.sum32 + 8 * s), mins);
    const __m512 SX = ax32(S, x, s, 8);
    const uint8_t* qs = b + (kFifthBit ? 48 : 16);
    __m512i hb = _mm512_setzero_si512();
    if (kFifthBit) hb = bcast256(b + 16);
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      __m512i u = nibbles_lo_hi(qs + 32 * k);
      if (kFifthBit) {  // sub-block 2k's fifth bits are bit 2k of qh[l], 2k + 1's bit 2k + 1
        const __mmask64 hi = _mm512_test_epi8_mask(hb, bytes2(1 << (2 * k), 1 << (2 * k + 1)));
        u = _mm512_mask_add_epi8(u, hi, u, _mm512_set1_epi8(16));
      }
      acc[k] = chunk_ax(u, x, 256 * s + 64 * k, _mm512_permutexvar_ps(per16(4 * k), SX), acc[k]);
    }
  }
  return sum4x(acc) - sum8(mins);
}

// Q6_K: chunk 2h + o covers ql[64h .. 64h + 63] (nibble o) and qh[32h + l] bits 4o + (0, 2) for its
// two halves, moved to bits 4-5.
float row_q6_k(const uint8_t* w, int64_t nsb, const X8& x) {
  constexpr int64_t kB = 210;
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  __m512 offs = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(15), bits45 = _mm512_set1_epi8(0x30);
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* b = w + s * kB;
    prefetch<kB>(b);
    const __m512 S = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load128(b + 192))), _mm512_set1_ps(f16_at(b + 208)));
    offs = _mm512_fmadd_ps(S, _mm512_loadu_ps(x.sum16 + 16 * s), offs);
    const __m512 SX = ax16(S, x, s);
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(b + 64 * h), qh = bcast256(b + 128 + 32 * h);
      const __m512i u0 = _mm512_ternarylogic_epi32(_mm512_and_si512(ql, low4), _mm512_sllv_epi16(qh, counts16(4, 2)), bits45, 0xF8);
      const __m512i u1 = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                                   _mm512_srlv_epi16(qh, counts16(0, 2)), bits45, 0xF8);  // A | (B & C)
      const int64_t v = 256 * s + 128 * h;
      acc[2 * h] = chunk_ax(u0, x, v, _mm512_permutexvar_ps(per16(8 * h), SX), acc[2 * h]);
      acc[2 * h + 1] = chunk_ax(u1, x, v + 64, _mm512_permutexvar_ps(per16(8 * h + 4), SX), acc[2 * h + 1]);
    }
  }
  return sum4x(acc) - 32.0f * _mm512_reduce_add_ps(offs);
}

// Q3_K: 16 scales (6 bits, stored + 32) from the 12 bytes s at b + 96 (q3_k_scales): scale i has its
// low 4 bits in nibble i / 8 of s[i % 8] and its high 2 bits at bits 2 (i / 4) of s[8 + i % 4]. The
// 16 bytes loaded end with the block (s at bytes 2..13), gathered per scale by vpshufb; dword k of
// `hi` rotates its bits 2k, 2k + 1 to bits 4-5 of each byte. a = d (sc - 32) is one FMA, d sc - 32 d,
// exact before its one rounding (32 d is exact), so the same float as (sc - 32) * d.
inline __m512 q3_k_scales_f(const uint8_t* b) {
  const __m128i v = load128(b + 94);
  const __m128i lo = _mm_shuffle_epi8(v, _mm_setr_epi8(2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5, 6, 7, 8, 9));
  const __m128i hi = _mm_shuffle_epi8(v, _mm_setr_epi8(10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13));
  const __m128i low4 = _mm_and_si128(_mm_mask_srli_epi16(lo, 0xF0, lo, 4), _mm_set1_epi8(15));
  const __m128i high2 = _mm_rolv_epi32(hi, _mm_setr_epi32(4, 2, 0, 30));
  const __m128i sc = _mm_ternarylogic_epi32(low4, high2, _mm_set1_epi8(0x30), 0xF8);  // low4 | (high2 & 0x30)
  const __m512 d = _mm512_set1_ps(f16_at(b + 108));
  return _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(sc)), d, _mm512_mul_ps(d, _mm512_set1_ps(32.0f)));
}

// Q3_K / Q2_K share the 2-bit layout: chunk 2h + o has bits 2(2o) and 2(2o + 1) of qs[32h + l] in its halves.
// Q2_K does not shift its fields down: u = qs & (3 << 2f) is 4^f times the field f value (at most
// 192, and 192 * 127 fits vpdpbusd's 16-bit products), and 4^-f goes into sub-block j's scale (f =
// (j % 8) / 2). Scaling by powers of two is exact, so the sums are the shifted kernel's bit for bit;
// it saves the four shifts of a super-block for one multiply. Q3_K's third bit would overflow a
// byte at field 3 (4 * 64 = 256).
template <bool kQ3>
float row_q23_k(const uint8_t* w, int64_t nsb, const X8& x) {
  constexpr int64_t kB = kQ3 ? 110 : 84, kQs = kQ3 ? 32 : 16;
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  __m512 offs = _mm512_setzero_ps();
  const __m512i low2 = _mm512_set1_epi8(3);
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* b = w + s * kB;
    prefetch<kB>(b);
    __m512 S;
    __m512i hm = _mm512_setzero_si512();
    if (kQ3) {
      S = q3_k_scales_f(b);
      offs = _mm512_fmadd_ps(S, _mm512_loadu_ps(x.sum16 + 16 * s), offs);
      hm = bcast256(b);
    } else {
      const __m512i sc = _mm512_cvtepu8_epi32(load128(b));  // scale j in bits 0-3, min j in bits 4-7
      const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u32(b + 80))));  // d, dmin
      const __m512 field_scale = _mm512_setr_ps(1, 1, 0x1p-2f, 0x1p-2f, 0x1p-4f, 0x1p-4f, 0x1p-6f, 0x1p-6f, 1, 1, 0x1p-2f,
                                                0x1p-2f, 0x1p-4f, 0x1p-4f, 0x1p-6f, 0x1p-6f);
      S = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(sc, _mm512_set1_epi32(15))),
                        _mm512_mul_ps(_mm512_broadcastss_ps(dd), field_scale));
      const __m512 M = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(sc, 4)), _mm512_broadcastss_ps(_mm_movehdup_ps(dd)));
      offs = _mm512_fmadd_ps(M, _mm512_loadu_ps(x.sum16 + 16 * s), offs);
    }
    const __m512 SX = ax16(S, x, s);  // a_j d_x per sub-block
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512i qb = bcast256(b + kQs + 32 * h);
#pragma GCC unroll 2
      for (int o = 0; o < 2; ++o) {
        __m512i u;
        if (!kQ3) {
          u = _mm512_and_si512(qb, bytes2(3 << (4 * o), 3 << (4 * o + 2)));
        } else {
          u = _mm512_and_si512(_mm512_srlv_epi16(qb, counts16(4 * o, 4 * o + 2)), low2);
          // The third bit: bit 4h + 2o (+ 1) of hmask[l]; value = u - 4 with it set in u.
          const int bit = 4 * h + 2 * o;
          const __mmask64 hi = _mm512_test_epi8_mask(hm, bytes2(1 << bit, 1 << (bit + 1)));
          u = _mm512_mask_add_epi8(u, hi, u, _mm512_set1_epi8(4));
        }
        acc[2 * h + o] = chunk_ax(u, x, 256 * s + 128 * h + 64 * o, _mm512_permutexvar_ps(per16(8 * h + 4 * o), SX), acc[2 * h + o]);
      }
    }
  }
  return sum4x(acc) - (kQ3 ? 4.0f : 1.0f) * _mm512_reduce_add_ps(offs);
}

// IQ4_XS: scale j = (4-bit part from scales_l, nibble j % 2 of byte j / 2) | (2 bits j of scales_h) << 4, - 32.
float row_iq4_xs(const uint8_t* w, int64_t nsb, const X8& x) {
  constexpr int64_t kB = 136;
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  __m256 offs = _mm256_setzero_ps();
  const __m512i table = iq4_table();
  const __m256i lo_shift = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28), hi_shift = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* b = w + s * kB;
    prefetch<kB>(b);
    const __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(load_u32(b + 4))), lo_shift), _mm256_set1_epi32(15));
    const __m256i hi = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(load_u16(b + 2))), hi_shift), _mm256_set1_epi32(3));
    const __m256i ls = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
    const __m256 S8 = _mm256_mul_ps(_mm256_cvtepi32_ps(ls), _mm256_set1_ps(f16_at(b)));
    offs = _mm256_fmadd_ps(S8, _mm256_loadu_ps(x.sum32 + 8 * s), offs);
    const __m512 SX = ax32(_mm512_castps256_ps512(S8), x, s);
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {  // sub-blocks 2k, 2k + 1: 16 bytes each -> A, A, B, B -> nibbles
      const __m512i ab = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 8 + 32 * k)));
      const __m512i u = _mm512_shuffle_epi8(table, nibbles_ab(_mm512_shuffle_i64x2(ab, ab, _MM_SHUFFLE(1, 1, 0, 0))));
      acc[k] = chunk_ax(u, x, 256 * s + 64 * k, _mm512_permutexvar_ps(per16(4 * k), SX), acc[k]);
    }
  }
  return sum4x(acc) - 128.0f * sum8(offs);
}

// ---- Legacy 32-value formats: four blocks per step (two chunks), their scales converted together ----

// Traits: kBytes, kMin (offset of the f16 m, or -1), kOff (c = -kOff * d when there is no m), and
// load(a, b): blocks a and b as 64 bytes u in natural order.
struct Q4_1F {
  static constexpr int64_t kBytes = 20, kMin = 2;
  static constexpr float kOff = 0;
  static __m512i load(const uint8_t* a, const uint8_t* b) { return nibbles2(a + 4, b + 4); }
};
// The fifth bits: qh (32 bits) has bit j for value j, so two blocks' qh are the byte mask.
inline __m512i add_fifth_bits(__m512i u, const uint8_t* qha, const uint8_t* qhb) {
  const __mmask64 hi = _cvtu64_mask64(static_cast<uint64_t>(load_u32(qha)) | static_cast<uint64_t>(load_u32(qhb)) << 32);
  return _mm512_mask_add_epi8(u, hi, u, _mm512_set1_epi8(16));
}
struct Q5_0F {
  static constexpr int64_t kBytes = 22, kMin = -1;
  static constexpr float kOff = 16;
  static __m512i load(const uint8_t* a, const uint8_t* b) { return add_fifth_bits(nibbles2(a + 6, b + 6), a + 2, b + 2); }
};
struct Q5_1F {
  static constexpr int64_t kBytes = 24, kMin = 2;
  static constexpr float kOff = 0;
  static __m512i load(const uint8_t* a, const uint8_t* b) { return add_fifth_bits(nibbles2(a + 8, b + 8), a + 4, b + 4); }
};

template <class F>
float row_legacy(const uint8_t* w, int64_t blocks, const X8& x) {
  constexpr int64_t kB = F::kBytes;
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  __m128 terms = _mm_setzero_ps();
  auto step = [&](const uint8_t* b, int64_t i) {  // blocks i..i+3, stored at b
    const __m256 dm = block_d_m<kB, F::kMin>(b);
    terms = _mm_fmadd_ps(_mm256_extractf128_ps(dm, 1), _mm_loadu_ps(x.sum32 + i), terms);  // m (or d) * sum_x
    const __m512 d16 = _mm512_castps256_ps512(dm);
    acc[0] = chunk(F::load(b, b + kB), x, 32 * i, _mm512_permutexvar_ps(per32(0), d16), acc[0]);
    acc[1] = chunk(F::load(b + 2 * kB, b + 3 * kB), x, 32 * i + 64, _mm512_permutexvar_ps(per32(2), d16), acc[1]);
  };
  int64_t i = 0;
  for (; i + 4 <= blocks; i += 4) {
    prefetch<4 * kB>(w + i * kB);
    step(w + i * kB, i);
  }
  if (i < blocks) {  // 1-3 last blocks beside zero ones (d = m = 0; x8 is zero there too)
    uint8_t pad[4 * kB] = {};
    __builtin_memcpy(pad, w + i * kB, static_cast<size_t>((blocks - i) * kB));
    step(pad, i);
  }
  return sum(acc[0], acc[1]) + (F::kMin >= 0 ? 1.0f : -F::kOff) * sum4(terms);
}

}  // namespace

void prepare_x8(const float* x, int64_t cols, uint8_t* x8) {
  const int64_t p = padded(cols), blocks = cols / 32;
  int8_t* q = reinterpret_cast<int8_t*>(x8);
  float* dxl = reinterpret_cast<float*>(x8 + p);
  float* sum16 = dxl + p / 4;
  float* sum32 = sum16 + p / 16;
  float* dx16 = sum32 + p / 32;
  for (int64_t b = 0; b < blocks; ++b) {
    // As panel::round_activations (quantize_x_blocks_scalar): inv = 127 / max|x|, q = round-to-even(x * inv).
    const __m512 lo = _mm512_loadu_ps(x + 32 * b), hi = _mm512_loadu_ps(x + 32 * b + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
    const __m512 inv = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inv)), qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * b), _mm512_cvtsepi32_epi8(qlo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * b + 16), _mm512_cvtsepi32_epi8(qhi));
    const float d = amax / 127.0f;
    _mm256_storeu_ps(dxl + 8 * b, _mm256_set1_ps(d));
    const int32_t s_lo = _mm512_reduce_add_epi32(qlo), s_hi = _mm512_reduce_add_epi32(qhi);
    sum16[2 * b] = d * static_cast<float>(s_lo);
    sum16[2 * b + 1] = d * static_cast<float>(s_hi);
    sum32[b] = d * static_cast<float>(s_lo + s_hi);
    dx16[2 * b] = dx16[2 * b + 1] = d;
  }
  for (int64_t b = blocks; b < p / 32; ++b) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * b), _mm256_setzero_si256());
    _mm256_storeu_ps(dxl + 8 * b, _mm256_setzero_ps());
    sum16[2 * b] = sum16[2 * b + 1] = sum32[b] = dx16[2 * b] = dx16[2 * b + 1] = 0.0f;
  }
}

void gemv_q4_k(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_q45_k<false>, 256>(w, stride, rows, cols, x8, y);
}
void gemv_q5_k(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_q45_k<true>, 256>(w, stride, rows, cols, x8, y);
}
void gemv_q6_k(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_q6_k, 256>(w, stride, rows, cols, x8, y);
}
void gemv_q3_k(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_q23_k<true>, 256>(w, stride, rows, cols, x8, y);
}
void gemv_q2_k(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_q23_k<false>, 256>(w, stride, rows, cols, x8, y);
}
void gemv_iq4_xs(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_iq4_xs, 256>(w, stride, rows, cols, x8, y);
}
void gemv_q4_1(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_legacy<Q4_1F>, 32>(w, stride, rows, cols, x8, y);
}
void gemv_q5_0(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_legacy<Q5_0F>, 32>(w, stride, rows, cols, x8, y);
}
void gemv_q5_1(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_legacy<Q5_1F>, 32>(w, stride, rows, cols, x8, y);
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace mla::simd
