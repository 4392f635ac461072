// The rule every set-associative structure's geometry obeys (TLB arrays, paging-structure
// caches, the nested TLB, the page-walk cache): entries divisible by ways, and a
// power-of-two number of sets, since the set index is a number modulo the sets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pagesim::config {

// nullopt when entries/ways make a valid geometry (entries == 0 means "absent": valid),
// else the reason, e.g. "48 entries / 4 ways = 12 sets, not a power of two".
inline std::optional<std::string> set_associative_error(std::uint32_t entries, std::uint32_t ways) {
  if (entries == 0 || ways == 0) {
    return std::nullopt;  // absent, or ways already reported by its own check
  }
  if (entries % ways != 0) {
    return std::to_string(entries) + " entries is not divisible by " + std::to_string(ways) +
           " ways";
  }
  const std::uint32_t sets = entries / ways;
  if ((sets & (sets - 1)) != 0) {
    return std::to_string(entries) + " entries / " + std::to_string(ways) +
           " ways = " + std::to_string(sets) + " sets, not a power of two";
  }
  return std::nullopt;
}

}  // namespace pagesim::config
