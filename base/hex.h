// Addresses in messages: "0x" and lowercase hex digits, the way the SDM and the kernel
// print them.
#pragma once

#include <cstdint>
#include <string>

namespace pagesim {

inline std::string hex(std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char text[2 + 16];
  int n = 0;
  do {
    text[sizeof text - 1 - n++] = kDigits[v & 0xf];
    v >>= 4;
  } while (v != 0);
  return "0x" + std::string(text + sizeof text - n, text + sizeof text);
}

}  // namespace pagesim
