// One access of a trace: what the core asks the translation hardware to do.
//
// The trace formats (docs/trace-format.md) and the generators produce Records; readers hand
// them to the simulator in batches (std::span<Record>), so a Record is a small plain value
// (16 bytes) with no heap state.
#pragma once

#include <cstdint>

#include "sim/access.h"

namespace pagesim::traces {

// Access size of a record written without one (text format) and of generated records.
inline constexpr std::uint32_t kDefaultAccessSizeBytes = 8;

struct Record {
  // Virtual address of the first byte accessed (a GVA under virtualization). Any 64-bit value
  // is representable; whether it is canonical is for the simulator to decide.
  std::uint64_t address = 0;
  // Bytes accessed, starting at `address`. Invariant: size >= 1 (every reader rejects 0).
  std::uint32_t size = kDefaultAccessSizeBytes;
  AccessKind kind = AccessKind::kRead;

  friend constexpr bool operator==(const Record&, const Record&) = default;
};

}  // namespace pagesim::traces
