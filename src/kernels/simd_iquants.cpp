// VNNI decode gemv for the lattice i-quants IQ3_XXS, IQ3_S, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M
// (simd_quants.h: the design, x's layout, each format's a_j / c_j / u). Compiled for AVX-512 + VNNI
// inside the `#pragma GCC target` region only; callers reach it only after avx512_vnni_cpu().
//
// One 256-value super-block per step, four 64-value chunks (two sub-blocks of 32 each). A chunk's u
// are grid entries (8 entries of 8 bytes for IQ2 / IQ1, 16 of 4 bytes for IQ3; kIq*Grid in
// quants/iq_tables.h) loaded by scalar loads into one vector, or, on CPUs with AVX512_VBMI and for
// the 256- and 512-entry grids (IQ2_XXS, IQ2_XS, IQ3_XXS, IQ3_S), looked up in registers (the
// *_vbmi kernels at the end of this file: 1.1-1.9x the scalar loads' rate, docs/KERNELS.md 4c).
// IQ2 / IQ3 entries are unsigned magnitudes and the signs go onto x instead: a 64-bit mask (bit i set = value i negative) negates
// q_x where set (`vpsubb` under the mask; q_x is in [-127, 127] so -q_x fits), so vpdpbusd(u, +-q_x)
// needs no offset. IQ1 entries are -1 / 0 / +1 bytes: u = entry + 1, the -1 goes through the sums of
// x (with IQ1_S's per-32 delta; IQ1_M's per-8 delta goes into u, see row_iq1_m).
//
// Block layouts (byte offsets) and value formulas: quants/dequantize_iq.cpp (from ggml's
// ggml-common.h block_iq* and ggml-quants.c dequantize_row_iq*):
//   IQ2_XXS 66: d 0, qs 2 (8 sub-blocks x (u32 4 grid indices, u32 4 sign codes | scale << 28))
//   IQ2_XS 74:  d 0, qs 2 (32 x u16: 9-bit index | sign code << 9), scales 66 (nibble per 16 values)
//   IQ2_S 82:   d 0, qs 2 (32 index low bytes), signs 34 (32 raw sign bytes), qh 66 (2 bits per group), scales 74
//   IQ3_XXS 98: d 0, qs 2 (64 indices, one per 4 values), 66 (8 x u32 4 sign codes | scale << 28)
//   IQ3_S 110:  d 0, qs 2 (64), qh 66 (1 bit per index), signs 74 (32 raw bytes), scales 106 (nibble per 32)
//   IQ1_S 50:   d 0, qs 2 (32), qh 34 (8 x u16: 3 index bits per group, scale bits 12-14, delta sign 15)
//   IQ1_M 56:   qs 0 (32), qh 32 (a nibble per group: 3 index bits, delta sign), scales 48 (4 x u16:
//               3-bit scale per 16 values at bits 0-11, the f16 d in the top nibbles)
// Compared with ggml's x86 kernels (ggml-cpu/arch/x86/quants.c ggml_vec_dot_iq2_xxs_q8_K etc.): ggml
// builds the grid vectors from scalar table loads (_mm256_set_epi64x) and applies the signs to x too
// (the keven_signs table of 0xff bytes and `vpsignb`); x is Q8_K (one scale per 256 values), so the
// sub-scales go in as int16. Here x keeps its scale per 32 (decode = prefill rounding) and the signs
// are a k-mask.
#include <immintrin.h>

#include <cstdint>

#include "kernels/simd.h"
#include "kernels/simd_quants.h"
#include "kernels/simd_x8.h"
#include "quants/iq_tables.h"

namespace mla::simd {

using namespace x8;

bool avx512_vbmi_cpu() {
  static const bool ok = avx512_vnni_cpu() && __builtin_cpu_supports("avx512vbmi");
  return ok;
}

namespace {

// The in-register grid tables of the VBMI kernels (end of this file). The IQ2 grids' values are 3
// magnitudes and the IQ3 grids' 8, so an entry is a code of classes (`bits` per value: 16 bits for
// an IQ2 entry's 8 values, 12 for an IQ3 entry's 4): lo / hi hold each entry's code bytes (256 or
// 512 entries: four or eight zmm each). pair[k] joins chunk k's code bytes into qwords (`vpermi2b`
// over lo, hi), shifts cuts value j's class out of its qword (`vpmultishiftqb`), mag maps a class
// (low `bits` bits of a byte) to its magnitude (`vpermb`), gather picks a block's index bytes
// (IQ2_XXS); sign_shifts cuts the 7-bit sign codes out of a block's sign words (four per u32, at
// bits 7l) and signs maps a code to its sign byte (kIq2xsSigns, `vpermi2b` over two zmm). Built from
// the tables of quants/iq_tables.h; a grid value outside `mags` would decode as mags[0], which
// tests/quant_gemv_test.cpp's comparison with the scalar decoders would show.
struct GridCodes {
  alignas(64) uint8_t lo[512];
  alignas(64) uint8_t hi[512];
  alignas(64) uint8_t mag[64];
  alignas(64) uint8_t shifts[64];
  alignas(64) uint8_t pair[4][64];
  alignas(64) uint8_t gather[64];
  alignas(64) uint8_t sign_shifts[64];
  alignas(64) uint8_t signs[128];
};

template <class Entry>
void fill_codes(GridCodes& c, const Entry* grid, int entries, int values, int bits, const uint8_t* mags, int classes) {
  for (int i = 0; i < 64; ++i) c.sign_shifts[i] = static_cast<uint8_t>(32 * (i % 8 / 4) + 7 * (i % 4));
  for (int i = 0; i < 128; ++i) c.signs[i] = kIq2xsSigns[i];
  for (int i = 0; i < 64; ++i) c.mag[i] = i % (1 << bits) < classes ? mags[i % (1 << bits)] : 0;
  for (int e = 0; e < entries; ++e) {
    uint32_t code = 0;
    for (int j = 0; j < values; ++j) {
      int k = 0;
      while (k + 1 < classes && mags[k] != grid_byte(grid[e], j)) ++k;
      code |= static_cast<uint32_t>(k) << (bits * j);
    }
    c.lo[e] = static_cast<uint8_t>(code);
    c.hi[e] = static_cast<uint8_t>(code >> 8);
  }
}

// IQ2_XXS / IQ2_XS: chunk k's group g (8 values) has its code in qword g; value j at bits 2j.
template <class Entry>
GridCodes make_iq2_codes(const Entry* grid, int entries) {
  static constexpr uint8_t kMags[3] = {8, 25, 43};
  GridCodes c{};
  fill_codes(c, grid, entries, 8, 2, kMags, 3);
  for (int i = 0; i < 64; ++i) {
    const int g = i / 8, j = i % 8;
    c.shifts[i] = static_cast<uint8_t>(2 * j);
    for (int k = 0; k < 4; ++k) c.pair[k][i] = static_cast<uint8_t>((j == 1 ? 64 : 0) + 8 * k + g);
    c.gather[i] = static_cast<uint8_t>(i < 32 ? 8 * (i / 4) + i % 4 : 0);  // group 4 ib + l: byte 8 ib + l
  }
  return c;
}
// IQ3_XXS / IQ3_S: chunk k's groups 2q, 2q + 1 (4 values each) have their codes at bits 0 and 16 of
// qword q.
template <class Entry>
GridCodes make_iq3_codes(const Entry* grid, int entries, const uint8_t* mags) {
  GridCodes c{};
  fill_codes(c, grid, entries, 4, 3, mags, 8);
  for (int i = 0; i < 64; ++i) {
    const int q = i / 8, j = i % 8;
    c.shifts[i] = static_cast<uint8_t>(16 * (j / 4) + 3 * (j % 4));
    for (int k = 0; k < 4; ++k) c.pair[k][i] = static_cast<uint8_t>((j % 2 ? 64 : 0) + 16 * k + 2 * q + (j / 2) % 2);
  }
  return c;
}
const GridCodes& iq2_xxs_codes() {
  static const GridCodes c = make_iq2_codes(kIq2xxsGrid, 256);
  return c;
}
const GridCodes& iq2_xs_codes() {
  static const GridCodes c = make_iq2_codes(kIq2xsGrid, 512);
  return c;
}
const GridCodes& iq3_xxs_codes() {
  static constexpr uint8_t kMags[8] = {4, 12, 20, 28, 36, 44, 52, 62};
  static const GridCodes c = make_iq3_codes(kIq3xxsGrid, 256, kMags);
  return c;
}
const GridCodes& iq3_s_codes() {
  static constexpr uint8_t kMags[8] = {1, 3, 5, 7, 9, 11, 13, 15};
  static const GridCodes c = make_iq3_codes(kIq3sGrid, 512, kMags);
  return c;
}

}  // namespace

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

// One chunk's grid entries, by scalar loads: index(j) is the table index of group j (8 values; 4 for
// the IQ3 tables, paired into u64 before the inserts: 17 vs 15 G weights/s for IQ3_XXS). Indices come
// from u64 loads of the block (byte fields) or, where high bits join them, from a vector of 32 u16
// indices per super-block moved to scalar registers 4 at a time (grid*_of; IQ1_M 20 vs 16 G weights/s
// with the high bits merged in scalar code). Against `vpgatherdq` / `vpgatherdd` on index vectors
// (one core of this AMD EPYC, Zen 5 by its flags): IQ2_XXS 24.5 vs 18, IQ3_XXS 17 vs ~12; a vector
// store of the indices reloaded as u16 was slower still (store forwarding). Gathers are also slow on
// the Intel cores with the GDS (Downfall) microcode fix. (docs/KERNELS.md 4c: all variants tried.)
template <class Index>
inline __m512i grid8(const uint64_t* t, Index index) {
  auto e = [&](int j) { return static_cast<long long>(t[index(j)]); };
  return _mm512_set_epi64(e(7), e(6), e(5), e(4), e(3), e(2), e(1), e(0));
}
// The same with the 8 indices as u16 lanes of a vector, moved to scalar registers as two u64.
inline __m512i grid8_of(const uint64_t* t, __m128i index16) {
  const uint64_t a = static_cast<uint64_t>(_mm_cvtsi128_si64(index16)), b = static_cast<uint64_t>(_mm_extract_epi64(index16, 1));
  return grid8(t, [&](int j) { return (j < 4 ? a : b) >> (16 * (j % 4)) & 0xffff; });
}
template <class Index>
inline __m512i grid16(const uint32_t* t, Index index) {
  auto e = [&](int j) { return static_cast<long long>(t[index(2 * j)] | static_cast<uint64_t>(t[index(2 * j + 1)]) << 32); };
  return _mm512_set_epi64(e(7), e(6), e(5), e(4), e(3), e(2), e(1), e(0));
}
inline __m512i grid16_of(const uint32_t* t, __m256i index16) {
  const __m128i l = _mm256_castsi256_si128(index16), h = _mm256_extracti128_si256(index16, 1);
  const uint64_t q[4] = {static_cast<uint64_t>(_mm_cvtsi128_si64(l)), static_cast<uint64_t>(_mm_extract_epi64(l, 1)),
                         static_cast<uint64_t>(_mm_cvtsi128_si64(h)), static_cast<uint64_t>(_mm_extract_epi64(h, 1))};
  return grid16(t, [&](int j) { return q[j / 4] >> (16 * (j % 4)) & 0xffff; });
}
// High index bits: lane g (of 32 u16) = (word g / 4 of w) >> (bits * (g % 4)), masked to `bits` bits
// and moved to bits 8.. (IQ2_S: 2 bits per group from qh bytes; IQ1_S: 3 bits from qh words).
inline __m512i high_bits4(__m512i w, int bits) {
  const __m512i word = _mm512_set_epi16(7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  const short b = static_cast<short>(bits);
  const __m512i shift = _mm512_set_epi16(3 * b, 2 * b, b, 0, 3 * b, 2 * b, b, 0, 3 * b, 2 * b, b, 0, 3 * b, 2 * b, b, 0, 3 * b, 2 * b, b, 0,
                                         3 * b, 2 * b, b, 0, 3 * b, 2 * b, b, 0, 3 * b, 2 * b, b, 0);
  const __m512i v = _mm512_srlv_epi16(_mm512_permutexvar_epi16(word, w), shift);
  return _mm512_slli_epi16(_mm512_and_si512(v, _mm512_set1_epi16(static_cast<short>((1 << bits) - 1))), 8);
}

// Sign-coded formats (IQ2_XXS, IQ3_XXS): each u32 lane holds four 7-bit sign codes at bits 7l (bits
// 28-31, the scale, are ignored) -> byte l = code l | parity(code l) << 7, i.e. kIq2xsSigns[code]
// (the 8th sign makes the count of negatives even).
inline __m256i sign_bytes(__m256i w) {
  const __m256i seven = _mm256_set1_epi32(0x7f);
  const __m256i e = _mm256_or_si256(
      _mm256_or_si256(_mm256_and_si256(w, seven), _mm256_and_si256(_mm256_slli_epi32(w, 1), _mm256_slli_epi32(seven, 8))),
      _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi32(w, 2), _mm256_slli_epi32(seven, 16)),
                      _mm256_and_si256(_mm256_slli_epi32(w, 3), _mm256_slli_epi32(seven, 24))));
  // Fold each byte's 7 bits onto its bit 0 (bits 4-7 of a byte only ever receive the next byte's bits).
  __m256i p = _mm256_xor_si256(e, _mm256_srli_epi32(e, 4));
  p = _mm256_xor_si256(p, _mm256_srli_epi32(p, 2));
  p = _mm256_xor_si256(p, _mm256_srli_epi32(p, 1));
  return _mm256_or_si256(e, _mm256_slli_epi32(_mm256_and_si256(p, _mm256_set1_epi8(1)), 7));
}

// The same for IQ2_XS: 16-bit lanes with the code at bits 9-15 -> 32 sign bytes, lane order.
inline __m256i sign_bytes16(__m512i q) {
  const __m512i c = _mm512_srli_epi16(q, 9);
  __m512i p = _mm512_xor_si512(c, _mm512_srli_epi16(c, 4));
  p = _mm512_xor_si512(p, _mm512_srli_epi16(p, 2));
  p = _mm512_xor_si512(p, _mm512_srli_epi16(p, 1));
  return _mm512_cvtepi16_epi8(_mm512_or_si512(c, _mm512_slli_epi16(_mm512_and_si512(p, _mm512_set1_epi16(1)), 7)));
}

// A super-block's 32 sign bytes as the 64-bit masks of its four chunks.
struct SignMasks {
  alignas(32) uint64_t chunk[4];
  explicit SignMasks(__m256i bytes) { _mm256_store_si256(reinterpret_cast<__m256i*>(chunk), bytes); }
};

// q_x of chunk v with the values whose sign bit is set in neg negated.
inline __m512i signed_x(const X8& x, int64_t v, uint64_t neg) {
  const __m512i q = _mm512_loadu_si512(x.q + v);
  return _mm512_mask_sub_epi8(q, _cvtu64_mask64(neg), _mm512_setzero_si512(), q);
}

// (2 s + 1) * m for eight / sixteen int32 s.
inline __m256 odd8(__m256i s, float m) {
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_add_epi32(s, s), _mm256_set1_epi32(1))), _mm256_set1_ps(m));
}
inline __m512 odd16(__m512i s, float m) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_add_epi32(s, s), _mm512_set1_epi32(1))), _mm512_set1_ps(m));
}

// IQ2_XS / IQ2_S scales: nibble j of the 8 bytes at p (low nibble first) is the scale s of values
// 16j..16j+15; a = d (0.5 + s) / 4 = (2 s + 1) d / 8.
inline __m512 nibble_scales16(const uint8_t* p, float d) {
  const __m128i b = load64(p), low4 = _mm_set1_epi8(15);
  const __m128i s = _mm_unpacklo_epi8(_mm_and_si128(b, low4), _mm_and_si128(_mm_srli_epi16(b, 4), low4));
  return odd16(_mm512_cvtepu8_epi32(s), d * 0.125f);
}

// IQ2_XXS: sub-block ib = u32 a0 (byte l: grid index of group l), u32 a1 (sign codes, scale a1 >> 28);
// a = d (0.5 + s) / 4. The block's 64 bytes after d, its per-lane scales a_j d_x, its sign masks:
// sign words (the a1).
struct Iq2xxsBlock {
  __m512i qs;
  __m512 SX;
  __m256i sign_words;
};
inline void iq2_xxs_block(const uint8_t* b, const X8& x, int64_t s, Iq2xxsBlock& out) {
  out.qs = _mm512_loadu_si512(b + 2);
  out.sign_words = _mm512_cvtepi64_epi32(_mm512_srli_epi64(out.qs, 32));
  out.SX = ax32(_mm512_castps256_ps512(odd8(_mm256_srli_epi32(out.sign_words, 28), f16_at(b) * 0.125f)), x, s);
}
float row_iq2_xxs(const uint8_t* w, int64_t nsb, const X8& x) {
  constexpr int64_t kB = 66;
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* b = w + s * kB;
    prefetch<kB>(b);
    Iq2xxsBlock blk;
    iq2_xxs_block(b, x, s, blk);
    const SignMasks neg(sign_bytes(blk.sign_words));
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const uint64_t a0 = load_u32(b + 2 + 16 * k) | static_cast<uint64_t>(load_u32(b + 10 + 16 * k)) << 32;
      const __m512i u = grid8(kIq2xxsGrid, [&](int j) { return a0 >> (8 * j) & 255; });
      acc[k & 1] = chunk_q_ax(u, signed_x(x, 256 * s + 64 * k, neg.chunk[k]), _mm512_permutexvar_ps(per16(4 * k), blk.SX), acc[k & 1]);
    }
  }
  return sum(acc[0], acc[1]);
}

// IQ2_XS: group g = u16 qs[g] (index bits 0-8, sign code 9-15); scales per 16 values.
float row_iq2_xs(const uint8_t* w, int64_t nsb, const X8& x) {
  constexpr int64_t kB = 74;
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* b = w + s * kB;
    prefetch<kB>(b);
    const __m512i q = _mm512_loadu_si512(b + 2);
    const __m512 S = nibble_scales16(b + 66, f16_at(b));
    const __m512 SX = ax16(S, x, s);
    alignas(32) uint64_t neg[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(neg), sign_bytes16(q));
    const __m512i index = _mm512_and_si512(q, _mm512_set1_epi16(511));
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const int64_t v = 256 * s + 64 * k;
      const __m512i u = grid8_of(kIq2xsGrid, _mm512_extracti32x4_epi32(index, k));
      acc[k & 1] = chunk_q_ax(u, signed_x(x, v, neg[k]), _mm512_permutexvar_ps(per16(4 * k), SX), acc[k & 1]);
    }
  }
  return sum(acc[0], acc[1]);
}

// IQ2_S: group g index = qs[g] | 2 bits of qh << 8 (u16 at qh + 2k: bits 2j for group 8k + j);
// signs raw (u64 at 34 + 8k is chunk k's mask); scales per 16 values.
float row_iq2_s(const uint8_t* w, int64_t nsb, const X8& x) {
  constexpr int64_t kB = 82;
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* b = w + s * kB;
    prefetch<kB>(b);
    const __m512 S = nibble_scales16(b + 74, f16_at(b));
    const __m512 SX = ax16(S, x, s);
    const __m512i index = _mm512_or_si512(_mm512_cvtepu8_epi16(load256(b + 2)),
                                          high_bits4(_mm512_castsi128_si512(_mm_cvtepu8_epi16(load64(b + 66))), 2));
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const int64_t v = 256 * s + 64 * k;
      acc[k & 1] = chunk_q_ax(grid8_of(kIq2sGrid, _mm512_extracti32x4_epi32(index, k)), signed_x(x, v, load_u64(b + 34 + 8 * k)),
                           _mm512_permutexvar_ps(per16(4 * k), SX), acc[k & 1]);
    }
  }
  return sum(acc[0], acc[1]);
}

// IQ3_XXS: qs[k] = grid index of values 4k..4k+3; sub-block ib: u32 at 66 + 4ib (sign codes per 8
// values, scale >> 28); a = d (0.5 + s) / 2. Per-lane scales a_j d_x of a block and its sign words:
struct Iq3xxsBlock {
  __m512 SX;
  __m256i sign_words;
};
inline void iq3_xxs_block(const uint8_t* b, const X8& x, int64_t s, Iq3xxsBlock& out) {
  out.sign_words = load256(b + 66);
  out.SX = ax32(_mm512_castps256_ps512(odd8(_mm256_srli_epi32(out.sign_words, 28), f16_at(b) * 0.25f)), x, s);
}
float row_iq3_xxs(const uint8_t* w, int64_t nsb, const X8& x) {
  constexpr int64_t kB = 98;
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* b = w + s * kB;
    prefetch<kB>(b);
    Iq3xxsBlock blk;
    iq3_xxs_block(b, x, s, blk);
    const SignMasks neg(sign_bytes(blk.sign_words));
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const uint8_t* qs = b + 2 + 16 * k;
      const __m512i u = grid16(kIq3xxsGrid, [&](int j) { return qs[j]; });
      acc[k & 1] = chunk_q_ax(u, signed_x(x, 256 * s + 64 * k, neg.chunk[k]), _mm512_permutexvar_ps(per16(4 * k), blk.SX), acc[k & 1]);
    }
  }
  return sum(acc[0], acc[1]);
}

// IQ3_S: index k = qs[k] | bit k of qh << 8 (the u16 at qh + 2c is chunk c's 16 high bits, a k-mask);
// signs raw; scale s = nibble ib of the u32 at 106, a = d (1 + 2 s).
inline __m512 iq3_s_scales(const uint8_t* b, const X8& x, int64_t s) {
  const __m256i nibble_shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i sc = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(load_u32(b + 106))), nibble_shifts),
                                      _mm256_set1_epi32(15));
  return ax32(_mm512_castps256_ps512(odd8(sc, f16_at(b))), x, s);
}
float row_iq3_s(const uint8_t* w, int64_t nsb, const X8& x) {
  constexpr int64_t kB = 110;
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* b = w + s * kB;
    prefetch<kB>(b);
    const __m512 SX = iq3_s_scales(b, x, s);
    const uint64_t qh = load_u64(b + 66);  // bit k: index k's bit 8
    const __m512i bit8 = _mm512_set1_epi16(256);
    const __m512i lo0 = _mm512_cvtepu8_epi16(load256(b + 2)), lo1 = _mm512_cvtepu8_epi16(load256(b + 34));
    const __m512i index[2] = {_mm512_mask_add_epi16(lo0, static_cast<__mmask32>(qh), lo0, bit8),
                              _mm512_mask_add_epi16(lo1, static_cast<__mmask32>(qh >> 32), lo1, bit8)};
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const int64_t v = 256 * s + 64 * k;
      acc[k & 1] = chunk_q_ax(grid16_of(kIq3sGrid, _mm512_extracti64x4_epi64(index[k / 2], k % 2)), signed_x(x, v, load_u64(b + 74 + 8 * k)),
                           _mm512_permutexvar_ps(per16(4 * k), SX), acc[k & 1]);
    }
  }
  return sum(acc[0], acc[1]);
}

// IQ1_S: value = a (e + delta) with e the grid byte in {-1, 0, 1}, a = d (2 s + 1) per sub-block.
// With u = e + 1: a (u . x') + a (delta - 1) sum(x'), the second term per 32 values by sum32.
float row_iq1_s(const uint8_t* w, int64_t nsb, const X8& x) {
  constexpr int64_t kB = 50;
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  __m256 offs = _mm256_setzero_ps();
  const __m256i low3 = _mm256_set1_epi32(7);
  const __m512i one = _mm512_set1_epi8(1);
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* b = w + s * kB;
    prefetch<kB>(b);
    const __m256i h = _mm256_cvtepu16_epi32(load128(b + 34));
    const __m256 A = odd8(_mm256_and_si256(_mm256_srli_epi32(h, 12), low3), f16_at(b));
    const __mmask8 minus = _mm256_test_epi32_mask(h, _mm256_set1_epi32(0x8000));  // delta = -1/8
    const __m256 delta_1 = _mm256_mask_blend_ps(minus, _mm256_set1_ps(kIq1sDelta - 1.0f), _mm256_set1_ps(-kIq1sDelta - 1.0f));
    offs = _mm256_fmadd_ps(_mm256_mul_ps(A, delta_1), _mm256_loadu_ps(x.sum32 + 8 * s), offs);
    const __m512 S = _mm512_castps256_ps512(A);
    const __m512 SX = ax32(S, x, s);
    const __m512i index = _mm512_or_si512(_mm512_cvtepu8_epi16(load256(b + 2)), high_bits4(_mm512_castsi128_si512(load128(b + 34)), 3));
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m512i e = grid8_of(kIq1sGrid, _mm512_extracti32x4_epi32(index, k));
      const __m512i u = _mm512_add_epi8(e, one);
      acc[k & 1] = chunk_ax(u, x, 256 * s + 64 * k, _mm512_permutexvar_ps(per16(4 * k), SX), acc[k & 1]);
    }
  }
  return sum(acc[0], acc[1]) + sum8(offs);
}

// IQ1_M: value = a16 (e + delta) with delta = +-1/8 per group of 8 and a16 = d (2 s + 1) per 16
// values. The delta goes into the integer dot: 8 (e + delta) = u - 9 with u = 8 (e + 1) + (delta > 0 ?
// 2 : 0) in {0, 2, 8, 10, 16, 18}; so a = a16 / 8 and c = -9 a against sum16.
float row_iq1_m(const uint8_t* w, int64_t nsb, const X8& x) {
  constexpr int64_t kB = 56;
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  __m512 offs = _mm512_setzero_ps();
  const __m512i scale_word = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m512i scale_shift = _mm512_setr_epi32(0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9);
  const __m512i one = _mm512_set1_epi8(1), two = _mm512_set1_epi8(2);
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* b = w + s * kB;
    prefetch<kB>(b);
    const uint64_t sc = load_u64(b + 48);  // d's bits 4k..4k+3 are bits 12..15 of word k (iq1_m_super_scale)
    const uint64_t d_bits = (sc >> 12 & 0xf) | (sc >> 24 & 0xf0) | (sc >> 36 & 0xf00) | (sc >> 48 & 0xf000);
    const float d = _cvtsh_ss(static_cast<unsigned short>(d_bits));
    const __m512i words = _mm512_castsi128_si512(_mm_cvtepu16_epi32(_mm_cvtsi64_si128(static_cast<long long>(sc))));
    const __m512i s16 = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(scale_word, words), scale_shift), _mm512_set1_epi32(7));
    const __m512 S = odd16(s16, d * 0.125f);
    const __m512 SX = ax16(S, x, s);
    offs = _mm512_fmadd_ps(S, _mm512_loadu_ps(x.sum16 + 16 * s), offs);
    // Group g's nibble (g even: low nibble of qh[g / 2]) -> byte g; index = qs[g] | (nibble & 7) << 8.
    const __m128i h = load128(b + 32), low4 = _mm_set1_epi8(15);
    const __m128i hl = _mm_and_si128(h, low4), hh = _mm_and_si128(_mm_srli_epi16(h, 4), low4);
    const __m256i nib = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(hl, hh)), _mm_unpackhi_epi8(hl, hh), 1);
    const uint32_t plus = _mm256_testn_epi8_mask(nib, _mm256_set1_epi8(8));  // delta = +1/8
    const __m512i index = _mm512_or_si512(_mm512_cvtepu8_epi16(load256(b)),
                                          _mm512_slli_epi16(_mm512_cvtepu8_epi16(_mm256_and_si256(nib, _mm256_set1_epi8(7))), 8));
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m512i e = grid8_of(kIq1sGrid, _mm512_extracti32x4_epi32(index, k));
      const __m512i e8 = _mm512_slli_epi16(_mm512_add_epi8(e, one), 3);  // bytes <= 16: no carry
      const __m512i u = _mm512_mask_add_epi64(e8, static_cast<__mmask8>(plus >> (8 * k)), e8, two);  // per group (qword)
      acc[k & 1] = chunk_ax(u, x, 256 * s + 64 * k, _mm512_permutexvar_ps(per16(4 * k), SX), acc[k & 1]);
    }
  }
  return sum(acc[0], acc[1]) - 9.0f * _mm512_reduce_add_ps(offs);
}

}  // namespace

void gemv_iq2_xxs(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_iq2_xxs, 256>(w, stride, rows, cols, x8, y);
}
void gemv_iq2_xs(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_iq2_xs, 256>(w, stride, rows, cols, x8, y);
}
void gemv_iq2_s(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_iq2_s, 256>(w, stride, rows, cols, x8, y);
}
void gemv_iq3_xxs(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_iq3_xxs, 256>(w, stride, rows, cols, x8, y);
}
void gemv_iq3_s(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_iq3_s, 256>(w, stride, rows, cols, x8, y);
}
void gemv_iq1_s(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_iq1_s, 256>(w, stride, rows, cols, x8, y);
}
void gemv_iq1_m(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  gemv<row_iq1_m, 256>(w, stride, rows, cols, x8, y);
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

// ---- AVX512_VBMI: grid entries by in-register table lookups (GridCodes) instead of scalar loads ----
// A super-block's indices look up their code bytes 64 at a time (`vpermi2b` on each 128-entry half
// of lo and hi, blended on the index's top bit); per chunk, one `vpermi2b` pairs the code bytes into
// qwords, `vpmultishiftqb` cuts out each value's class and `vpermb` maps it to its magnitude: three
// vector operations per 64 values against eight scalar loads and their inserts.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

inline __m512i load512(const uint8_t* p) { return _mm512_load_si512(p); }

// kEntries (256 or 512) of a GridCodes in registers.
template <int kEntries>
struct CodeRegs {
  __m512i lo[kEntries / 64], hi[kEntries / 64], mag, shifts, pair[4], sign_shifts, signs[2];
  explicit CodeRegs(const GridCodes& c)
      : mag(load512(c.mag)),
        shifts(load512(c.shifts)),
        pair{load512(c.pair[0]), load512(c.pair[1]), load512(c.pair[2]), load512(c.pair[3])},
        sign_shifts(load512(c.sign_shifts)),
        signs{load512(c.signs), load512(c.signs + 64)} {
    for (int i = 0; i < kEntries / 64; ++i) {
      lo[i] = load512(c.lo + 64 * i);
      hi[i] = load512(c.hi + 64 * i);
    }
  }
};

// The 32 sign bytes of a block from its 8 sign words (as sign_bytes, by two table operations).
// Sign bytes of the 7-bit codes in the low bits of each byte of codes (bit 7 ignored).
template <int kEntries>
inline __m256i sign_bytes_of_codes(const CodeRegs<kEntries>& t, __m512i codes) {
  return _mm512_castsi512_si256(_mm512_permutex2var_epi8(t.signs[0], codes, t.signs[1]));
}
template <int kEntries>
inline __m256i sign_bytes_vbmi(const CodeRegs<kEntries>& t, __m256i words) {
  return sign_bytes_of_codes(t, _mm512_multishift_epi64_epi8(t.sign_shifts, _mm512_castsi256_si512(words)));
}

// Entry idx (byte; bit 8 in bit8, 512-entry tables) of a 256- or 512-entry byte table in registers.
inline __m512i lookup256(const __m512i* t, __m512i idx, __mmask64 bit7) {
  return _mm512_mask_blend_epi8(bit7, _mm512_permutex2var_epi8(t[0], idx, t[1]), _mm512_permutex2var_epi8(t[2], idx, t[3]));
}
// Code bytes of the 64 grid indices idx (bits 0-7) and bit8 (bit 8, 512-entry grids).
template <int kEntries>
inline void lookup_codes(const CodeRegs<kEntries>& t, __m512i idx, __mmask64 bit8, __m512i& lo, __m512i& hi) {
  const __mmask64 bit7 = _mm512_movepi8_mask(idx);
  lo = lookup256(t.lo, idx, bit7);
  hi = lookup256(t.hi, idx, bit7);
  if constexpr (kEntries == 512) {
    lo = _mm512_mask_blend_epi8(bit8, lo, lookup256(t.lo + 4, idx, bit7));
    hi = _mm512_mask_blend_epi8(bit8, hi, lookup256(t.hi + 4, idx, bit7));
  }
}
// Chunk k's 64 magnitudes u.
template <int kEntries>
inline __m512i grid_values(const CodeRegs<kEntries>& t, __m512i lo, __m512i hi, int k) {
  return _mm512_permutexvar_epi8(_mm512_multishift_epi64_epi8(t.shifts, _mm512_permutex2var_epi8(lo, t.pair[k], hi)), t.mag);
}

// What a super-block gives the shared loop: per-lane scales a_j d_x, the 64 grid indices (bits 0-7;
// bit 8 in bit8 for the 512-entry grids) and the chunks' sign masks.
struct GridBlock {
  __m512 SX;
  __m512i index;
  __mmask64 bit8;
  SignMasks neg;
};

// The rows of a kB-byte-block format whose super-block s at b is described by block(b, s).
template <int64_t kB, int kEntries, class Block>
void gemv_grid(const CodeRegs<kEntries>& t, const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const X8& x,
               float* y, Block block) {
  for (int64_t r = 0; r < rows; ++r) {
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t s = 0; s < cols / 256; ++s) {
      const uint8_t* b = w + r * stride + s * kB;
      prefetch<kB>(b);
      const GridBlock g = block(b, s);
      __m512i lo, hi;
      lookup_codes(t, g.index, g.bit8, lo, hi);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k)
        acc[k & 1] = chunk_q_ax(grid_values(t, lo, hi, k), signed_x(x, 256 * s + 64 * k, g.neg.chunk[k]),
                                _mm512_permutexvar_ps(per16(4 * k), g.SX), acc[k & 1]);
    }
    y[r] = sum(acc[0], acc[1]);
  }
}

}  // namespace

void gemv_iq2_xxs_vbmi(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  const X8 x = view(x8, cols);
  const GridCodes& c = iq2_xxs_codes();
  const CodeRegs<256> t(c);
  const __m512i gather = load512(c.gather);
  gemv_grid<66>(t, w, stride, rows, cols, x, y, [&](const uint8_t* b, int64_t s) {
    Iq2xxsBlock blk;
    iq2_xxs_block(b, x, s, blk);
    return GridBlock{blk.SX, _mm512_permutexvar_epi8(gather, blk.qs), 0, SignMasks(sign_bytes_vbmi(t, blk.sign_words))};
  });
}

void gemv_iq3_xxs_vbmi(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  const X8 x = view(x8, cols);
  const CodeRegs<256> t(iq3_xxs_codes());
  gemv_grid<98>(t, w, stride, rows, cols, x, y, [&](const uint8_t* b, int64_t s) {
    Iq3xxsBlock blk;
    iq3_xxs_block(b, x, s, blk);
    return GridBlock{blk.SX, _mm512_loadu_si512(b + 2), 0, SignMasks(sign_bytes_vbmi(t, blk.sign_words))};
  });
}

// IQ2_XS: 32 u16 per block, 9-bit index | 7-bit sign code << 9.
void gemv_iq2_xs_vbmi(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  const X8 x = view(x8, cols);
  const CodeRegs<512> t(iq2_xs_codes());
  gemv_grid<74>(t, w, stride, rows, cols, x, y, [&](const uint8_t* b, int64_t s) {
    const __m512i q = _mm512_loadu_si512(b + 2);
    const __m512i codes = _mm512_castsi256_si512(_mm512_cvtepi16_epi8(_mm512_srli_epi16(q, 9)));  // one per byte
    return GridBlock{ax16(nibble_scales16(b + 66, f16_at(b)), x, s), _mm512_castsi256_si512(_mm512_cvtepi16_epi8(q)),
                     _mm512_test_epi16_mask(q, _mm512_set1_epi16(256)), SignMasks(sign_bytes_of_codes(t, codes))};
  });
}

// IQ3_S: 64 index bytes, their bits 8 as the u64 at 66 (bit k: index k), raw sign bytes at 74.
void gemv_iq3_s_vbmi(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  const X8 x = view(x8, cols);
  const CodeRegs<512> t(iq3_s_codes());
  gemv_grid<110>(t, w, stride, rows, cols, x, y, [&](const uint8_t* b, int64_t s) {
    return GridBlock{iq3_s_scales(b, x, s), _mm512_loadu_si512(b + 2), _cvtu64_mask64(load_u64(b + 66)),
                     SignMasks(load256(b + 74))};
  });
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace mla::simd
