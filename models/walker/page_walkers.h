// The page walkers of an out-of-order core, and what it hides of a walk (issue 22).
//
// A processor has a few page walkers that work at once (Skylake two, Golden Cove four:
// docs/presets.md), and an out-of-order core keeps issuing younger memory accesses while
// one of them waits for its walk, up to what its load buffer holds. Their walks start on
// the free walkers and overlap the first one; retirement stalls on the oldest. A trace
// carries no data dependences, so the rule below holds for accesses that do not depend on
// one another; for a dependent chain (pointer chasing) keep the window at 0.
//
// The rule ("walk cluster"). A walk that starts when no cluster is open opens one: it
// starts at the core's time `now` and is charged whole. A later walk for access j within
// `window` accesses of the cluster's first walk (access a, started at time t0) was issued
// at t0 + (j - a) x issue cycles (one access per core.cycles_per_access), or when the first
// walker of `walkers` became free if all were busy then; it ends `latency` later, and only
// the part of it past `now` (the core's time, which has already gone past the first walk) is
// charged. A walk outside the window, or started no earlier than `now`, opens a new
// cluster. A fault or a serialising event (CR3 write, INVLPG, VM switch) closes the
// cluster: exceptions and serialising instructions wait for everything older.
//
// With `window` 0 every walk is charged whole: the core waits for each walk, as the
// model did before (the default).
#pragma once

#include <array>
#include <cstdint>

#include "base/cycles.h"

namespace pagesim::walker {

class PageWalkers {
 public:
  static constexpr unsigned kMaxWalkers = 16;

  // `walkers` 1 to kMaxWalkers; `window` in accesses (0: no overlap); `issue` the cycles
  // between two accesses' issue.
  PageWalkers(unsigned walkers, std::uint64_t window, Cycles issue);

  // The cycles a walk of `latency` for access number `access` adds to the core's time,
  // `now` being that time before it (so `latency` when nothing overlaps it).
  Cycles charge(std::uint64_t access, std::uint64_t now, Cycles latency);
  // A fault, a serialising instruction or a switch of context: no walk overlaps it.
  void serialise() { m_open = false; }

  bool overlapping() const { return m_window != 0; }

 private:
  unsigned m_walkers;
  std::uint64_t m_window;
  std::uint64_t m_issue;
  bool m_open = false;
  std::uint64_t m_first_access = 0;                       // the cluster's first walk: its access
  std::uint64_t m_first_start = 0;                        // ... and the time it started
  std::array<std::uint64_t, kMaxWalkers> m_busy_until{};  // each walker's end, in the cluster
};

}  // namespace pagesim::walker
