# Sourced by end-to-end suites: a cache of the outputs of their Python reference steps (generated
# checkpoints, numpy references, llama.cpp-quantized files), so a second build's run of the same
# suite reuses them (scripts/test.sh points both passes at one MLA_REF_CACHE directory). Without
# MLA_REF_CACHE nothing is cached. Keys name what the outputs depend on; ref_cache_key adds the
# contents of the Python scripts, so a changed script never meets an old entry.
#   key=$(ref_cache_key WORDS...)
#   ref_cache_get KEY PATH... || { make the PATHs; ref_cache_put KEY PATH...; }
# Entries are written whole, then renamed, so a concurrent or killed run never sees half of one.

ref_cache_key() {
  local src=${MLA_SOURCE_DIR:?}
  printf '%s\n' "$@" | cat - "$src"/tests/reference/*.py "$src"/tools/*.py | sha256sum | cut -c1-32
}

# Copies the entry's files (or directories) to PATH..., by their base names; fails if there is none.
ref_cache_get() {
  local key=$1 p
  shift
  [ -n "${MLA_REF_CACHE:-}" ] && [ -f "$MLA_REF_CACHE/$key/done" ] || return 1
  for p in "$@"; do
    rm -rf "$p"
    cp -r "$MLA_REF_CACHE/$key/$(basename "$p")" "$p" || return 1
  done
}

ref_cache_put() {
  local key=$1
  shift
  [ -n "${MLA_REF_CACHE:-}" ] || return 0
  local entry="$MLA_REF_CACHE/$key" tmp="$MLA_REF_CACHE/$key.tmp.$$.$RANDOM"
  mkdir -p "$tmp"
  if cp -r "$@" "$tmp/" && touch "$tmp/done"; then
    rm -rf "$entry"
    mv "$tmp" "$entry" 2>/dev/null || rm -rf "$tmp"
  else
    rm -rf "$tmp"
  fi
}
