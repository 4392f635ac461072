// Helpers shared by the shadow machine's tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <variant>

#include "base/page_size.h"
#include "base/stats/stats.h"
#include "models/machine/shadow_machine.h"

namespace pagesim::shadow::shadow_test {

// The tests' machine: a 4 GiB VM on a 16 GiB host, every walk from the root (no
// paging-structure caches) and one leaf per fault (no prefetch), so that the references and
// shadow pages the tests count follow from their accesses alone; `policy` for guest-table
// writes.
inline ShadowMachineParams small_machine(WpPolicy policy) {
  ShadowMachineParams p;
  p.vm.memory = {4 * kGiB};
  p.host.memory = {16 * kGiB};
  p.walker.pwc.enabled = false;
  p.shadow.wp_policy = policy;
  p.shadow.prefetch = false;
  return p;
}

// The statistic at `path` under the machine's root (a formula rounded down); a test failure
// when there is none.
inline std::uint64_t stat(ShadowMachine& m, const std::string& path) {
  for (const auto& row : stats::collect(m.stats_root())) {
    if (row.path == path) {
      if (const auto* v = std::get_if<std::uint64_t>(&row.value)) {
        return *v;
      }
      return static_cast<std::uint64_t>(std::get<double>(row.value));
    }
  }
  ADD_FAILURE() << "no statistic " << path;
  return 0;
}

}  // namespace pagesim::shadow::shadow_test
