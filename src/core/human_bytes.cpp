#include "core/human_bytes.h"

#include <cmath>
#include <cstdio>

namespace mla {

std::string human_bytes(double b) {
  if (!std::isfinite(b)) return "-";
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (std::fabs(b) >= 1024 && u < 5) {
    b /= 1024;
    ++u;
  }
  const char* fmt = u == 0 || std::fabs(b) >= 100 ? "%.0f %s" : std::fabs(b) >= 10 ? "%.1f %s" : "%.2f %s";
  char buf[48];
  std::snprintf(buf, sizeof buf, fmt, b, units[u]);
  return buf;
}

}  // namespace mla
