// Test-grade nearest-lattice-point quantizers of the lattice i-quants; the method and how it
// differs from llama.cpp's is in quants/quantize_iq.h, the bit layouts in quants/dequantize_iq.cpp.
//
// Every format is described the same way: a block of 256 values is cut into units (the values one
// scale field covers: 16 or 32) and groups of 8; a unit's scale is d * step * (2s + 1) with s a
// field of 3 or 4 bits; a group's values are that scale times a grid entry (one entry of 8 values,
// or two of 4), either with signs (7-bit parity code or 8 raw bits) or shifted by +-delta (IQ1).
#include "quants/quantize_iq.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "quants/block_formats.h"
#include "quants/iq_tables.h"
#include "tensor/dtype.h"

namespace mla {
namespace {

constexpr int kGroup = 8;                        // values per sign / delta group
constexpr int kGroups = kSuperBlock / kGroup;     // 32 groups per block
constexpr float kLargestHalf = 65504.0f;          // largest finite f16: the super-scale saturates there

// A grid as floats for the search: entry e is values[width e, width e + width).
struct Grid {
  int width = 0, entries = 0;
  std::vector<float> values, sum, norm2;  // per entry: the values, their sum, their sum of squares
  float max_value = 0;
};

template <class Entry>
Grid make_grid(const Entry* table, int entries, int width, bool is_signed) {
  Grid g;
  g.width = width;
  g.entries = entries;
  for (int e = 0; e < entries; ++e) {
    float sum = 0, norm2 = 0;
    for (int j = 0; j < width; ++j) {
      const float v = static_cast<float>(is_signed ? grid_signed_byte(table[e], j) : grid_byte(table[e], j));
      g.values.push_back(v);
      sum += v;
      norm2 += v * v;
      g.max_value = std::max(g.max_value, std::abs(v));
    }
    g.sum.push_back(sum);
    g.norm2.push_back(norm2);
  }
  return g;
}

enum class Signs { kParity7, kRaw8, kNone };  // kNone: IQ1, whose grid is signed
enum class Delta { kNone, kPerUnit, kPerGroup };

struct Format {
  const Grid& grid;
  Signs signs;
  Delta delta;
  int unit;    // values per scale field
  float step;  // unit scale = d * step * (2s + 1)
  int smax;    // largest scale field value
};

struct GroupCode {
  int index[2] = {0, 0};  // grid entry of the 8 values (width 8), or of values 0-3 and 4-7 (width 4)
  int signs = 0;          // bit j set: value j negated; even count for Signs::kParity7
  bool negative_delta = false;
};

// The entry e minimising sum_j (a_j - scale (g_ej + delta))^2 over the whole grid; err = that sum.
int nearest_entry(const Grid& grid, const float* a, float scale, float delta, float& err) {
  const int w = grid.width;
  int best = 0;
  float best_cost = INFINITY;
  for (int e = 0; e < grid.entries; ++e) {
    const float* g = grid.values.data() + w * e;
    float dot = 0;
    for (int j = 0; j < w; ++j) dot += a[j] * g[j];
    // The expanded square without the terms that do not depend on e.
    const float cost = scale * (scale * (grid.norm2[e] + 2 * delta * grid.sum[e]) - 2 * dot);
    if (cost < best_cost) {
      best_cost = cost;
      best = e;
    }
  }
  err = 0;
  for (int j = 0; j < w; ++j) {
    const float r = a[j] - scale * (grid.values[w * best + j] + delta);
    err += r * r;
  }
  return best;
}

// Codes of one group of 8 values at `scale` (and IQ1's `delta`); returns the squared error.
float encode_group(const Format& f, const float* x, float scale, float delta, GroupCode& code) {
  code = GroupCode{};
  float a[kGroup];
  if (f.signs == Signs::kNone) {
    std::copy(x, x + kGroup, a);
    code.negative_delta = delta < 0;
  } else {
    for (int j = 0; j < kGroup; ++j) {
      a[j] = std::abs(x[j]);
      if (x[j] < 0) code.signs |= 1 << j;
    }
    if (f.signs == Signs::kParity7 && std::popcount(static_cast<unsigned>(code.signs)) % 2 == 1) {
      // The code holds only an even count of negatives: flip the sign that costs least, and aim
      // that value's magnitude at -|x| (the decoder will give it the wrong sign).
      const int smallest = static_cast<int>(std::min_element(a, a + kGroup) - a);
      code.signs ^= 1 << smallest;
      a[smallest] = -a[smallest];
    }
  }
  float total = 0;
  for (int piece = 0; piece < kGroup / f.grid.width; ++piece) {
    float err;
    code.index[piece] = nearest_entry(f.grid, a + piece * f.grid.width, scale, delta, err);
    total += err;
  }
  return total;
}

// Codes of one unit's groups at `scale`, IQ1's delta signs chosen for least error.
float encode_unit(const Format& f, const float* x, float scale, GroupCode* codes) {
  const int groups = f.unit / kGroup;
  if (f.delta == Delta::kPerUnit) {
    GroupCode other[4];
    float err[2] = {0, 0};
    for (int g = 0; g < groups; ++g) err[0] += encode_group(f, x + kGroup * g, scale, kIq1sDelta, codes[g]);
    for (int g = 0; g < groups; ++g) err[1] += encode_group(f, x + kGroup * g, scale, -kIq1sDelta, other[g]);
    if (err[1] < err[0]) std::copy(other, other + groups, codes);
    return std::min(err[0], err[1]);
  }
  float total = 0;
  for (int g = 0; g < groups; ++g) {
    float err = encode_group(f, x + kGroup * g, scale, f.delta == Delta::kNone ? 0 : kIq1mDelta, codes[g]);
    if (f.delta == Delta::kPerGroup) {
      GroupCode other;
      const float err_negative = encode_group(f, x + kGroup * g, scale, -kIq1mDelta, other);
      if (err_negative < err) {
        err = err_negative;
        codes[g] = other;
      }
    }
    total += err;
  }
  return total;
}

// The 8 values a group code decodes to at scale 1.
void group_values(const Format& f, const GroupCode& code, float q[kGroup]) {
  const int w = f.grid.width;
  for (int j = 0; j < kGroup; ++j) {
    const float g = f.grid.values[w * code.index[j / w] + j % w];
    if (f.signs == Signs::kNone) {
      q[j] = g + (code.negative_delta ? -kIq1sDelta : kIq1sDelta);
    } else {
      q[j] = (code.signs >> j) & 1 ? -g : g;
    }
  }
}

// The unit scale with the least squared error among a handful of candidates, each refined by one
// least-squares step for the points it chose. x is normalised (|x| <= 1).
float best_unit_scale(const Format& f, const float* x) {
  float amax = 0, best_err = 0;
  for (int i = 0; i < f.unit; ++i) {
    amax = std::max(amax, std::abs(x[i]));
    best_err += x[i] * x[i];
  }
  float best = 0;  // scale 0 decodes every value to 0: error sum x^2
  if (amax == 0) return best;
  const float top = f.grid.max_value + (f.delta == Delta::kNone ? 0 : kIq1sDelta);
  GroupCode codes[4];
  for (int k = 0; k < 10; ++k) {
    const float candidate = amax / top * (0.5f + 0.1f * static_cast<float>(k));
    encode_unit(f, x, candidate, codes);
    float sum_xq = 0, sum_qq = 0;
    for (int g = 0; g < f.unit / kGroup; ++g) {
      float q[kGroup];
      group_values(f, codes[g], q);
      for (int j = 0; j < kGroup; ++j) {
        sum_xq += x[kGroup * g + j] * q[j];
        sum_qq += q[j] * q[j];
      }
    }
    if (sum_xq <= 0 || sum_qq <= 0) continue;
    const float scale = sum_xq / sum_qq;
    const float err = best_err - scale * sum_xq;  // sum (x - scale q)^2 at the least-squares scale
    if (err < best_err) {
      best_err = err;
      best = scale;
    }
  }
  return best;
}

// One block chosen: f16 super-scale, the scale fields, the 32 group codes.
struct BlockCode {
  uint16_t d = 0;
  int scale[16] = {};
  GroupCode groups[kGroups];
};

// The scale fields and group codes for super-scale `d` (f16 bits): each unit takes the field value
// nearest its chosen scale or a neighbour, whichever decodes closer. Returns the squared error
// (of the normalised values xn = x / amax).
float encode_fields(const Format& f, const float* xn, const float* unit_scale, float amax, uint16_t d,
                    BlockCode& out) {
  out.d = d;
  const float step = f16_to_f32(d) * f.step / amax;  // unit scale per field step, normalised
  const int groups = f.unit / kGroup;
  float total = 0;
  for (int u = 0; u < kSuperBlock / f.unit; ++u) {
    float best_err = INFINITY;
    // Clamped to the field's range before converting to int.
    const float ratio = step > 0 ? std::clamp((unit_scale[u] / step - 1) / 2, 0.0f, static_cast<float>(f.smax)) : 0;
    const int nearest = static_cast<int>(std::lround(ratio));
    for (int s = std::max(0, nearest - 1); s <= std::min(f.smax, nearest + 1); ++s) {
      GroupCode trial[4];
      const float err = encode_unit(f, xn + f.unit * u, step * static_cast<float>(2 * s + 1), trial);
      if (err < best_err) {
        best_err = err;
        out.scale[u] = s;
        std::copy(trial, trial + groups, out.groups + groups * u);
      }
    }
    total += best_err;
  }
  return total;
}

BlockCode choose_block(const Format& f, const float* x) {
  BlockCode best;
  float amax = 0;
  for (int i = 0; i < kSuperBlock; ++i) amax = std::max(amax, std::abs(x[i]));
  if (amax == 0) return best;  // d = 0 decodes every value to 0
  float xn[kSuperBlock];       // normalised, so no square in the search can overflow
  for (int i = 0; i < kSuperBlock; ++i) xn[i] = x[i] / amax;

  float unit_scale[16], largest = 0;
  for (int u = 0; u < kSuperBlock / f.unit; ++u) {
    unit_scale[u] = best_unit_scale(f, xn + f.unit * u);
    largest = std::max(largest, unit_scale[u]);
  }
  // The largest unit scale maps to the largest field value, or a little below it (then the largest
  // units clamp, and the others get a finer step); d in the row's own units, saturated to f16.
  float best_err = INFINITY;
  for (const float shrink : {1.0f, 0.8f, 0.7f, 0.6f, 0.5f}) {
    const float d = std::min(shrink * largest * amax / (f.step * static_cast<float>(2 * f.smax + 1)), kLargestHalf);
    BlockCode trial;
    const float err = encode_fields(f, xn, unit_scale, amax, f32_to_f16(d), trial);
    if (err < best_err) {
      best_err = err;
      best = trial;
    }
  }
  return best;
}

void check_row(const char* name, const float* x, int64_t n) {
  if (n % kSuperBlock != 0) fail(name, ": row length ", n, " is not a multiple of ", kSuperBlock);
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) fail(name, ": non-finite value ", x[i], " at index ", i, " (rows must be finite)");
}

// Sign code of a group under the parity rule: the 8th sign is implied.
uint32_t sign_code7(const GroupCode& c) { return static_cast<uint32_t>(c.signs) & 127; }

template <class Block, class Pack>
void quantize_blocks(const char* name, const Format& f, const float* x, uint8_t* out, int64_t n, Pack pack) {
  check_row(name, x, n);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    Block block{};
    pack(choose_block(f, x + kSuperBlock * b), block);
    std::memcpy(out + b * static_cast<int64_t>(sizeof(Block)), &block, sizeof(Block));
  }
}

const Grid& iq2xxs_grid() { static const Grid g = make_grid(kIq2xxsGrid, 256, 8, false); return g; }
const Grid& iq2xs_grid() { static const Grid g = make_grid(kIq2xsGrid, 512, 8, false); return g; }
const Grid& iq2s_grid() { static const Grid g = make_grid(kIq2sGrid, 1024, 8, false); return g; }
const Grid& iq3xxs_grid() { static const Grid g = make_grid(kIq3xxsGrid, 256, 4, false); return g; }
const Grid& iq3s_grid() { static const Grid g = make_grid(kIq3sGrid, 512, 4, false); return g; }
const Grid& iq1s_grid() { static const Grid g = make_grid(kIq1sGrid, 2048, 8, true); return g; }

}  // namespace

void quantize_row_iq2_xxs(const float* x, uint8_t* out, int64_t n) {
  const Format f{iq2xxs_grid(), Signs::kParity7, Delta::kNone, 32, 0.125f, 15};
  quantize_blocks<BlockIQ2_XXS>("quantize_row_iq2_xxs", f, x, out, n, [](const BlockCode& c, BlockIQ2_XXS& b) {
    b.d = c.d;
    for (int ib = 0; ib < 8; ++ib) {
      uint32_t a0 = 0, a1 = static_cast<uint32_t>(c.scale[ib]) << 28;
      for (int l = 0; l < 4; ++l) {
        a0 |= static_cast<uint32_t>(c.groups[4 * ib + l].index[0]) << (8 * l);
        a1 |= sign_code7(c.groups[4 * ib + l]) << (7 * l);
      }
      std::memcpy(reinterpret_cast<uint8_t*>(b.qs) + 8 * ib, &a0, 4);
      std::memcpy(reinterpret_cast<uint8_t*>(b.qs) + 8 * ib + 4, &a1, 4);
    }
  });
}

void quantize_row_iq2_xs(const float* x, uint8_t* out, int64_t n) {
  const Format f{iq2xs_grid(), Signs::kParity7, Delta::kNone, 16, 0.125f, 15};
  quantize_blocks<BlockIQ2_XS>("quantize_row_iq2_xs", f, x, out, n, [](const BlockCode& c, BlockIQ2_XS& b) {
    b.d = c.d;
    for (int g = 0; g < kGroups; ++g)
      b.qs[g] = static_cast<uint16_t>(c.groups[g].index[0] | sign_code7(c.groups[g]) << 9);
    for (int ib = 0; ib < 8; ++ib) b.scales[ib] = static_cast<uint8_t>(c.scale[2 * ib] | c.scale[2 * ib + 1] << 4);
  });
}

void quantize_row_iq2_s(const float* x, uint8_t* out, int64_t n) {
  const Format f{iq2s_grid(), Signs::kRaw8, Delta::kNone, 16, 0.125f, 15};
  quantize_blocks<BlockIQ2_S>("quantize_row_iq2_s", f, x, out, n, [](const BlockCode& c, BlockIQ2_S& b) {
    b.d = c.d;
    for (int g = 0; g < kGroups; ++g) {
      const int index = c.groups[g].index[0];
      b.qs[g] = static_cast<uint8_t>(index & 255);
      b.qs[32 + g] = static_cast<uint8_t>(c.groups[g].signs);
      b.qh[g / 4] |= static_cast<uint8_t>((index >> 8) << (2 * (g % 4)));
    }
    for (int ib = 0; ib < 8; ++ib) b.scales[ib] = static_cast<uint8_t>(c.scale[2 * ib] | c.scale[2 * ib + 1] << 4);
  });
}

void quantize_row_iq3_xxs(const float* x, uint8_t* out, int64_t n) {
  const Format f{iq3xxs_grid(), Signs::kParity7, Delta::kNone, 32, 0.25f, 15};
  quantize_blocks<BlockIQ3_XXS>("quantize_row_iq3_xxs", f, x, out, n, [](const BlockCode& c, BlockIQ3_XXS& b) {
    b.d = c.d;
    for (int ib = 0; ib < 8; ++ib) {
      uint32_t w = static_cast<uint32_t>(c.scale[ib]) << 28;
      for (int l = 0; l < 4; ++l) {
        const GroupCode& g = c.groups[4 * ib + l];
        b.qs[8 * ib + 2 * l] = static_cast<uint8_t>(g.index[0]);
        b.qs[8 * ib + 2 * l + 1] = static_cast<uint8_t>(g.index[1]);
        w |= sign_code7(g) << (7 * l);
      }
      std::memcpy(b.qs + 64 + 4 * ib, &w, 4);
    }
  });
}

void quantize_row_iq3_s(const float* x, uint8_t* out, int64_t n) {
  const Format f{iq3s_grid(), Signs::kRaw8, Delta::kNone, 32, 1.0f, 15};
  quantize_blocks<BlockIQ3_S>("quantize_row_iq3_s", f, x, out, n, [](const BlockCode& c, BlockIQ3_S& b) {
    b.d = c.d;
    for (int g = 0; g < kGroups; ++g) {
      b.signs[g] = static_cast<uint8_t>(c.groups[g].signs);
      for (int h = 0; h < 2; ++h) {
        const int k = 2 * g + h, index = c.groups[g].index[h];
        b.qs[k] = static_cast<uint8_t>(index & 255);
        b.qh[k / 8] |= static_cast<uint8_t>((index >> 8) << (k % 8));
      }
    }
    for (int ib = 0; ib < 8; ++ib) b.scales[ib / 2] |= static_cast<uint8_t>(c.scale[ib] << (4 * (ib % 2)));
  });
}

void quantize_row_iq1_s(const float* x, uint8_t* out, int64_t n) {
  const Format f{iq1s_grid(), Signs::kNone, Delta::kPerUnit, 32, 1.0f, 7};
  quantize_blocks<BlockIQ1_S>("quantize_row_iq1_s", f, x, out, n, [](const BlockCode& c, BlockIQ1_S& b) {
    b.d = c.d;
    for (int ib = 0; ib < 8; ++ib) {
      int h = c.scale[ib] << 12 | (c.groups[4 * ib].negative_delta ? 0x8000 : 0);
      for (int l = 0; l < 4; ++l) {
        const int index = c.groups[4 * ib + l].index[0];
        b.qs[4 * ib + l] = static_cast<uint8_t>(index & 255);
        h |= (index >> 8) << (3 * l);
      }
      b.qh[ib] = static_cast<uint16_t>(h);
    }
  });
}

void quantize_row_iq1_m(const float* x, uint8_t* out, int64_t n) {
  const Format f{iq1s_grid(), Signs::kNone, Delta::kPerGroup, 16, 1.0f, 7};
  quantize_blocks<BlockIQ1_M>("quantize_row_iq1_m", f, x, out, n, [](const BlockCode& c, BlockIQ1_M& b) {
    uint16_t words[4] = {};
    for (int k = 0; k < 4; ++k) words[k] = static_cast<uint16_t>(((c.d >> (4 * k)) & 15) << 12);
    for (int ib = 0; ib < 8; ++ib) {
      const int shift = 6 * (ib % 2);
      words[ib / 2] |= static_cast<uint16_t>((c.scale[2 * ib] | c.scale[2 * ib + 1] << 3) << shift);
      for (int l = 0; l < 4; ++l) {
        const GroupCode& g = c.groups[4 * ib + l];
        b.qs[4 * ib + l] = static_cast<uint8_t>(g.index[0] & 255);
        const int nibble = (g.index[0] >> 8) | (g.negative_delta ? 8 : 0);
        b.qh[2 * ib + l / 2] |= static_cast<uint8_t>(nibble << (4 * (l % 2)));
      }
    }
    std::memcpy(b.scales, words, 8);
  });
}

}  // namespace mla
