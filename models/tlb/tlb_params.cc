#include "models/tlb/tlb_params.h"

#include <string>

#include "base/config/geometry.h"

namespace pagesim::tlb {
namespace {

// entries divisible by ways, and the set count a power of two (set index = VPN mod sets).
void describe_array(config::Schema& s, TlbArrayParams& a, const std::string& suffix,
                    const std::string& what) {
  s.field("entries" + suffix, a.entries, what + ": entries (0: no such array)")
      .limit(config::kEntriesLimits);
  s.field("ways" + suffix, a.ways, what + ": associativity").positive();
  s.rule("entries" + suffix, [&a]() -> std::optional<std::string> {
    return config::set_associative_error(a.entries, a.ways);
  });
}

}  // namespace

void TlbParams::describe(config::Schema& s) {
  describe_array(s, small, "", "4 KiB pages");
  describe_array(s, huge_2m, "_2m", "2 MiB pages (when not shared_2m)");
  describe_array(s, huge_1g, "_1g", "1 GiB pages");
  s.field("shared_2m", shared_2m, "2 MiB pages share the 4 KiB array (as the Skylake STLB)");
  s.field("latency", latency, "cycles added by a lookup at this level")
      .note(
          "L1: 0, the lookup overlaps the VIPT L1D access; L2 (STLB) hit: 9, within the "
          "7-12 cycles that microbenchmarks report for Intel STLB hits (Intel documents none)");
  s.field("replacement", replacement,
          "replacement policy: lru, tree_plru (ways a power of two) "
          "or random (seeded by `seed`)");
  s.rule("replacement", [this]() -> std::optional<std::string> {
    if (replacement != Replacement::kTreePlru) {
      return std::nullopt;
    }
    for (const TlbArrayParams* a : {&small, &huge_2m, &huge_1g}) {
      if (a->entries != 0 && (a->ways & (a->ways - 1)) != 0) {
        return "tree_plru needs power-of-two ways, and an array here has " +
               std::to_string(a->ways);
      }
    }
    return std::nullopt;
  });
  s.rule("entries", [this]() -> std::optional<std::string> {
    if (small.entries == 0 && huge_2m.entries == 0 && huge_1g.entries == 0) {
      return "a TLB level needs at least one array";
    }
    return std::nullopt;
  });
}

void TlbHierarchyParams::describe(config::Schema& s) {
  s.group("l1d", l1d);
  s.group("l1i", l1i);
  s.group("l2", l2);
}

}  // namespace pagesim::tlb
