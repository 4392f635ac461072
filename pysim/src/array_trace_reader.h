// A trace held in memory by Python: parallel arrays of addresses and (optionally) access
// kinds and sizes, as pysim.run(numpy_array) hands them over. The arrays are the caller's:
// the reader neither copies nor owns them (they must outlive it). Accesses only, no events.
//
//   ArrayTraceReader reader({addresses, n}, {kinds, n}, {}, "array of 1000 accesses");
//
// kinds[i] is an AccessKind value (0 = R, 1 = W, 2 = X); empty means every access is a
// load. sizes[i] is the access size in bytes, >= 1; empty means 8 bytes (the text format's
// default). A bad kind or size throws traces::TraceError naming the element's index.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "traces/trace_reader.h"

namespace pagesim::pysim {

class ArrayTraceReader final : public traces::TraceReader {
 public:
  // `kinds` and `sizes` are empty or as long as `addresses`.
  ArrayTraceReader(std::span<const std::uint64_t> addresses, std::span<const std::uint8_t> kinds,
                   std::span<const std::uint32_t> sizes, std::string name);

  std::size_t read(std::span<traces::Record> out) override;
  std::string describe() const override { return m_name; }
  std::optional<std::uint64_t> record_count() const override { return m_addresses.size(); }

 private:
  std::span<const std::uint64_t> m_addresses;
  std::span<const std::uint8_t> m_kinds;
  std::span<const std::uint32_t> m_sizes;
  std::string m_name;
  std::size_t m_next = 0;
};

}  // namespace pagesim::pysim
