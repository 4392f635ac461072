#include "base/stats/timeseries.h"

#include <stdexcept>

namespace pagesim::stats {

void TimeSeries::sample(const Group& root, std::uint64_t accesses) {
  const std::vector<Row> rows = collect(root);
  std::vector<std::uint64_t> values;
  values.reserve(m_names.empty() ? rows.size() : m_names.size());
  const bool first = m_names.empty() && m_accesses.empty();
  std::size_t i = 0;
  for (const Row& r : rows) {
    const auto* n = std::get_if<std::uint64_t>(&r.value);
    if (n == nullptr) {
      continue;
    }
    if (first) {
      m_names.push_back(r.path);
    } else if (i >= m_names.size() || m_names[i] != r.path) {
      throw std::logic_error("time series: the statistics changed during the run at " + r.path);
    }
    values.push_back(*n);
    ++i;
  }
  m_accesses.push_back(accesses);
  m_values.push_back(std::move(values));
}

std::string TimeSeries::to_json() const {
  std::string out = "{\"interval\": " + std::to_string(m_interval) + ", \"accesses\": [";
  for (std::size_t k = 0; k < m_accesses.size(); ++k) {
    out += (k == 0 ? "" : ", ") + std::to_string(m_accesses[k]);
  }
  out += "],\n    \"deltas\": {";
  for (std::size_t i = 0; i < m_names.size(); ++i) {
    out += (i == 0 ? "\n      " : ",\n      ") + json_quote(m_names[i]) + ": [";
    for (std::size_t k = 0; k < m_accesses.size(); ++k) {
      out += (k == 0 ? "" : ", ") + std::to_string(delta(k, i));
    }
    out += "]";
  }
  return out + "\n    }\n  }";
}

std::string TimeSeries::to_csv() const {
  std::string out = "accesses";
  for (const auto& name : m_names) {
    out += "," + csv_quote(name);
  }
  out += "\n";
  for (std::size_t k = 0; k < m_accesses.size(); ++k) {
    out += std::to_string(m_accesses[k]);
    for (std::size_t i = 0; i < m_names.size(); ++i) {
      out += "," + std::to_string(delta(k, i));
    }
    out += "\n";
  }
  return out;
}

}  // namespace pagesim::stats
