#!/usr/bin/python3
"""Independent numpy dequantizer of ggml's block formats, for checking the engine's decoders and kernels.

  dequantize(type, raw, n) -> float64 array of n values
      type: a ggml type id (int) or name ("Q4_K"); raw: the tensor's bytes (bytes, memoryview or uint8
      array), n: the number of values (a multiple of the block size).

Written from the format descriptions: ggml's ggml-common.h (block structs, the order of their fields)
and ggml-quants.c (dequantize_row_*), with gguf-py's quants.py as a second description; no code is
shared with the engine (src/) or taken from gguf-py. Every decoder works on all blocks at once: the raw
bytes are viewed as a [blocks, block_bytes] uint8 array and each field is sliced out of its columns.
Values are computed in float64, so where ggml rounds to f32 (d * scale - min) this gives the exact value.

The lattice tables of the i-quants (grids of 8 or 4 magnitudes, the sign table) are format facts that
the engine already transcribes in src/quants/iq_tables.cpp; they are parsed from that file at run time
(each table is one `kName[N] = { ... }` definition) rather than transcribed a second time. Set
MLA_IQ_TABLES to read them from another file.
"""
import os
import re
from dataclasses import dataclass

import numpy as np

QK_K = 256  # values per super-block of the K-quants and i-quants (ggml-common.h QK_K)

# ggml-common.h kvalues_iq4nl: the 16 non-uniform levels of IQ4_NL and IQ4_XS.
IQ4NL_LEVELS = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], np.float64)
IQ1S_DELTA = 0.125  # ggml-common.h IQ1S_DELTA (IQ1M_DELTA is the same value)

TABLES_PATH = os.environ.get("MLA_IQ_TABLES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "quants", "iq_tables.cpp")
_tables = None


def iq_tables():
    """The lattice tables as {name: uint64 array}, parsed once from TABLES_PATH."""
    global _tables
    if _tables is None:
        if not os.path.exists(TABLES_PATH):
            raise FileNotFoundError(f"lattice tables not found: {TABLES_PATH} (set MLA_IQ_TABLES)")
        text = open(TABLES_PATH, encoding="utf-8").read()
        text = re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)
        _tables = {}
        for name, size, body in re.findall(r"(k\w+)\[(\d+)\]\s*=\s*\{([^}]*)\}", text):
            values = [int(v, 0) for v in re.findall(r"0[xX][0-9a-fA-F]+|\d+", body)]
            if len(values) != int(size):
                raise ValueError(f"{TABLES_PATH}: {name} has {len(values)} values, declared {size}")
            _tables[name] = np.array(values, np.uint64)
    return _tables


def grid_bytes(name, width, signed=False):
    """Table `name` as a [entries, width] array of its little-endian bytes (a grid point per row)."""
    words = iq_tables()[name].astype("<u8" if width == 8 else "<u4")
    return words.view(np.int8 if signed else np.uint8).reshape(-1, width).astype(np.float64)


def sign_bits(byte_values, count=8):
    """[..., count] array of -1.0 / +1.0: bit j of each byte set means negative."""
    bits = (byte_values[..., None].astype(np.uint32) >> np.arange(count, dtype=np.uint32)) & 1
    return 1.0 - 2.0 * bits


# ---- field access on [blocks, block_bytes] uint8 arrays ----

def f16(b, offset):
    return b[:, offset:offset + 2].copy().view("<f2")[:, 0].astype(np.float64)


def u16(b, offset, count):
    return b[:, offset:offset + 2 * count].copy().view("<u2").astype(np.uint32)


def u32(b, offset, count):
    return b[:, offset:offset + 4 * count].copy().view("<u4").astype(np.uint64)


def nibbles_split(qs):
    """[nb, k] bytes -> [nb, 2k]: all low nibbles, then all high nibbles (the order of Q4_0, IQ4_NL, ...)."""
    return np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.int64)


# ---- the 32-value formats: ggml-common.h block_q8_0 .. block_iq4_nl ----

def q8_0(b):   # {f16 d; int8 qs[32]}: d * q
    return f16(b, 0)[:, None] * b[:, 2:34].view(np.int8)


def q4_0(b):   # {f16 d; u8 qs[16]}: d * (nibble - 8); low nibbles are values 0..15, high 16..31
    return f16(b, 0)[:, None] * (nibbles_split(b[:, 2:18]) - 8)


def q4_1(b):   # {f16 d, m; u8 qs[16]}: d * nibble + m
    return f16(b, 0)[:, None] * nibbles_split(b[:, 4:20]) + f16(b, 2)[:, None]


def fifth_bits(qh_bytes):
    """Bit j of the little-endian u32 qh is the fifth bit of value j (Q5_0, Q5_1)."""
    qh = qh_bytes.copy().view("<u4").astype(np.uint64)  # [nb, 1]
    return ((qh >> np.arange(32, dtype=np.uint64)) & 1).astype(np.int64)


def q5_0(b):   # {f16 d; u8 qh[4]; u8 qs[16]}: d * ((nibble | bit << 4) - 16)
    return f16(b, 0)[:, None] * ((nibbles_split(b[:, 6:22]) | fifth_bits(b[:, 2:6]) << 4) - 16)


def q5_1(b):   # {f16 d, m; u8 qh[4]; u8 qs[16]}: d * (nibble | bit << 4) + m
    return f16(b, 0)[:, None] * (nibbles_split(b[:, 8:24]) | fifth_bits(b[:, 4:8]) << 4) + f16(b, 2)[:, None]


def iq4_nl(b):  # {f16 d; u8 qs[16]}: d * level[nibble]
    return f16(b, 0)[:, None] * IQ4NL_LEVELS[nibbles_split(b[:, 2:18])]


# ---- K-quants: super-blocks of 256 values ----

def two_bit_planes(qs):
    """Q2_K / Q3_K low bits: qs [nb, 64] -> [nb, 256]. Each 128-value half n uses qs[32n:32n+32]; its
    4 runs of 32 values take bits (2j, 2j+1) of those 32 bytes, for j = 0..3."""
    q = qs.reshape(-1, 2, 1, 32) >> (2 * np.arange(4, dtype=np.uint8)).reshape(1, 1, 4, 1)
    return (q & 3).reshape(-1, QK_K).astype(np.int64)


def q2_k(b):   # {u8 scales[16]; u8 qs[64]; f16 d, dmin}: per 16 values d*(sc&15)*q - dmin*(sc>>4)
    scale = np.repeat(f16(b, 80)[:, None] * (b[:, 0:16] & 15), 16, axis=1)
    offset = np.repeat(f16(b, 82)[:, None] * (b[:, 0:16] >> 4), 16, axis=1)
    return scale * two_bit_planes(b[:, 16:80]) - offset


def q3_k_scales(s):
    """Q3_K's 16 six-bit scales from 12 bytes: low 4 bits of scale i in byte i (i < 8, low nibble) or
    byte i - 8 (high nibble); its top 2 bits are bits 2*(i // 4) of byte 8 + i % 4. Stored + 32."""
    i = np.arange(16)
    low = np.where(i < 8, s[:, i % 8] & 15, s[:, i % 8] >> 4)
    high = (s[:, 8 + i % 4] >> (2 * (i // 4))) & 3
    return (low | high << 4).astype(np.int64) - 32


def q3_k(b):   # {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}: d * scale * (low2 - (high bit ? 0 : 4))
    # hmask: value 32k + l (k = 0..7, l = 0..31) has its third bit in bit k of hmask[l].
    high = (b[:, None, 0:32] >> np.arange(8, dtype=np.uint8)[None, :, None]) & 1
    q = two_bit_planes(b[:, 32:96]) - 4 * (1 - high.reshape(-1, QK_K).astype(np.int64))
    scale = f16(b, 108)[:, None] * q3_k_scales(b[:, 96:108])
    return np.repeat(scale, 16, axis=1) * q


def k4_scales_mins(s):
    """Q4_K / Q5_K: the 8 six-bit scales and mins of the 32-value sub-blocks from 12 bytes
    (ggml-quants.c get_scale_min_k4): j < 4: s[j] & 63, s[j+4] & 63; else the low 4 bits from
    s[j+4] (low / high nibble) and the top 2 from the top bits of s[j-4] / s[j]."""
    s = s.astype(np.int64)
    scales = np.concatenate([s[:, 0:4] & 63, (s[:, 8:12] & 15) | (s[:, 0:4] >> 6) << 4], axis=1)
    mins = np.concatenate([s[:, 4:8] & 63, (s[:, 8:12] >> 4) | (s[:, 4:8] >> 6) << 4], axis=1)
    return scales, mins


def k4_nibbles(qs):
    """Q4_K / Q5_K low 4 bits: qs [nb, 128] -> [nb, 256]; chunk c of 64 values is the low nibbles of
    qs[32c:32c+32] then their high nibbles."""
    q = qs.reshape(-1, 4, 1, 32) >> np.array([0, 4], np.uint8).reshape(1, 1, 2, 1)
    return (q & 15).reshape(-1, QK_K).astype(np.int64)


def k4_apply(b, q):
    scales, mins = k4_scales_mins(b[:, 4:16])
    d, dmin = f16(b, 0)[:, None], f16(b, 2)[:, None]
    return np.repeat(d * scales, 32, axis=1) * q - np.repeat(dmin * mins, 32, axis=1)


def q4_k(b):   # {f16 d, dmin; u8 scales[12]; u8 qs[128]}: per 32 values d*sc*q - dmin*m
    return k4_apply(b, k4_nibbles(b[:, 16:144]))


def q5_k(b):   # {f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: fifth bit of value 32s + l is bit s of qh[l]
    high = (b[:, None, 16:48] >> np.arange(8, dtype=np.uint8)[None, :, None]) & 1
    return k4_apply(b, k4_nibbles(b[:, 48:176]) | high.reshape(-1, QK_K).astype(np.int64) << 4)


def q6_k(b):   # {u8 ql[128]; u8 qh[64]; int8 scales[16]; f16 d}: d * scale * (q6 - 32), a scale per 16 values
    # Half n (128 values) uses ql[64n:64n+64], qh[32n:32n+32]. Its quarter k (32 values, l = 0..31):
    # low 4 bits = nibble k // 2 of ql[64n + 32(k % 2) + l], top 2 bits = bits (2k, 2k+1) of qh[32n + l].
    ql = b[:, 0:128].reshape(-1, 2, 1, 2, 32)  # [nb, n, nibble, k % 2, l]
    low = (ql >> np.array([0, 4], np.uint8).reshape(1, 1, 2, 1, 1)) & 15
    qh = b[:, 128:192].reshape(-1, 2, 1, 32)
    high = (qh >> (2 * np.arange(4, dtype=np.uint8)).reshape(1, 1, 4, 1)) & 3
    q = (low.reshape(-1, 2, 4, 32).astype(np.int64) | high.astype(np.int64) << 4).reshape(-1, QK_K) - 32
    scale = f16(b, 208)[:, None] * b[:, 192:208].view(np.int8)
    return np.repeat(scale, 16, axis=1) * q


# ---- i-quants ----

def iq4_xs(b):  # {f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]}: per 32 values d * (ls - 32) * level
    ib = np.arange(8)
    ls = ((b[:, 4 + ib // 2] >> (4 * (ib % 2))) & 15).astype(np.int64) | ((u16(b, 2, 1) >> (2 * ib)) & 3) << 4
    q = IQ4NL_LEVELS[nibbles_split(b[:, 8:136].reshape(-1, 16)).reshape(-1, QK_K)]
    return np.repeat(f16(b, 0)[:, None] * (ls - 32), 32, axis=1) * q


def signs_from_table(seven_bits):
    """ksigns_iq2xs: 7 stored sign bits -> 8 (the eighth makes the count of negatives even)."""
    return sign_bits(iq_tables()["kIq2xsSigns"].astype(np.uint32)[seven_bits])


def iq2_xxs(b):  # {f16 d; u16 qs[32]}: per 32 values 8 bytes = u8 grid[4], u32 signs(4 x 7 bits) | scale << 28
    grid = grid_bytes("kIq2xxsGrid", 8)
    words = u32(b, 2, 16).reshape(-1, 8, 2)
    idx = b[:, 2:66].reshape(-1, 8, 8)[:, :, 0:4]                                     # [nb, 8, 4]
    signs = signs_from_table((words[:, :, 1:2] >> (7 * np.arange(4, dtype=np.uint64))) & 127)
    db = f16(b, 0)[:, None] * (0.5 + (words[:, :, 1] >> 28)) * 0.25                  # [nb, 8]
    return (db[:, :, None, None] * grid[idx] * signs).reshape(-1, QK_K)


def iq2_xs(b):  # {f16 d; u16 qs[32]; u8 scales[8]}: qs = grid index (9 bits) | signs (7 bits) << 9
    grid = grid_bytes("kIq2xsGrid", 8)
    qs = u16(b, 2, 32).reshape(-1, 8, 4)
    sc = b[:, 66:74]
    db = f16(b, 0)[:, None, None] * (0.5 + np.stack([sc & 15, sc >> 4], axis=2)) * 0.25  # [nb, 8, 2]
    db = np.repeat(db, 2, axis=2)                                                       # per group of 8
    return (db[..., None] * grid[qs & 511] * signs_from_table(qs >> 9)).reshape(-1, QK_K)


def iq2_s(b):  # {f16 d; u8 qs[32] grid low bits, u8 signs[32]; u8 qh[8]; u8 scales[8]}
    grid = grid_bytes("kIq2sGrid", 8)
    low = b[:, 2:34].reshape(-1, 8, 4).astype(np.int64)
    qh = b[:, 66:74].astype(np.int64)
    idx = low | ((qh[:, :, None] >> (2 * np.arange(4))) & 3) << 8                      # [nb, 8, 4]
    signs = sign_bits(b[:, 34:66].reshape(-1, 8, 4))
    sc = b[:, 74:82]
    db = np.repeat(f16(b, 0)[:, None, None] * (0.5 + np.stack([sc & 15, sc >> 4], axis=2)) * 0.25, 2, axis=2)
    return (db[..., None] * grid[idx] * signs).reshape(-1, QK_K)


def iq3_xxs(b):  # {f16 d; u8 qs[64] grid indices (4 values each); u32 signs_scales[8]}
    grid = grid_bytes("kIq3xxsGrid", 4)
    idx = b[:, 2:66].reshape(-1, 8, 4, 2)                                              # [nb, ib, group of 8, half]
    words = u32(b, 66, 8)                                                               # [nb, 8]
    signs = signs_from_table((words[:, :, None] >> (7 * np.arange(4, dtype=np.uint64))) & 127)
    db = f16(b, 0)[:, None] * (0.5 + (words >> 28)) * 0.5
    values = grid[idx].reshape(-1, 8, 4, 8) * signs
    return (db[:, :, None, None] * values).reshape(-1, QK_K)


def iq3_s(b):  # {f16 d; u8 qs[64]; u8 qh[8]; u8 signs[32]; u8 scales[4]}: index = qs | bit k of qh << 8
    grid = grid_bytes("kIq3sGrid", 4)
    qh = b[:, 66:74].astype(np.int64)
    idx = b[:, 2:66].reshape(-1, 8, 8).astype(np.int64) | ((qh[:, :, None] >> np.arange(8)) & 1) << 8
    signs = sign_bits(b[:, 74:106].reshape(-1, 8, 4))                                  # [nb, 8, 4, 8]
    ib = np.arange(8)
    db = f16(b, 0)[:, None] * (1 + 2 * ((b[:, 106 + ib // 2] >> (4 * (ib % 2))) & 15))
    values = grid[idx].reshape(-1, 8, 4, 8) * signs
    return (db[:, :, None, None] * values).reshape(-1, QK_K)


def iq1_values(d_groups, idx, negative_delta):
    """IQ1_S / IQ1_M: d * (grid point (int8 in -1..1) + delta) for groups of 8 values."""
    grid = grid_bytes("kIq1sGrid", 8, signed=True)
    delta = np.where(negative_delta, -IQ1S_DELTA, IQ1S_DELTA)
    return (d_groups[..., None] * (grid[idx] + delta[..., None])).reshape(-1, QK_K)


def iq1_s(b):  # {f16 d; u8 qs[32]; u16 qh[8]}: qh = 4 x 3 index bits | 3-bit scale << 12 | delta sign << 15
    qh = u16(b, 34, 8).astype(np.int64)                                                # [nb, 8]
    idx = b[:, 2:34].reshape(-1, 8, 4).astype(np.int64) | ((qh[:, :, None] >> (3 * np.arange(4))) & 7) << 8
    dl = f16(b, 0)[:, None] * (2 * ((qh >> 12) & 7) + 1)
    return iq1_values(np.repeat(dl[:, :, None], 4, axis=2), idx, np.repeat((qh & 0x8000)[:, :, None] != 0, 4, axis=2))


def iq1_m(b):  # {u8 qs[32]; u8 qh[16]; u8 scales[8]}: the f16 d is the top nibbles of the 4 u16 scale words
    sc = u16(b, 48, 4).astype(np.int64)                                                # [nb, 4]
    d_bits = (sc[:, 0] >> 12) | (sc[:, 1] >> 8 & 0xF0) | (sc[:, 2] >> 4 & 0xF00) | (sc[:, 3] & 0xF000)
    d = d_bits.astype("<u2").view("<f2").astype(np.float64)
    # Group g (8 values) of sub-block ib: qh nibble g % 2 of qh[2 ib + g // 2] = 3 index bits | delta sign << 3;
    # 3-bit scale at bits 6 (ib % 2) + 3 (g // 2) of scale word ib // 2.
    nib = (b[:, 32:48].reshape(-1, 8, 2, 1) >> np.array([0, 4], np.uint8)) & 15
    nib = nib.reshape(-1, 8, 4).astype(np.int64)
    idx = b[:, 0:32].reshape(-1, 8, 4).astype(np.int64) | (nib & 7) << 8
    ib, g = np.arange(8)[:, None], np.arange(4)[None, :]
    scale3 = (sc[:, ib // 2] >> (6 * (ib % 2) + 3 * (g // 2))) & 7                       # [nb, 8, 4]
    return iq1_values(d[:, None, None] * (2 * scale3 + 1), idx, (nib & 8) != 0)


@dataclass(frozen=True)
class Format:
    type_id: int        # ggml_type (ggml.h; gguf-py constants.py GGMLQuantizationType)
    block_values: int
    block_bytes: int    # sizeof(block_*) in ggml-common.h
    decode: object      # [blocks, block_bytes] uint8 -> [blocks, block_values] float64
    f16_offsets: tuple  # byte offsets of the block's f16 scale fields (IQ1_M: none, d is spread out)


FORMATS = {
    "Q4_0": Format(2, 32, 18, q4_0, (0,)),
    "Q4_1": Format(3, 32, 20, q4_1, (0, 2)),
    "Q5_0": Format(6, 32, 22, q5_0, (0,)),
    "Q5_1": Format(7, 32, 24, q5_1, (0, 2)),
    "Q8_0": Format(8, 32, 34, q8_0, (0,)),
    "Q2_K": Format(10, QK_K, 84, q2_k, (80, 82)),
    "Q3_K": Format(11, QK_K, 110, q3_k, (108,)),
    "Q4_K": Format(12, QK_K, 144, q4_k, (0, 2)),
    "Q5_K": Format(13, QK_K, 176, q5_k, (0, 2)),
    "Q6_K": Format(14, QK_K, 210, q6_k, (208,)),
    "IQ2_XXS": Format(16, QK_K, 66, iq2_xxs, (0,)),
    "IQ2_XS": Format(17, QK_K, 74, iq2_xs, (0,)),
    "IQ3_XXS": Format(18, QK_K, 98, iq3_xxs, (0,)),
    "IQ1_S": Format(19, QK_K, 50, iq1_s, (0,)),
    "IQ4_NL": Format(20, 32, 18, iq4_nl, (0,)),
    "IQ3_S": Format(21, QK_K, 110, iq3_s, (0,)),
    "IQ2_S": Format(22, QK_K, 82, iq2_s, (0,)),
    "IQ4_XS": Format(23, QK_K, 136, iq4_xs, (0,)),
    "IQ1_M": Format(29, QK_K, 56, iq1_m, ()),
}
BY_ID = {f.type_id: name for name, f in FORMATS.items()}


def format_of(type_):
    name = BY_ID.get(type_) if isinstance(type_, int) else str(type_).upper()
    if name not in FORMATS:
        raise ValueError(f"not a block format this dequantizer knows: {type_}")
    return name, FORMATS[name]


def dequantize(type_, raw, n):
    """The n float64 values stored in raw (bytes of whole blocks of format type_)."""
    name, f = format_of(type_)
    if n % f.block_values:
        raise ValueError(f"{name}: {n} values is not a whole number of {f.block_values}-value blocks")
    nb = n // f.block_values
    b = np.frombuffer(raw, np.uint8, count=nb * f.block_bytes).reshape(nb, f.block_bytes)
    out = f.decode(b)
    assert out.shape == (nb, f.block_values), (name, out.shape)
    return out.reshape(n)
