// The readable summary `pagesim replay` prints: counts from the statistics rows.
#pragma once

#include <string>
#include <vector>

#include "sim/stats/stats.h"

namespace pagesim::cli {

std::string format_summary(const std::vector<stats::Row>& rows, const std::string& trace_name,
                           const std::string& mode, double wall_seconds);

}  // namespace pagesim::cli
