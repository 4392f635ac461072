#include "models/walker/walker_params.h"

#include <string>

namespace pagesim::walker {

void PscParams::describe(config::Schema& s) {
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
    std::uint32_t sets = entries / ways;
    if ((sets & (sets - 1)) != 0) {
      return std::to_string(sets) + " sets is not a power of two";
    }
    return std::nullopt;
  });
}

void PwcParams::describe(config::Schema& s) {
  s.field("enabled", enabled, "paging-structure caches on (false: every walk starts at the root)");
  s.group("pml5", pml5);
  s.group("pml4", pml4);
  s.group("pdpt", pdpt);
  s.group("pd", pd);
}

}  // namespace pagesim::walker
