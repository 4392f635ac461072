#include "base/stats/cpu_totals.h"

#include <algorithm>
#include <map>
#include <regex>
#include <string>

namespace pagesim::stats {

void add_cpu_totals(std::vector<Row>& rows) {
  static const std::regex kCpuTlb(R"(^((?:vm\d+\.)?)cpu\d+\.(tlb\..+)$)");
  std::map<std::string, std::uint64_t> sums;
  std::map<std::string, std::string> descriptions;
  for (const Row& row : rows) {
    const auto* count = std::get_if<std::uint64_t>(&row.value);
    std::smatch m;
    if (count == nullptr || !std::regex_match(row.path, m, kCpuTlb)) {
      continue;
    }
    const std::string total = m[1].str() + m[2].str();
    sums[total] += *count;
    descriptions.emplace(total, row.description + " (the sum over the CPUs)");
  }
  if (sums.empty()) {
    return;
  }
  const auto has = [&rows](const std::string& path) {
    return std::any_of(rows.begin(), rows.end(), [&](const Row& r) { return r.path == path; });
  };
  std::vector<Row> added;
  for (const auto& [path, sum] : sums) {
    if (!has(path)) {
      added.push_back(Row{path, descriptions[path], sum});
    }
    // A level's hit rate, from its summed hits and misses.
    static constexpr std::string_view kHits = ".hits";
    if (path.ends_with(kHits)) {
      const std::string level = path.substr(0, path.size() - kHits.size());
      const auto misses = sums.find(level + ".misses");
      if (misses != sums.end() && !has(level + ".hit_rate")) {
        const double lookups = double(sum) + double(misses->second);
        added.push_back(Row{level + ".hit_rate", "hits / lookups (over the CPUs)",
                            ratio(double(sum), lookups)});
      }
    }
  }
  rows.insert(rows.end(), added.begin(), added.end());
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.path < b.path; });
}

}  // namespace pagesim::stats
