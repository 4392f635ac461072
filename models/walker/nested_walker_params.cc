#include "models/walker/nested_walker_params.h"

#include <optional>
#include <string>

namespace pagesim::walker {

void WalkCacheParams::describe(config::Schema& s) {
  s.field("enabled", enabled, "this cache on");
  s.field("entries", entries, "entries (0: this cache is off)");
  s.field("ways", ways, "associativity").positive();
  s.rule("entries", [this]() -> std::optional<std::string> {
    if (entries == 0 || ways == 0) {
      return std::nullopt;
    }
    if (entries % ways != 0) {
      return std::to_string(entries) + " entries is not divisible by " + std::to_string(ways) +
             " ways";
    }
    const std::uint32_t sets = entries / ways;
    if ((sets & (sets - 1)) != 0) {
      return std::to_string(sets) + " sets is not a power of two";
    }
    return std::nullopt;
  });
}

void NestedWalkerParams::describe(config::Schema& s) {
  s.group("ept_pwc", ept_pwc);
  s.group("ntlb", ntlb);
  s.group("pte_cache", pte_cache);
}

}  // namespace pagesim::walker
