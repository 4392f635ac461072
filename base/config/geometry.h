// The rule every set-associative structure's geometry obeys (TLB arrays, paging-structure
// caches, the nested TLB, the page-walk cache): at most kMaxEntries entries, entries
// divisible by ways, and a power-of-two number of sets, since the set index is a number
// modulo the sets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pagesim::config {

// The most entries one such structure may have: 2^20. The models allocate every entry at
// start (a TLB entry's key and translation are ~32 bytes: 32 MiB per array at the bound,
// and a hierarchy has up to nine arrays plus the walker's caches), so a larger value would
// fail to allocate or take the machine's memory, naming no key. 2^20 is over 300 times the
// largest TLB shipped (AMD Zen 4's 3,072-entry L2 DTLB): room for "what if" studies.
inline constexpr std::uint32_t kMaxEntries = std::uint32_t{1} << 20;

// The dump's text for an entries key under set_associative_error's rule.
inline constexpr const char* kEntriesLimits =
    "at most 1048576 (2^20); divisible by the ways, a power-of-two number of sets";

// nullopt when entries/ways make a valid geometry (entries == 0 means "absent": valid),
// else the reason, e.g. "48 entries / 4 ways = 12 sets, not a power of two".
inline std::optional<std::string> set_associative_error(std::uint32_t entries, std::uint32_t ways) {
  if (entries > kMaxEntries) {
    return std::to_string(entries) + " entries is more than " + std::to_string(kMaxEntries) +
           " (2^20), the most a TLB or walker cache may have: every entry is allocated at start";
  }
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
