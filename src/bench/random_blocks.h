// Random blocks of a GGUF block format (no quantizer needed): random bytes, then every f16 scale
// field of each block (d, and dmin / m where the format has one; IQ1_M's d in its scale nibbles) set to a finite value of moderate
// size, so every code, sub-scale and sign pattern occurs. For the gemv bench (bandwidth does not
// depend on the values) and the kernel tests (fresh random inputs for the decoders and the kernels).
#pragma once
#include <cstdint>
#include <random>

#include "tensor/dtype.h"

namespace mla::bench {

// True where random_blocks knows the format's scale fields (every format the VNNI decode covers:
// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K..Q6_K, IQ4_XS and the lattice i-quants).
bool has_random_blocks(DType t);
// blocks blocks of t at out (blocks * dtype_block_bytes(t) bytes); f16 scales of magnitude
// 1e-3..1e-2 with a random sign.
void random_blocks(DType t, uint8_t* out, int64_t blocks, std::mt19937& rng);

}  // namespace mla::bench
