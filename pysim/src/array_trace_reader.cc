#include "pysim/src/array_trace_reader.h"

#include <algorithm>
#include <stdexcept>

namespace pagesim::pysim {

ArrayTraceReader::ArrayTraceReader(std::span<const std::uint64_t> addresses,
                                   std::span<const std::uint8_t> kinds,
                                   std::span<const std::uint32_t> sizes, std::string name)
    : m_addresses(addresses), m_kinds(kinds), m_sizes(sizes), m_name(std::move(name)) {
  if (!m_kinds.empty() && m_kinds.size() != m_addresses.size()) {
    throw std::invalid_argument("kinds: " + std::to_string(m_kinds.size()) + " elements for " +
                                std::to_string(m_addresses.size()) + " addresses");
  }
  if (!m_sizes.empty() && m_sizes.size() != m_addresses.size()) {
    throw std::invalid_argument("sizes: " + std::to_string(m_sizes.size()) + " elements for " +
                                std::to_string(m_addresses.size()) + " addresses");
  }
}

std::size_t ArrayTraceReader::read(std::span<traces::Record> out) {
  const std::size_t n = std::min(out.size(), m_addresses.size() - m_next);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t at = m_next + i;
    traces::Record& r = out[i];
    r = traces::Record{};
    r.address = m_addresses[at];
    if (!m_kinds.empty()) {
      if (m_kinds[at] > static_cast<std::uint8_t>(AccessKind::kFetch)) {
        throw traces::TraceError(m_name + ": element " + std::to_string(at) + ": kind " +
                                 std::to_string(m_kinds[at]) + " is not 0 (R), 1 (W) or 2 (X)");
      }
      r.kind = static_cast<AccessKind>(m_kinds[at]);
    }
    if (!m_sizes.empty()) {
      if (m_sizes[at] == 0) {
        throw traces::TraceError(m_name + ": element " + std::to_string(at) +
                                 ": size 0 (an access is at least 1 byte)");
      }
      r.size = m_sizes[at];
    }
  }
  m_next += n;
  return n;
}

}  // namespace pagesim::pysim
