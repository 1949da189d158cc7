#!/usr/bin/python3
"""Checks tests/reference/ggml_dequant.py against llama.cpp's own decoders (libggml-base.so's
dequantize_row_<type>, loaded with ctypes) on random blocks of every format.

  check_dequant_peer.py [--blocks N] [--seed S]

Blocks are random bytes with their f16 scale fields replaced by finite values (random sign, magnitude
2^-14 .. 2^2), so every bit pattern of the quant fields is exercised. ggml computes in f32 and the
reference in float64, so the two may differ by the final f32 rounding of d * scale * q - min (the
products themselves are exact in f32): bound 2^-23 * max|block| per value.
Prints the max abs difference per type and the share of values equal after rounding ours to f32; exits 1 if any exceeds its bound, 0 with "skipped: peer not
installed" when the library is absent. MLA_PEER_LIB_DIR overrides the library's folder.
"""
import argparse
import ctypes
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ggml_dequant as gd  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PEER_DIR = os.environ.get("MLA_PEER_LIB_DIR") or os.path.join(
    ROOT, "bench", "peer", "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64")


def load_peer():
    path = os.path.join(PEER_DIR, "libggml-base.so")
    return ctypes.CDLL(path) if os.path.exists(path) else None


def random_f16(rng, n):
    mag = 2.0 ** rng.uniform(-14, 2, n)
    return (mag * rng.choice([-1.0, 1.0], n)).astype("<f2")


def random_blocks(rng, name, nb):
    f = gd.FORMATS[name]
    b = rng.integers(0, 256, (nb, f.block_bytes), dtype=np.uint8)
    for off in f.f16_offsets:
        b[:, off:off + 2] = random_f16(rng, nb).view(np.uint8).reshape(nb, 2)
    if name == "IQ1_M":  # d's 16 bits are the top nibbles of the 4 u16 scale words (bytes 49, 51, 53, 55)
        d = random_f16(rng, nb).view("<u2").astype(np.uint16)
        for k in range(4):
            hi = 49 + 2 * k
            b[:, hi] = (b[:, hi] & 0x0F) | (((d >> (4 * k)) & 15) << 4).astype(np.uint8)
    return b


def peer_dequantize(lib, name, raw, n):
    fn = getattr(lib, "dequantize_row_" + name.lower().replace("_k", "_K"))  # q4_K, iq2_xs
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    src = np.ascontiguousarray(raw)
    out = np.empty(n, np.float32)
    fn(src.ctypes.data, out.ctypes.data, n)
    return out.astype(np.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    lib = load_peer()
    if lib is None:
        print(f"skipped: peer not installed ({PEER_DIR}/libggml-base.so)")
        return 0
    rng = np.random.default_rng(a.seed)
    failed = 0
    print(f"{'type':8s} {'blocks':>6s} {'max |ours - ggml|':>18s} {'max / max|block|':>17s} {'f32-equal':>10s}  status")
    for name, f in gd.FORMATS.items():
        b = random_blocks(rng, name, a.blocks)
        n = a.blocks * f.block_values
        try:
            ours = gd.dequantize(name, b, n)
        except (OSError, ValueError) as e:  # the lattice tables file missing or malformed
            failed += 1
            print(f"{name:8s} FAIL: {e}")
            continue
        theirs = peer_dequantize(lib, name, b, n)
        diff = np.abs(ours - theirs).reshape(a.blocks, -1)
        scale = np.maximum(np.abs(ours).reshape(a.blocks, -1).max(axis=1, keepdims=True), 1e-30)
        rel = float((diff / scale).max())
        same = float(np.mean(ours.astype(np.float32) == theirs))
        ok = np.all(np.isfinite(theirs)) and rel <= 2.0 ** -23
        failed += not ok
        print(f"{name:8s} {a.blocks:6d} {diff.max():18.3e} {rel:17.3e} {same:10.6f}  {'PASS' if ok else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
