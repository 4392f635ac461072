// SystemC side of memory timing: the interface through which a translator (the walker's
// shell, the machines' shell) fetches, once at elaboration, the MemoryTiming its page-table
// references go through (models/cache/cache_module.h exports it).
#pragma once

#include <systemc>

#include "models/mem/memory_timing.h"

namespace pagesim::mem {

// The timing side of page-table memory, handed to the walker at elaboration.
class TimingIf : public virtual sc_core::sc_interface {
 public:
  virtual MemoryTiming& timing() = 0;
};

}  // namespace pagesim::mem
