#include "traces/lackey_reader.h"

#include <limits>
#include <optional>

#include "traces/error_quote.h"

namespace pagesim::traces {

namespace {

// Lackey's lines are short ("I  0000000004010a30,15" is 22 bytes); a longer one is damage or
// not a lackey trace.
constexpr std::size_t kMaxLineBytes = 4096;

inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

LackeyTraceReader::LackeyTraceReader(InputFile input, LackeyOptions options)
    : m_lines(std::move(input)), m_options(options) {}

std::string LackeyTraceReader::describe() const {
  return m_lines.path() + " (valgrind lackey trace)";
}

std::size_t LackeyTraceReader::read(std::span<Record> out) {
  std::size_t n = 0;
  if (m_has_pending && n < out.size()) {
    out[n++] = m_pending;
    m_has_pending = false;
  }
  while (n < out.size()) {
    const std::optional<std::string_view> line = m_lines.next();
    if (!line) {
      break;
    }
    if (line->size() >= kMaxLineBytes) {
      m_lines.fail("line longer than " + std::to_string(kMaxLineBytes) +
                   " bytes (is this valgrind lackey output?)");
    }
    Record records[2];
    const unsigned got = parse_line(*line, records);
    for (unsigned i = 0; i < got; ++i) {
      if (n < out.size()) {
        out[n++] = records[i];
      } else {
        m_pending = records[i];
        m_has_pending = true;
      }
    }
  }
  return n;
}

unsigned LackeyTraceReader::parse_line(std::string_view text, Record* records) const {
  const char* p = text.data();
  const char* const begin = p;
  const char* const end = p + text.size();
  while (p != end && is_blank(*p)) {
    ++p;
  }
  if (p == end) {
    return 0;
  }
  // Valgrind's own messages: "==<pid>== ...".
  if (end - p >= 2 && p[0] == '=' && p[1] == '=') {
    return 0;
  }
  const char letter = *p;
  if (letter != 'I' && letter != 'L' && letter != 'S' && letter != 'M') {
    m_lines.fail("expected I, L, S or M (or a ==pid== message), found " +
                 error_quote(std::string_view(begin, static_cast<std::size_t>(end - begin))));
  }
  ++p;
  if (p == end || !is_blank(*p)) {
    m_lines.fail("expected blanks after '" + std::string(1, letter) + "' in " +
                 error_quote(std::string_view(begin, static_cast<std::size_t>(end - begin))));
  }
  while (p != end && is_blank(*p)) {
    ++p;
  }
  // Address: hex digits, no prefix, at most 16.
  std::uint64_t address = 0;
  const char* digits = p;
  for (; p != end && *p != ','; ++p) {
    const char c = *p;
    unsigned d;
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<unsigned>(c - 'A' + 10);
    } else {
      m_lines.fail("bad address in " +
                   error_quote(std::string_view(begin, static_cast<std::size_t>(end - begin))) +
                   " (expected hex digits, then ',size')");
    }
    if (address >> 60 != 0) {
      m_lines.fail("address in " +
                   error_quote(std::string_view(begin, static_cast<std::size_t>(end - begin))) +
                   " does not fit in 64 bits");
    }
    address = (address << 4) | d;
  }
  if (p == digits) {
    m_lines.fail("missing address in " +
                 error_quote(std::string_view(begin, static_cast<std::size_t>(end - begin))));
  }
  if (p == end) {
    m_lines.fail("missing ',size' in " +
                 error_quote(std::string_view(begin, static_cast<std::size_t>(end - begin))));
  }
  ++p;  // ','
  std::uint64_t size = 0;
  const char* size_digits = p;
  for (; p != end && !is_blank(*p); ++p) {
    const auto d = static_cast<unsigned>(static_cast<unsigned char>(*p) - '0');
    if (d > 9) {
      m_lines.fail("bad size in " +
                   error_quote(std::string_view(begin, static_cast<std::size_t>(end - begin))) +
                   " (expected decimal bytes)");
    }
    size = size * 10 + d;
    if (size > std::numeric_limits<std::uint32_t>::max()) {
      m_lines.fail("size in " +
                   error_quote(std::string_view(begin, static_cast<std::size_t>(end - begin))) +
                   " is larger than 4294967295 bytes");
    }
  }
  if (p == size_digits) {
    m_lines.fail("missing size after ',' in " +
                 error_quote(std::string_view(begin, static_cast<std::size_t>(end - begin))));
  }
  if (size == 0) {
    m_lines.fail("size 0 in " +
                 error_quote(std::string_view(begin, static_cast<std::size_t>(end - begin))) +
                 ": an access has at least 1 byte");
  }
  while (p != end && is_blank(*p)) {
    ++p;
  }
  if (p != end) {
    m_lines.fail("unexpected text after the size in " +
                 error_quote(std::string_view(begin, static_cast<std::size_t>(end - begin))));
  }
  const auto bytes = static_cast<std::uint32_t>(size);
  switch (letter) {
    case 'I':
      if (!m_options.fetches) {
        return 0;
      }
      records[0] = Record{address, bytes, AccessKind::kFetch};
      return 1;
    case 'L':
      records[0] = Record{address, bytes, AccessKind::kRead};
      return 1;
    case 'S':
      records[0] = Record{address, bytes, AccessKind::kWrite};
      return 1;
    default:  // 'M': the load, then the store, as qemu reports it
      records[0] = Record{address, bytes, AccessKind::kRead};
      records[1] = Record{address, bytes, AccessKind::kWrite};
      return 2;
  }
}

}  // namespace pagesim::traces
