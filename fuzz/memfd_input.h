// The fuzz input as a file the readers can open (they take a path and mmap it): one memfd per process,
// rewritten for every input, opened through /proc/self/fd. Shared by the fuzz targets.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

inline std::string fuzz_input_path(const char* name, const uint8_t* data, size_t size) {
  static const int fd = [name] {
    const int f = ::memfd_create(name, MFD_CLOEXEC);
    if (f < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return f;
  }();
  if (::ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    const ssize_t w = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (w <= 0) std::abort();
    done += static_cast<size_t>(w);
  }
  return "/proc/self/fd/" + std::to_string(fd);
}
