"""A small GGUF (version 3) reader and writer for the reference tools; numpy + the standard library,
no code shared with the engine or gguf-py.

Layout (ggml's docs/gguf.md): "GGUF", u32 version, u64 tensor count, u64 metadata count; metadata
entries (string key, u32 value type, value); tensor infos (string name, u32 n_dims, u64 ne[n_dims]
innermost first, u32 ggml type, u64 offset into the data section); padding to general.alignment
(default 32); the data section, each tensor at its offset (a multiple of the alignment).
Strings are u64 length + UTF-8 bytes; arrays are u32 element type, u64 count, elements.

Metadata is kept as the raw bytes of each entry, so a rewritten file carries it unchanged.
"""
import struct
from dataclasses import dataclass

import numpy as np

import ggml_dequant

# GGUF metadata value types -> struct format of the scalar types (8 string, 9 array)
SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
STRING, ARRAY = 8, 9
F32, F16, BF16 = 0, 1, 30  # ggml types of the plain float tensors
PLAIN_BYTES = {F32: 4, F16: 2, BF16: 2}


def type_name(t):
    return {F32: "F32", F16: "F16", BF16: "BF16"}.get(t) or ggml_dequant.BY_ID.get(t, f"type {t}")


def tensor_bytes(ggml_type, ne):
    n = int(np.prod(ne, dtype=np.int64))
    if ggml_type in PLAIN_BYTES:
        return n * PLAIN_BYTES[ggml_type]
    _, f = ggml_dequant.format_of(ggml_type)
    if ne[0] % f.block_values:
        raise ValueError(f"rows of {ne[0]} values are not whole {f.block_values}-value blocks")
    return n // f.block_values * f.block_bytes


@dataclass
class Tensor:
    name: str
    ne: list          # ne[0] = row length (innermost), as GGUF stores it
    ggml_type: int
    data: bytes

    def shape(self):  # numpy order (outermost first)
        return tuple(reversed(self.ne))


class Reader:
    def __init__(self, raw):
        self.raw, self.pos = raw, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.raw, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take("Q")
        self.pos += n
        return self.raw[self.pos - n:self.pos].decode("utf-8")

    def value(self, vtype):
        if vtype in SCALAR:
            return self.take(SCALAR[vtype])
        if vtype == STRING:
            return self.string()
        if vtype == ARRAY:
            elem, count = self.take("IQ")
            return [self.value(elem) for _ in range(count)]
        raise ValueError(f"unknown GGUF value type {vtype} at byte {self.pos}")


@dataclass
class GGUF:
    metadata: dict    # key -> decoded value
    raw_kv: list      # [(key, bytes of the whole entry)] in file order
    tensors: list     # [Tensor] in file order

    @property
    def alignment(self):
        return int(self.metadata.get("general.alignment", 32))


def read(path):
    try:
        return _read(path)
    except (struct.error, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: truncated or corrupt GGUF header ({e})") from e


def _read(path):
    raw = open(path, "rb").read()
    r = Reader(raw)
    if raw[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    r.pos = 4
    version, n_tensors, n_kv = r.take("IQQ")
    if version != 3:
        raise ValueError(f"{path}: GGUF version {version}, this reader knows 3")
    metadata, raw_kv = {}, []
    for _ in range(n_kv):
        start = r.pos
        key = r.string()
        metadata[key] = r.value(r.take("I"))
        raw_kv.append((key, raw[start:r.pos]))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        ne = [r.take("Q") for _ in range(r.take("I"))]
        infos.append((name, ne, r.take("I"), r.take("Q")))
    g = GGUF(metadata, raw_kv, [])
    data_start = -(-r.pos // g.alignment) * g.alignment
    for name, ne, t, off in infos:
        size = tensor_bytes(t, ne)
        if data_start + off + size > len(raw):
            raise ValueError(f"{path}: tensor {name} runs past the end of the file")
        g.tensors.append(Tensor(name, ne, t, raw[data_start + off:data_start + off + size]))
    return g


def write(path, raw_kv, tensors, alignment=32):
    def string(s):
        b = s.encode("utf-8")
        return struct.pack("<Q", len(b)) + b

    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(raw_kv)))
    for _, entry in raw_kv:
        out += entry
    offset = 0
    for t in tensors:
        if len(t.data) != tensor_bytes(t.ggml_type, t.ne):
            raise ValueError(f"{t.name}: {len(t.data)} bytes, its type and shape need {tensor_bytes(t.ggml_type, t.ne)}")
        out += string(t.name) + struct.pack("<I", len(t.ne)) + struct.pack(f"<{len(t.ne)}Q", *t.ne)
        out += struct.pack("<IQ", t.ggml_type, offset)
        offset += -(-len(t.data) // alignment) * alignment
    with open(path, "wb") as f:
        f.write(out + b"\0" * (-len(out) % alignment))
        for t in tensors:
            f.write(t.data)
            f.write(b"\0" * (-len(t.data) % alignment))


def as_f32(t):
    """A tensor's values as a float32 array in numpy shape (plain float types only)."""
    if t.ggml_type == F32:
        a = np.frombuffer(t.data, "<f4")
    elif t.ggml_type == F16:
        a = np.frombuffer(t.data, "<f2").astype(np.float32)
    elif t.ggml_type == BF16:
        a = (np.frombuffer(t.data, "<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        raise ValueError(f"{t.name}: {type_name(t.ggml_type)} is not a plain float type")
    return a.reshape(t.shape())
