#include "traces/csv_writer.h"

#include <charconv>
#include <cstring>
#include <stdexcept>

#include "traces/comment_lines.h"
#include "traces/trace_reader.h"

namespace pagesim::traces {

namespace {

constexpr std::size_t kBufferBytes = std::size_t{1} << 20;
// The longest row: "0x" + 16 hex digits, kind, 10-digit size, 3-digit cpu, 20-digit asid,
// commas.
constexpr std::size_t kMaxRowBytes = 64;
constexpr char kHeader[] = "address,kind,size,cpu,asid\n";

}  // namespace

CsvTraceWriter::CsvTraceWriter(const std::string& path)
    : m_output(path), m_buffer(new char[kBufferBytes]) {}

void CsvTraceWriter::flush() {
  m_output.write(m_buffer.get(), m_used);
  m_used = 0;
}

void CsvTraceWriter::write_header() {
  std::memcpy(m_buffer.get() + m_used, kHeader, sizeof kHeader - 1);
  m_used += sizeof kHeader - 1;
  m_header_written = true;
}

void CsvTraceWriter::add_comment(std::string_view comment) {
  if (m_finished || m_header_written) {
    throw std::logic_error("CsvTraceWriter::add_comment after the first record");
  }
  const std::string lines = comment_lines(comment);
  flush();
  m_output.write(lines.data(), lines.size());
}

void CsvTraceWriter::write(std::span<const Record> records) {
  if (m_finished) {
    throw std::logic_error("CsvTraceWriter::write after finish");
  }
  if (!m_header_written) {
    write_header();
  }
  char* const buffer = m_buffer.get();
  for (const Record& r : records) {
    if (r.is_event()) {
      const std::string where =
          m_output.path() + ": cannot write record " + std::to_string(m_records) + " as CSV: ";
      if (r.op == EventOp::kCpu) {
        if (r.address == m_cpu) {
          throw TraceError(where + "'!cpu " + std::to_string(r.address) +
                           "' does not change the CPU, which CSV cannot say (write text or "
                           "binary)");
        }
        if (const char* wrong = check_event(r)) {
          throw TraceError(where + "event '!cpu': " + wrong);
        }
        m_cpu = r.address;
        ++m_records;
        continue;
      }
      if (r.op != EventOp::kCr3) {
        throw TraceError(where + "event '!" + std::string(event_name(r.op)) +
                         "' (CSV holds accesses, CPU and address-space switches only; write "
                         "text or binary)");
      }
      if (r.address == m_asid_of_cpu[m_cpu]) {
        throw TraceError(where + "'!cr3 " + std::to_string(r.address) +
                         "' does not change the address space, which CSV cannot say (write "
                         "text or binary)");
      }
      m_asid_of_cpu[m_cpu] = r.address;
      ++m_records;
      continue;
    }
    if (kBufferBytes - m_used < kMaxRowBytes) {
      flush();
    }
    char* out = buffer + m_used;
    char* const end = buffer + kBufferBytes;
    *out++ = '0';
    *out++ = 'x';
    out = std::to_chars(out, end, r.address, 16).ptr;
    *out++ = ',';
    *out++ = access_kind_letter(r.kind);
    *out++ = ',';
    out = std::to_chars(out, end, r.size).ptr;
    *out++ = ',';
    out = std::to_chars(out, end, m_cpu).ptr;
    *out++ = ',';
    out = std::to_chars(out, end, m_asid_of_cpu[m_cpu]).ptr;
    *out++ = '\n';
    m_used = static_cast<std::size_t>(out - buffer);
    ++m_records;
  }
}

void CsvTraceWriter::finish() {
  if (m_finished) {
    throw std::logic_error("CsvTraceWriter::finish twice");
  }
  if (!m_header_written) {
    write_header();
  }
  flush();
  m_output.commit();
  m_finished = true;
}

}  // namespace pagesim::traces
