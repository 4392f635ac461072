#include "base/stats/window.h"

namespace pagesim::stats {

void Window::open() {
  if (m_open) {
    return;
  }
  m_used = true;
  m_open = true;
  m_start = m_root.capture();
}

void Window::close() {
  if (!m_open) {
    return;
  }
  m_open = false;
  const std::vector<std::uint64_t> now = m_root.capture();
  m_sum.resize(now.size(), 0);
  for (std::size_t i = 0; i < now.size(); ++i) {
    m_sum[i] += now[i] - m_start[i];
  }
}

void Window::settle() {
  if (!m_used) {
    return;
  }
  close();
  m_sum.resize(m_root.capture().size(), 0);
  m_root.assign(m_sum);
}

}  // namespace pagesim::stats
