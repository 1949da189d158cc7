// Large buffers (weights generated in memory, KV caches, bandwidth probes) allocated 2 MiB-aligned and
// advised as transparent huge pages: streaming gigabytes through 4 KiB pages spends a large share of
// the memory bandwidth on TLB misses (measured here: ~12-17 GB/s instead of ~38 GB/s).
#pragma once
#include <cstddef>
#include <cstdlib>
#include <memory>

namespace mla {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

template <class T>
using HugeBuffer = std::unique_ptr<T[], FreeDeleter>;

// The transparent huge page size (x86-64): buffers and mappings of at least this many bytes are placed
// on its boundaries (here and in core/mapped_file.cpp).
inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Uninitialised storage for `bytes` bytes; throws mla::Error when the allocation fails.
void* huge_alloc(size_t bytes);

template <class T>
HugeBuffer<T> make_huge_buffer(size_t count) {
  return HugeBuffer<T>(static_cast<T*>(huge_alloc(count * sizeof(T))));
}

}  // namespace mla
