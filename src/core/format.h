// Text of one number in a printf format ("%.2f", "%g"), for log lines and
// messages.
#pragma once

#include <cstdio>
#include <string>

namespace sisyphus {

inline std::string format_number(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

}  // namespace sisyphus
