// Importer of valgrind lackey's memory trace (`valgrind --tool=lackey --trace-mem=yes`),
// docs/trace-format.md "Importer: valgrind lackey". Lackey prints one line per guest
// instruction executed and per data access, in program order:
//
//   I  04010a30,3          instruction fetch: address (hex, no 0x), size (decimal)
//    L 1ffefffd88,8        load
//    S 1ffefffd80,8        store
//    M 0404c8a0,4          modify: a load and a store of the same bytes by one instruction
//   ==12345== ...          valgrind's own messages (banner, summary): skipped
//
// Mapping: I -> X (or nothing, without fetches), L -> R, S -> W, M -> R then W (two
// records, the same address and size): qemu's plugin reports a read-modify-write
// instruction as a load callback then a store callback, so the two tracers' recordings of
// one program count alike.
//
// Lines come from a LineReader (big chunks, .xz/.gz decoded, no allocation per line); a
// line it does not understand is a TraceError naming "<file>:<line>".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "traces/file_io.h"
#include "traces/line_reader.h"
#include "traces/trace_reader.h"

namespace pagesim::traces {

struct LackeyOptions {
  // I lines become X records; false skips them (still checking their syntax).
  bool fetches = true;
};

class LackeyTraceReader final : public TraceReader {
 public:
  explicit LackeyTraceReader(InputFile input, LackeyOptions options = {});

  std::size_t read(std::span<Record> out) override;
  std::string describe() const override;

  // Lines of the input read so far, valgrind's messages included.
  std::uint64_t lines() const { return m_lines.line_number(); }

 private:
  // Parses one line into up to two records; returns how many.
  unsigned parse_line(std::string_view line, Record* records) const;

  LineReader m_lines;
  LackeyOptions m_options;
  // The store half of an M line that did not fit in the caller's span.
  Record m_pending{};
  bool m_has_pending = false;
};

}  // namespace pagesim::traces
