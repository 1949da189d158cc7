// Lattice tables of ggml's i-quant formats: the grids a block's indices select and the 7-bit sign
// code. Transcribed (generated) from ggml's `src/ggml-common.h`, repository ggml-org/ggml, commit
// d99724f2b141fed9e1a9f402213506c081433465 (iq2xxs_grid, iq2xs_grid, iq2s_grid, iq3xxs_grid,
// iq3s_grid, iq1s_grid, ksigns_iq2xs, IQ1S_DELTA, IQ1M_DELTA). The numbers are file-format facts:
// GGUF files written by llama.cpp decode only with exactly these values.
//
// Grid entries pack one small value per byte, byte j (little-endian) = value j of the group:
//   kIq2xxsGrid / kIq2xsGrid / kIq2sGrid: 8 unsigned magnitudes in {8, 25, 43}
//   kIq3xxsGrid: 4 unsigned magnitudes in {4, 12, 20, 28, 36, 44, 52, 62}
//   kIq3sGrid:   4 unsigned magnitudes in {1, 3, 5, ..., 15}
//   kIq1sGrid: 8 signed values in {-1, 0, 1} (bytes 0xff, 0x00, 0x01)
// kIq2xsSigns[k] = k | 128 * parity(k): a 7-bit code for the signs of 8 values (bit j set =
// value j negative) whose 8th sign makes the count of negatives even.
#pragma once
#include <cstdint>

namespace mla {

extern const uint64_t kIq2xxsGrid[256];
extern const uint64_t kIq2xsGrid[512];
extern const uint64_t kIq2sGrid[1024];
extern const uint32_t kIq3xxsGrid[256];
extern const uint32_t kIq3sGrid[512];
extern const uint64_t kIq1sGrid[2048];
extern const uint8_t kIq2xsSigns[128];

// IQ1_S / IQ1_M: every grid value is shifted by +-kIq1Delta (sign bit per group in the block).
constexpr float kIq1sDelta = 0.125f;  // IQ1S_DELTA
constexpr float kIq1mDelta = 0.125f;  // IQ1M_DELTA (the same value; IQ1_M's decoder uses IQ1S_DELTA)

// Value j (j < 8) of a grid entry, as the decoders read it.
inline int grid_byte(uint64_t entry, int j) { return static_cast<int>((entry >> (8 * j)) & 0xff); }
inline int grid_signed_byte(uint64_t entry, int j) { return static_cast<int8_t>(grid_byte(entry, j)); }

}  // namespace mla
