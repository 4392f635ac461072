#include "base/stats/per_instruction.h"

#include <algorithm>
#include <string>

namespace pagesim::stats {
namespace {

const Row* find(const std::vector<Row>& rows, std::string_view path) {
  const auto it = std::lower_bound(rows.begin(), rows.end(), path,
                                   [](const Row& r, std::string_view p) { return r.path < p; });
  return it != rows.end() && it->path == path ? &*it : nullptr;
}

}  // namespace

void add_per_instruction(std::vector<Row>& rows) {
  const Row* fetches = find(rows, "sim.fetches");
  if (fetches == nullptr) {
    return;
  }
  const auto* instructions = std::get_if<std::uint64_t>(&fetches->value);
  if (instructions == nullptr || *instructions == 0) {
    return;
  }
  const std::uint64_t n = *instructions;
  std::vector<Row> added;
  added.push_back(Row{"pki.instructions",
                      "instructions: the trace's instruction fetches (one X record per "
                      "instruction executed), the divisor of every pki.* figure",
                      n});
  for (const std::string_view path : kPerInstruction) {
    const Row* row = find(rows, path);
    if (row == nullptr) {
      continue;
    }
    const auto* count = std::get_if<std::uint64_t>(&row->value);
    if (count == nullptr) {
      continue;
    }
    added.push_back(Row{"pki." + std::string(path),
                        std::string(path) + " per 1000 instructions (pki.instructions)",
                        1000.0 * double(*count) / double(n)});
  }
  rows.insert(rows.end(), added.begin(), added.end());
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.path < b.path; });
}

}  // namespace pagesim::stats
