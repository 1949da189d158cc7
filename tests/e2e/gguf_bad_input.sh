#!/usr/bin/env bash
# End-to-end: corrupted GGUF files (tests/e2e/gguf_corrupt.py: bad magic and version, counts and
# lengths past the file or over the caps, unknown value and tensor types, zero, overflowing and too
# many dimensions, misaligned, overlapping and out-of-file tensor data, truncation, duplicate and
# unknown names, missing keys, wrong shapes). `mla eval` on each must exit with status 1 and print
# exactly one line on stderr, "mla: error: ..." containing the expected text. Under ASan/UBSan a
# report would add lines and fail the case.
# Environment: MLA_BIN (the mla binary), MLA_SOURCE_DIR (source tree), MLA_WORK (scratch dir).
set -u
: "${MLA_BIN:?MLA_BIN must point at the mla binary}"
MLA_SOURCE_DIR=${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MLA_WORK=${MLA_WORK:-${TMPDIR:-/tmp}/mla-e2e}
PYTHON=${PYTHON:-/usr/bin/python3}
W="$MLA_WORK/gguf_bad_input"
rm -rf "$W"
mkdir -p "$W"

if ! "$PYTHON" "$MLA_SOURCE_DIR/tools/gen_checkpoint.py" --variant v3 --dtype bf16 --out "$W/base" > "$W/gen.log" 2>&1 ||
   ! "$MLA_BIN" convert --model "$W/base" --out "$W/base.gguf" 2>> "$W/gen.log" ||
   ! "$MLA_BIN" eval --model "$W/base.gguf" --tokens 1,2 --logits-out "$W/base.f32" 2>> "$W/gen.log" ||
   ! "$PYTHON" "$MLA_SOURCE_DIR/tests/e2e/gguf_corrupt.py" "$W/base.gguf" "$W/corpus" 2>> "$W/gen.log"; then
  echo "setting up the base GGUF failed:" >&2
  cat "$W/gen.log" >&2
  exit 1
fi

pass=0
failed=()
while IFS=$'\t' read -r name expect; do
  rc=0
  "$MLA_BIN" eval --model "$W/corpus/$name.gguf" --tokens 1,2 --logits-out "$W/$name.f32" > /dev/null 2> "$W/$name.err" || rc=$?
  lines=$(wc -l < "$W/$name.err")
  err=$(head -n 1 "$W/$name.err")
  if [ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] && [[ "$err" == "mla: error: "* ]] && [[ "$err" == *"$expect"* ]]; then
    pass=$((pass + 1))
    printf 'PASS %-28s %s\n' "$name" "$err"
  else
    failed+=("$name")
    printf 'FAIL %-28s exit %s, %s stderr lines, expected "%s":\n' "$name" "$rc" "$lines" "$expect"
    head -n 5 "$W/$name.err" | sed 's/^/    /'
  fi
done < "$W/corpus/cases.tsv"

echo "gguf_bad_input: $pass passed, ${#failed[@]} failed${failed[*]:+: ${failed[*]}}"
[ "${#failed[@]}" -eq 0 ]
