// The timing side of a page-table reference: how many cycles reading (or, for an A/D
// update, writing) the line at an HPA costs. The cache model implements it (and the walkers
// call it directly: models/cache/reference_timing.h), FixedLatency below where there is
// none. Contents come separately, straight from PhysicalMemory (the DMI side).
#pragma once

#include "base/address.h"
#include "base/cycles.h"

namespace pagesim::mem {

class MemoryTiming {
 public:
  virtual ~MemoryTiming() = default;
  virtual Cycles access(Hpa hpa, bool write) = 0;
};

// Every access costs the same: the DRAM path with no caches (cache.enabled = false).
class FixedLatency final : public MemoryTiming {
 public:
  explicit FixedLatency(Cycles latency) : m_latency(latency) {}
  Cycles access(Hpa, bool) override { return m_latency; }

 private:
  Cycles m_latency;
};

}  // namespace pagesim::mem
