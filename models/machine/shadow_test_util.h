// Helpers shared by the shadow machine's tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <variant>

#include "base/stats/stats.h"
#include "models/machine/shadow_machine.h"

namespace pagesim::shadow::shadow_test {

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
