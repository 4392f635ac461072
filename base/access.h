// What a core asks of its translation hardware: load, store or instruction fetch.
#pragma once

#include <cstdint>

namespace pagesim {

enum class AccessKind : std::uint8_t { kRead = 0, kWrite = 1, kFetch = 2 };

constexpr char access_kind_letter(AccessKind k) {
  return k == AccessKind::kRead ? 'R' : k == AccessKind::kWrite ? 'W' : 'X';
}

}  // namespace pagesim
