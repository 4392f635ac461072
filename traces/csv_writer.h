// Writing traces as CSV (docs/trace-format.md, "CSV"): a header line, then one row per access,
//
//   address,kind,size,cpu,asid
//   0x7f0000001000,R,8,0,1
//
// with the CPU of each row in the cpu column (0 until the trace's first `!cpu`) and its
// address space in the asid column (each CPU's is 0 until a `!cr3` on it: CR3 is per CPU,
// record.h). CSV holds accesses and CPU and address-space switches only: a `!cpu` becomes
// the cpu of the rows after it, a `!cr3` the asid of the current CPU's rows after it; any
// other event, or a `!cpu` or `!cr3` that changes nothing (nothing in CSV could say it), is
// an error naming the record. CsvTraceReader reads the file back to the same records.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "traces/file_io.h"
#include "traces/record.h"
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
  std::uint64_t m_cpu = 0;  // the current CPU
  std::vector<std::uint64_t> m_asid_of_cpu = std::vector<std::uint64_t>(kMaxCpus, 0);
  bool m_header_written = false;
  bool m_finished = false;
};

}  // namespace pagesim::traces
