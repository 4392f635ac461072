#include "models/walker/page_walkers.h"

#include <algorithm>
#include <stdexcept>

namespace pagesim::walker {

PageWalkers::PageWalkers(unsigned walkers, std::uint64_t window, Cycles issue)
    : m_walkers(walkers), m_window(window), m_issue(issue.count()) {
  if (walkers == 0 || walkers > kMaxWalkers) {
    throw std::invalid_argument("page walkers: 1 to 16");
  }
}

Cycles PageWalkers::charge(std::uint64_t access, std::uint64_t now, Cycles latency) {
  if (m_window == 0) return latency;
  const std::uint64_t length = latency.count();
  if (m_open && access >= m_first_access && access - m_first_access <= m_window) {
    // Issued while the cluster's first walk was under way; it waits for a free walker.
    std::uint64_t start = m_first_start + (access - m_first_access) * m_issue;
    auto walker = std::min_element(m_busy_until.begin(), m_busy_until.begin() + m_walkers);
    start = std::max(start, *walker);
    if (start < now) {
      const std::uint64_t end = start + length;
      *walker = end;
      return Cycles(end > now ? end - now : 0);
    }
  }
  // A new cluster: this walk starts now and the core waits for it.
  m_open = true;
  m_first_access = access;
  m_first_start = now;
  std::fill(m_busy_until.begin(), m_busy_until.end(), 0);
  m_busy_until[0] = now + length;
  return latency;
}

}  // namespace pagesim::walker
