#include "models/walker/walker_params.h"

#include <string>

#include "base/config/geometry.h"

namespace pagesim::walker {

void PscParams::describe(config::Schema& s) {
  s.field("entries", entries, "entries (0: this cache is off)").limit(config::kEntriesLimits);
  s.field("ways", ways, "associativity").positive();
  s.rule("entries", [this]() -> std::optional<std::string> {
    return config::set_associative_error(entries, ways);
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
