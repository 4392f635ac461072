#include "models/walker/nested_walker_params.h"

#include <optional>
#include <string>

#include "base/config/geometry.h"

namespace pagesim::walker {

void WalkCacheParams::describe(config::Schema& s) {
  s.field("enabled", enabled, "this cache on");
  s.field("entries", entries, "entries (0: this cache is off)").limit(config::kEntriesLimits);
  s.field("ways", ways, "associativity").positive();
  s.rule("entries", [this]() -> std::optional<std::string> {
    return config::set_associative_error(entries, ways);
  });
}

void NestedWalkerParams::describe(config::Schema& s) {
  s.group("ept_pwc", ept_pwc);
  s.group("ntlb", ntlb);
  s.group("pte_cache", pte_cache);
}

}  // namespace pagesim::walker
