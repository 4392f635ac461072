// Importer of plain CSV address traces, one access per line (docs/trace-format.md, "CSV"):
//
//   address,kind[,size,cpu,asid]
//   0x7f0000001000,R
//   0x7f0000001008,W,4
//   4096,X,1,0,2
//
// - An optional header line first: the column names, a prefix of `address,kind,size,cpu,asid`
//   (any letter case). Blank lines and lines starting with '#' are ignored.
// - address: 0x-hex or decimal, 64 bits. kind: R, W or X (either case). size: bytes,
//   1 to 2^32 - 1, default 8. cpu: 0 or empty (the simulator replays one vCPU per VM; split
//   a multi-CPU trace by cpu and interleave the parts with `pagesim trace mix`). asid: the
//   address space (0x-hex or decimal); empty or absent keeps the current one.
// - The address space starts as 0, the simulator's initial one. A row whose asid differs
//   from the current address space is preceded by a `!cr3 <asid>` event.
// - Fields may have blanks around them; an empty size or cpu field takes the default.
// Errors name the file and line: "t.csv:3: bad address '0x12g' (expected 0x-hex or decimal)".
// Files compressed with xz or gzip are read through DecompressedInput.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "traces/line_reader.h"
#include "traces/trace_reader.h"

namespace pagesim::traces {

// The CSV columns in order; a header names a prefix of them.
inline constexpr std::string_view kCsvColumns[] = {"address", "kind", "size", "cpu", "asid"};

class CsvTraceReader final : public TraceReader {
 public:
  explicit CsvTraceReader(InputFile input);

  std::size_t read(std::span<Record> out) override;
  std::string describe() const override;

 private:
  // Parses one line into up to two records (a `!cr3` and the access); returns how many.
  std::size_t parse_line(std::string_view line, Record* out);
  bool is_header(std::string_view line) const;

  LineReader m_lines;
  std::uint64_t m_asid = 0;     // the current address space
  bool m_seen_content = false;  // a header is only allowed before the first row
  Record m_pending{};           // the access after a !cr3 that did not fit
  bool m_has_pending = false;
};

}  // namespace pagesim::traces
