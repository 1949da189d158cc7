#include "core/huge_buffer.h"

#include <sys/mman.h>

#include "core/error.h"

namespace mla {

void* huge_alloc(size_t bytes) {
  constexpr size_t kHuge = kHugePageBytes;
  if (bytes < kHuge) {  // small: a huge page would only waste memory
    void* p = std::malloc(bytes ? bytes : 1);
    if (!p) fail("out of memory: cannot allocate ", bytes, " bytes");
    return p;
  }
  const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(kHuge, rounded);
  if (!p) fail("out of memory: cannot allocate ", bytes, " bytes");
  ::madvise(p, rounded, MADV_HUGEPAGE);  // advisory: without THP nothing changes
  return p;
}

}  // namespace mla
