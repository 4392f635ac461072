// A run's counters over time (sim.interval, replay --interval): every counter's value each
// N replayed accesses, written as each interval's delta. The samples read the live
// counters, which a warm-up or regions of interest never change (stats/window.h): the
// series shows the whole run, warm-up included, and its deltas add up to the live totals.
//
//   JSON  "timeseries": {"interval": N, "accesses": [a1, a2, ...],
//                        "deltas": {"tlb.l1d.misses": [d1, d2, ...], ...}}
//   CSV   accesses,<counter>,<counter>,...   one row per interval, deltas
// a_k is the accesses replayed when sample k was taken: N, 2N, ..., and the run's total
// for the last, shorter interval.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/stats/stats.h"

namespace pagesim::stats {

class TimeSeries {
 public:
  explicit TimeSeries(std::uint64_t interval = 0) : m_interval(interval) {}

  std::uint64_t interval() const { return m_interval; }
  bool empty() const { return m_accesses.empty(); }
  // Records every counter below `root` (not formulas nor histograms) at `accesses`.
  void sample(const Group& root, std::uint64_t accesses);

  const std::vector<std::string>& names() const { return m_names; }
  const std::vector<std::uint64_t>& accesses() const { return m_accesses; }
  // Counter `i`'s delta over interval `k`.
  std::uint64_t delta(std::size_t k, std::size_t i) const {
    return m_values[k][i] - (k == 0 ? 0 : m_values[k - 1][i]);
  }

  std::string to_json() const;
  std::string to_csv() const;

 private:
  std::uint64_t m_interval;
  std::vector<std::string> m_names;
  std::vector<std::uint64_t> m_accesses;
  std::vector<std::vector<std::uint64_t>> m_values;
};

}  // namespace pagesim::stats
