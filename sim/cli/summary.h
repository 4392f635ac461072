// The readable summary `pagesim replay` prints: counts from the statistics rows.
#pragma once

#include <string>
#include <vector>

#include "base/stats/stats.h"

namespace pagesim::cli {

// Host figures are printed but are not statistics: they differ from run to run.
struct HostFigures {
  double wall_seconds = 0;
  std::uint64_t peak_rss_bytes = 0;
  // Accesses replayed (warm-up included); 0: the statistics' count.
  std::uint64_t replayed_accesses = 0;
};

// A count rounded to an integer with thousands separators: 1234567 -> "1,234,567".
std::string grouped(double v);

std::string format_summary(const std::vector<stats::Row>& rows, const std::string& trace_name,
                           const std::string& mode, const HostFigures& host);

}  // namespace pagesim::cli
