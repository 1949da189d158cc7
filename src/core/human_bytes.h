// Byte counts for people: 512 B, 1.50 KiB, 68.0 MiB, 2.00 GiB (binary units, about three digits).
#pragma once
#include <string>

namespace mla {

std::string human_bytes(double bytes);

}  // namespace mla
