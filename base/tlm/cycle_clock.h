// Cycles <-> SystemC time, at the module boundary only. The time resolution is 1 fs (set
// once, before any sc_time exists, by sim/simulation.cc): a 2.6 GHz cycle is 384615 fs,
// off by 0.4 fs from the exact period (1e-6 relative), and 64-bit femtoseconds reach
// about five hours of simulated time. Statistics count integer Cycles; sc_time is used
// only to keep modules synchronised.
#pragma once

#include <systemc>

#include "base/cycles.h"

namespace pagesim {

class CycleClock {
 public:
  explicit CycleClock(double frequency_ghz)
      : m_period_fs(static_cast<sc_core::sc_time::value_type>(1e6 / frequency_ghz + 0.5)) {}

  sc_core::sc_time to_time(Cycles c) const {
    return sc_core::sc_time::from_value(c.count() * m_period_fs);
  }
  Cycles to_cycles(const sc_core::sc_time& t) const { return Cycles(t.value() / m_period_fs); }
  sc_core::sc_time::value_type period_fs() const { return m_period_fs; }

 private:
  sc_core::sc_time::value_type m_period_fs;
};

}  // namespace pagesim
