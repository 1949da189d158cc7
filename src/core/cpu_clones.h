// Portable hot loops compiled three times and picked at load time by the CPU's features (GCC's
// target_clones resolver, in this order): AVX-512F, AVX2 + FMA + F16C (x86-64-v3), and the x86-64
// baseline. The binary built on one x86-64 machine runs on any other.
#pragma once

#define MLA_CLONES __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
