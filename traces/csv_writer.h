// Writing traces as CSV (docs/trace-format.md, "CSV"): a header line, then one row per access,
//
//   address,kind,size,cpu,asid
//   0x7f0000001000,R,8,0,1
//
// with the address space of each row in the asid column (0 until the trace's first `!cr3`).
// CSV holds accesses and address-space switches only: a `!cr3` becomes the asid of the rows
// after it; any other event, or a `!cr3` that does not change the address space (nothing
// in CSV could say it), is an error naming the record, so a conversion to CSV is lossless
// or does not happen. CsvTraceReader reads the file back to the same records.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "traces/file_io.h"
#include "traces/trace_writer.h"

namespace pagesim::traces {

class CsvTraceWriter final : public TraceWriter {
 public:
  explicit CsvTraceWriter(const std::string& path);

  void write(std::span<const Record> records) override;
  // "# " lines before the header (CsvTraceReader skips them).
  void add_comment(std::string_view comment) override;
  void finish() override;

 private:
  void flush();
  void write_header();

  OutputFile m_output;
  std::unique_ptr<char[]> m_buffer;
  std::size_t m_used = 0;
  std::uint64_t m_records = 0;
  std::uint64_t m_asid = 0;
  bool m_header_written = false;
  bool m_finished = false;
};

}  // namespace pagesim::traces
