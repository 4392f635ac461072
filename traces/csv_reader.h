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
//   1 to 2^32 - 1, default 8. cpu: the CPU (vCPU) the access runs on, below 256; empty or
//   absent keeps the current one. asid: the address space (0x-hex or decimal); empty or
//   absent keeps the current CPU's.
// - The CPU starts as 0 and every CPU's address space as 0, as in the simulator (CR3 is per
//   CPU, record.h). A row whose cpu differs from the current CPU is preceded by a
//   `!cpu <cpu>` event; then, if its asid differs from that CPU's current address space, by
//   a `!cr3 <asid>` event.
// - Fields may have blanks around them; an empty size or cpu field takes the default.
// Errors name the file and line: "t.csv:3: bad address '0x12g' (expected 0x-hex or decimal)".
// Files compressed with xz or gzip are read through DecompressedInput.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
  // Parses one line into up to three records (a `!cpu`, a `!cr3` and the access); returns
  // how many.
  std::size_t parse_line(std::string_view line, Record* out);
  bool is_header(std::string_view line) const;

  LineReader m_lines;
  std::uint64_t m_cpu = 0;  // the current CPU
  std::vector<std::uint64_t> m_asid_of_cpu = std::vector<std::uint64_t>(kMaxCpus, 0);
  bool m_seen_content = false;  // a header is only allowed before the first row
  Record m_pending[3];          // the last line's records, [m_pending_pos, m_pending_end) unread
  std::size_t m_pending_pos = 0;
  std::size_t m_pending_end = 0;
};

}  // namespace pagesim::traces
