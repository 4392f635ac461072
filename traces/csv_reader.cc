#include "traces/csv_reader.h"

#include <cctype>
#include <limits>

#include "traces/byte_size.h"
#include "traces/error_quote.h"

namespace pagesim::traces {

namespace {

constexpr std::size_t kMaxColumns = std::size(kCsvColumns);

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// The fields of a line, split at commas and trimmed; count is the number of fields (one
// more than kMaxColumns means "too many").
struct Fields {
  std::string_view field[kMaxColumns + 1];
  std::size_t count = 0;
};

Fields split(std::string_view line) {
  Fields f;
  while (true) {
    const std::size_t comma = line.find(',');
    f.field[f.count++] = trim(line.substr(0, comma));
    if (comma == std::string_view::npos || f.count == kMaxColumns + 1) {
      return f;
    }
    line.remove_prefix(comma + 1);
  }
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

CsvTraceReader::CsvTraceReader(InputFile input) : m_lines(std::move(input)) {}

std::string CsvTraceReader::describe() const {
  std::string text = m_lines.path() + " (CSV trace";
  if (m_lines.compression() != Compression::kNone) {
    text += ", " + std::string(compression_name(m_lines.compression()));
  }
  return text + ")";
}

bool CsvTraceReader::is_header(std::string_view line) const {
  const std::string_view first = trim(line.substr(0, line.find(',')));
  return !first.empty() && std::isalpha(static_cast<unsigned char>(first.front())) != 0;
}

std::size_t CsvTraceReader::parse_line(std::string_view line, Record* out) {
  const std::string_view content = trim(line);
  if (content.empty() || content.front() == '#') {
    return 0;
  }
  const Fields f = split(content);
  if (f.count > kMaxColumns) {
    m_lines.fail("more than 5 fields (expected address,kind[,size,cpu,asid])");
  }
  if (!m_seen_content) {
    m_seen_content = true;
    if (is_header(content)) {
      for (std::size_t i = 0; i < f.count; ++i) {
        if (!equals_ignoring_case(f.field[i], kCsvColumns[i])) {
          m_lines.fail("header column " + std::to_string(i + 1) + " is " + error_quote(f.field[i]) +
                       ", expected '" + std::string(kCsvColumns[i]) +
                       "' (the header is address,kind[,size,cpu,asid])");
        }
      }
      return 0;
    }
  }
  if (f.count < 2) {
    m_lines.fail("expected at least address,kind, found " + error_quote(content));
  }
  const std::optional<std::uint64_t> address = parse_unsigned(f.field[0]);
  if (!address) {
    m_lines.fail("bad address " + error_quote(f.field[0]) +
                 " (expected 0x-hex or decimal, at most 64 bits)");
  }
  AccessKind kind = AccessKind::kRead;
  const std::string_view k = f.field[1];
  const char letter = k.size() == 1 ? static_cast<char>(std::toupper(k[0])) : '\0';
  if (letter == 'R') {
    kind = AccessKind::kRead;
  } else if (letter == 'W') {
    kind = AccessKind::kWrite;
  } else if (letter == 'X') {
    kind = AccessKind::kFetch;
  } else {
    m_lines.fail("bad kind " + error_quote(k) + " (expected R, W or X)");
  }
  std::uint64_t size = kDefaultAccessSizeBytes;
  if (f.count > 2 && !f.field[2].empty()) {
    const std::optional<std::uint64_t> value = parse_unsigned(f.field[2]);
    if (!value || *value == 0 || *value > std::numeric_limits<std::uint32_t>::max()) {
      m_lines.fail("bad size " + error_quote(f.field[2]) + " (expected 1 to 4294967295 bytes)");
    }
    size = *value;
  }
  std::size_t n = 0;
  if (f.count > 3 && !f.field[3].empty()) {
    const std::optional<std::uint64_t> cpu = parse_unsigned(f.field[3]);
    if (!cpu) {
      m_lines.fail("bad cpu " + error_quote(f.field[3]) + " (expected 0x-hex or decimal)");
    }
    if (*cpu >= kMaxCpus) {
      m_lines.fail("cpu " + std::to_string(*cpu) + " is not below 256");
    }
    if (*cpu != m_cpu) {
      m_cpu = *cpu;
      out[n++] = Record::event(EventOp::kCpu, m_cpu);
    }
  }
  if (f.count > 4 && !f.field[4].empty()) {
    const std::optional<std::uint64_t> asid = parse_unsigned(f.field[4]);
    if (!asid) {
      m_lines.fail("bad asid " + error_quote(f.field[4]) +
                   " (expected 0x-hex or decimal, at most 64 bits)");
    }
    if (*asid != m_asid_of_cpu[m_cpu]) {
      m_asid_of_cpu[m_cpu] = *asid;
      out[n++] = Record::event(EventOp::kCr3, *asid);
    }
  }
  out[n++] = Record{*address, static_cast<std::uint32_t>(size), kind};
  return n;
}

std::size_t CsvTraceReader::read(std::span<Record> out) {
  std::size_t n = 0;
  while (m_pending_pos < m_pending_end && n < out.size()) {
    out[n++] = m_pending[m_pending_pos++];
  }
  while (n < out.size()) {
    const std::optional<std::string_view> line = m_lines.next();
    if (!line) {
      break;
    }
    m_pending_end = parse_line(*line, m_pending);
    m_pending_pos = 0;
    while (m_pending_pos < m_pending_end && n < out.size()) {
      out[n++] = m_pending[m_pending_pos++];
    }
  }
  return n;
}

}  // namespace pagesim::traces
