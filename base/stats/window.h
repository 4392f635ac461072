// The part of a run that statistics count: everything by default; with a warm-up
// (sim.warmup) or regions of interest (the trace's `!roi begin` / `!roi end`), only the
// windows opened and closed along the way. Every structure stays live outside a window
// (TLBs, caches, tables, the host); only the counting stops.
//
// The live statistics are never changed during the run (model code may read its own
// counters): open() and close() capture the state of the whole tree (Group::capture), and
// settle(), once the run is over, sets every statistic to the sum over the windows of
// (state at the close) - (state at the open). Every recorded statistic is a sum of events,
// so this is exactly what the windows alone would have counted; formulas, computed from
// counters when collected, follow.
#pragma once

#include <cstdint>
#include <vector>

#include "base/stats/stats.h"

namespace pagesim::stats {

class Window {
 public:
  explicit Window(Group& root) : m_root(root) {}

  void open();
  void close();
  bool is_open() const { return m_open; }
  // Whether a window was ever opened or one is expected (restricted()): then only windows
  // count.
  bool used() const { return m_used; }
  // From now on only windows count, even if none opens (a warm-up longer than the run).
  void restrict() { m_used = true; }
  // Forgets every window so far, the open one closed: only windows opened from now on
  // count (a trace's first region of interest).
  void discard() {
    m_open = false;
    m_used = true;
    m_start.clear();
    m_sum.clear();
  }
  // After the run: every statistic becomes the sum over the windows (the one still open
  // counted to now). Nothing changes when no window was used.
  void settle();

 private:
  Group& m_root;
  bool m_open = false;
  bool m_used = false;
  std::vector<std::uint64_t> m_start;  // state when the open window opened
  std::vector<std::uint64_t> m_sum;    // closed windows' differences
};

}  // namespace pagesim::stats
