#!/usr/bin/python3
"""Writes a corpus of corrupted GGUF files for tests/e2e/gguf_bad_input.sh.

  gguf_corrupt.py BASE.gguf OUT_DIR

BASE is a valid file (`mla convert` of a tiny deepseek2 checkpoint). Each case patches the bytes of
one field found by parsing BASE (lying counts and lengths, types, dimensions, offsets, truncation, K-quant / i-quant tensors of the wrong size).
Writes OUT_DIR/<case>.gguf and OUT_DIR/cases.tsv: "<case>\\t<text the one-line error must contain>".
Standard library only.
"""
import os
import struct
import sys

SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def parse(b):
    """Offsets of every field: {'kv': [...], 'tensors': [...], 'data': start}."""
    pos = 24
    n_tensors, n_kv = struct.unpack_from("<QQ", b, 8)

    def string(p):
        n = struct.unpack_from("<Q", b, p)[0]
        return b[p + 8:p + 8 + n].decode(), p + 8 + n

    def value(p, t):
        if t in SCALAR:
            return p + SCALAR[t]
        if t == 8:
            return string(p)[1]
        et, n = struct.unpack_from("<IQ", b, p)
        p += 12
        for _ in range(n):
            p = value(p, et)
        return p

    kvs = []
    for _ in range(n_kv):
        key, p = string(pos)
        t = struct.unpack_from("<I", b, p)[0]
        kvs.append({"key": key, "at": pos, "type_at": p, "value_at": p + 4, "type": t})
        pos = value(p + 4, t)
    tensors = []
    for _ in range(n_tensors):
        name, p = string(pos)
        nd = struct.unpack_from("<I", b, p)[0]
        dims = list(struct.unpack_from(f"<{nd}Q", b, p + 4))
        tp = p + 4 + 8 * nd
        ttype, off = struct.unpack_from("<IQ", b, tp)
        tensors.append({"name": name, "at": pos, "ndims_at": p, "dims_at": p + 4, "dims": dims,
                        "type_at": tp, "type": ttype, "offset_at": tp + 4, "offset": off})
        pos = tp + 12
    return {"kv": kvs, "tensors": tensors, "end_of_infos": pos}


def data_start(info, t):
    """File offset of tensor t's data: the infos' end padded to the alignment (32: no
    general.alignment key in these files), plus t's offset."""
    return (info["end_of_infos"] + 31) // 32 * 32 + t["offset"]


def main():
    base_path, out = sys.argv[1], sys.argv[2]
    base = open(base_path, "rb").read()
    info = parse(base)
    kv = {k["key"]: k for k in info["kv"]}
    tensors = {t["name"]: t for t in info["tensors"]}
    os.makedirs(out, exist_ok=True)
    cases = []

    def case(name, expect, data):
        open(os.path.join(out, name + ".gguf"), "wb").write(data)
        cases.append((name, expect))

    def patch(at, fmt, *vals):
        b = bytearray(base)
        struct.pack_into(fmt, b, at, *vals)
        return bytes(b)

    first_key = info["kv"][0]
    tokens = kv["tokenizer.ggml.tokens"]
    norm0 = tensors["blk.0.attn_norm.weight"]
    norm1 = tensors["blk.1.attn_norm.weight"]
    embd = tensors["token_embd.weight"]
    last = max(info["tensors"], key=lambda t: t["offset"])
    bool_key = next(k for k in info["kv"] if k["type"] == 7)

    case("bad_magic", "bad magic", b"GGUX" + base[4:])
    case("version_1", "GGUF version 1 is not supported", patch(4, "<I", 1))
    case("version_4", "GGUF version 4 is not supported", patch(4, "<I", 4))
    case("tensor_count_huge", "tensor count 1099511627776 exceeds the limit", patch(8, "<Q", 1 << 40))
    case("tensor_count_past_file", "cannot fit in the", patch(8, "<Q", 1000000))
    case("kv_count_past_file", "cannot fit in the", patch(16, "<Q", 1000000))
    case("key_length_huge", "metadata key length 4611686018427387904 exceeds the limit", patch(first_key["at"], "<Q", 1 << 62))
    case("key_length_past_file", "remain in the file", patch(first_key["at"], "<Q", len(base) - 30))
    case("value_type_unknown", "not a GGUF value type", patch(first_key["type_at"], "<I", 13))
    case("bool_not_0_or_1", "is neither 0 nor 1", patch(bool_key["value_at"], "<B", 2))
    case("array_count_huge", "array count 1099511627776 exceeds the limit", patch(tokens["value_at"] + 4, "<Q", 1 << 40))
    case("array_count_past_file", "needs at least", patch(tokens["value_at"] + 4, "<Q", 1 << 21))
    case("string_in_array_past_file", "remain in the file", patch(tokens["value_at"] + 12, "<Q", len(base)))
    case("truncated_in_metadata", "remain in the file", base[:tokens["value_at"] + 5000])
    case("truncated_in_tensor_infos", "remain in the file", base[:norm1["dims_at"] + 3])
    case("truncated_data", "runs past the end of the file", base[:len(base) - 64])
    case("tensor_offset_past_end", "runs past the end of the file", patch(last["offset_at"], "<Q", 1 << 40))
    case("tensor_offset_wraps", "runs past the end of the file", patch(last["offset_at"], "<Q", (1 << 64) - 32))
    case("tensor_offset_misaligned", "is not a multiple of the alignment", patch(norm0["offset_at"], "<Q", norm0["offset"] + 2))
    case("tensors_overlap", "overlaps tensor", patch(norm1["offset_at"], "<Q", norm0["offset"]))
    case("tensor_type_q8_1", "tensor type Q8_1 is not supported", patch(norm0["type_at"], "<I", 9))
    case("tensor_type_unknown", "unknown tensor type id 200", patch(norm0["type_at"], "<I", 200))
    case("dimension_zero", "dimension 0 is zero", patch(norm0["dims_at"], "<Q", 0))
    case("dimensions_overflow", "overflow a 64-bit element count", patch(embd["dims_at"], "<QQ", 1 << 33, 1 << 33))
    case("dims_count_5", "5 dimensions (GGUF allows 1 to 4)", patch(norm0["ndims_at"], "<I", 5))
    case("dims_count_0", "0 dimensions (GGUF allows 1 to 4)", patch(norm0["ndims_at"], "<I", 0))
    case("quant_rows_not_blocks", "are not whole blocks of 32", patch(norm0["type_at"], "<I", 8) if norm0["dims"][0] % 32 else
         patch(norm0["dims_at"], "<Q", norm0["dims"][0] - 1)[:norm0["type_at"]] + struct.pack("<I", 8) + base[norm0["type_at"] + 4:])
    # K-quant / i-quant tensors (blocks of 256 values; ggml ids Q4_K 12, Q6_K 14, IQ4_XS 23, Q4_1 3): a
    # tensor retyped so that its rows are not whole blocks, its data runs into the next tensor or past
    # the file's end (a truncated file), or its offset is misaligned.
    def retyped(t, ggml_type, ne0, offset=None):
        b = bytearray(base)
        struct.pack_into("<Q", b, t["dims_at"], ne0)
        for d in range(1, len(t["dims"])):
            struct.pack_into("<Q", b, t["dims_at"] + 8 * d, 1)
        struct.pack_into("<IQ", b, t["type_at"], ggml_type, t["offset"] if offset is None else offset)
        return bytes(b)
    assert embd["dims"][0] % 256, "the base model's rows must not be whole K-quant blocks"
    case("kquant_rows_not_blocks", "are not whole blocks of 256", patch(embd["type_at"], "<I", 12))
    case("iquant_rows_not_blocks", "are not whole blocks of 256", patch(embd["type_at"], "<I", 23))
    case("legacy_rows_not_blocks", "are not whole blocks of 32", retyped(norm0, 3, 33 * 32 - 1))
    case("kquant_data_overlaps", "overlaps tensor", retyped(norm0, 12, 256 * 64))
    case("kquant_data_truncated", "runs past the end of the file",
         retyped(last, 14, 256 * ((len(base) - data_start(info, last)) // 210 + 1)))
    case("iquant_offset_misaligned", "is not a multiple of the alignment", retyped(norm0, 23, 256, norm0["offset"] + 2))
    b = bytearray(base)
    b[norm1["at"] + 8:norm1["at"] + 8 + len(norm0["name"])] = norm0["name"].encode()
    case("tensor_name_twice", "tensor name appears twice", bytes(b))
    b = bytearray(base)
    name = norm0["name"].replace("attn_norm", "attn_nxrm").encode()
    b[norm0["at"] + 8:norm0["at"] + 8 + len(name)] = name
    case("tensor_unknown_name", "blk.0.attn_nxrm.weight is not one the engine knows", bytes(b))
    b = bytearray(base)
    arch = kv["general.architecture"]
    b[arch["value_at"] + 8:arch["value_at"] + 17] = b"deepseek9"
    case("architecture_unknown", "unsupported GGUF architecture 'deepseek9'", bytes(b))
    b = bytearray(base)
    k = kv["deepseek2.attention.kv_lora_rank"]
    b[k["at"] + 8:k["at"] + 8 + len(k["key"])] = k["key"].replace("rank", "rang").encode()
    case("key_missing", "missing metadata key 'deepseek2.attention.kv_lora_rank'", bytes(b))
    case("key_wrong_type", "key 'deepseek2.attention.kv_lora_rank' is a f32, expected an integer", patch(k["type_at"], "<I", 6))
    case("shape_mismatch", "has shape [", patch(norm0["dims_at"], "<Q", norm0["dims"][0] // 2))
    case("empty_file", "bad magic", b"")

    with open(os.path.join(out, "cases.tsv"), "w", encoding="utf-8") as f:
        for name, expect in cases:
            f.write(f"{name}\t{expect}\n")


if __name__ == "__main__":
    main()
