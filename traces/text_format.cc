#include "traces/text_format.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace pagesim::traces {

namespace {

constexpr std::size_t kWriteBufferBytes = std::size_t{1} << 20;
// The longest record line the writer formats: "W 0x" + 16 digits + " " + 10 digits + "\n".
constexpr std::size_t kMaxRecordLineBytes = 40;

constexpr std::uint8_t kNotHex = 0xff;

constexpr std::array<std::uint8_t, 256> make_hex_table() {
  std::array<std::uint8_t, 256> table{};
  for (auto& v : table) {
    v = kNotHex;
  }
  for (int c = '0'; c <= '9'; ++c) {
    table[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c - '0');
  }
  for (int c = 'a'; c <= 'f'; ++c) {
    table[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c - 'a' + 10);
    table[static_cast<std::size_t>(c - 'a' + 'A')] = static_cast<std::uint8_t>(c - 'a' + 10);
  }
  return table;
}

constexpr std::array<std::uint8_t, 256> kHexDigit = make_hex_table();

inline bool is_blank(char c) { return c == ' ' || c == '\t'; }
// Where a token ends: a blank, a comment, or the end of the line.
inline bool ends_token(const char* p, const char* end) {
  return p == end || is_blank(*p) || *p == '#';
}

const char* skip_blanks(const char* p, const char* end) {
  while (p != end && is_blank(*p)) {
    ++p;
  }
  return p;
}

// The token at p, quoted for an error message: printable ASCII as is, anything else as \xNN,
// cut at 40 characters.
std::string quote_token(const char* p, const char* end) {
  std::string out = "'";
  std::size_t shown = 0;
  for (; p != end && !is_blank(*p); ++p, ++shown) {
    if (shown == 40) {
      out += "...";
      break;
    }
    auto c = static_cast<unsigned char>(*p);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      constexpr char kDigits[] = "0123456789abcdef";
      out += "\\x";
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  out += "'";
  return out;
}

enum class NumberStatus { kOk, kMalformed, kOverflow };

// Parses "0x<hex>" or "<decimal>" at p into value; on success p points past the number,
// which must end the token.
NumberStatus parse_number(const char*& p, const char* end, std::uint64_t& value) {
  const char* q = p;
  std::uint64_t v = 0;
  if (end - q >= 2 && q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
    q += 2;
    const char* digits = q;
    while (q != end && *q == '0') {
      ++q;  // leading zeros
    }
    const char* significant = q;
    for (; q != end; ++q) {
      const std::uint8_t d = kHexDigit[static_cast<unsigned char>(*q)];
      if (d == kNotHex) {
        break;
      }
      v = (v << 4) | d;  // the bits shifted out past 16 digits are caught below
    }
    if (q == digits) {
      return NumberStatus::kMalformed;
    }
    if (q - significant > 16) {
      return NumberStatus::kOverflow;
    }
  } else {
    const char* digits = q;
    for (; q != end; ++q) {
      auto d = static_cast<unsigned>(static_cast<unsigned char>(*q) - '0');
      if (d > 9) {
        break;
      }
      constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
      if (v > (kMax - d) / 10) {
        return NumberStatus::kOverflow;
      }
      v = v * 10 + d;
    }
    if (q == digits) {
      return NumberStatus::kMalformed;
    }
  }
  if (!ends_token(q, end)) {
    return NumberStatus::kMalformed;
  }
  p = q;
  value = v;
  return NumberStatus::kOk;
}

char* format_hex(char* out, std::uint64_t v) {
  constexpr char kDigits[] = "0123456789abcdef";
  int nibbles = std::max(1, (static_cast<int>(std::bit_width(v)) + 3) / 4);
  for (int i = nibbles - 1; i >= 0; --i) {
    *out++ = kDigits[(v >> (4 * i)) & 15];
  }
  return out;
}

char* format_decimal(char* out, std::uint32_t v) {
  char digits[10];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) {
    *out++ = digits[--n];
  }
  return out;
}

}  // namespace

TextTraceReader::TextTraceReader(InputFile input)
    : m_input(std::move(input)), m_buffer(new char[kMaxTextLineBytes]) {}

std::string TextTraceReader::describe() const { return m_input.path() + " (text trace v1)"; }

void TextTraceReader::fail(const std::string& what) const {
  throw TraceError(m_input.path() + ":" + std::to_string(m_line) + ": " + what);
}

void TextTraceReader::refill() {
  std::size_t tail = m_end - m_begin;
  if (tail == kMaxTextLineBytes) {
    ++m_line;
    fail("line longer than " + std::to_string(kMaxTextLineBytes) +
         " bytes (is this a text trace?)");
  }
  std::memmove(m_buffer.get(), m_buffer.get() + m_begin, tail);
  m_begin = 0;
  m_end = tail;
  std::size_t want = kMaxTextLineBytes - tail;
  std::size_t got = m_input.read(m_buffer.get() + tail, want);
  m_end += got;
  m_input_done = got < want;
}

std::size_t TextTraceReader::read(std::span<Record> out) {
  std::size_t n = 0;
  while (n < out.size()) {
    const char* line = m_buffer.get() + m_begin;
    const char* line_end;
    const auto* newline = static_cast<const char*>(std::memchr(line, '\n', m_end - m_begin));
    if (newline != nullptr) {
      line_end = newline;
      m_begin = static_cast<std::size_t>(newline - m_buffer.get()) + 1;
    } else if (!m_input_done) {
      refill();
      continue;
    } else if (m_begin == m_end) {
      break;
    } else {
      line_end = m_buffer.get() + m_end;  // the last line, without a newline
      m_begin = m_end;
    }
    ++m_line;
    if (parse_line(line, line_end, out[n])) {
      ++n;
    }
  }
  return n;
}

bool TextTraceReader::parse_line(const char* p, const char* end, Record& record) const {
  if (p != end && end[-1] == '\r') {
    --end;  // CRLF line ends
  }
  p = skip_blanks(p, end);
  if (p == end || *p == '#') {
    return false;
  }
  AccessKind kind;
  switch (*p) {
    case 'R':
      kind = AccessKind::kRead;
      break;
    case 'W':
      kind = AccessKind::kWrite;
      break;
    case 'X':
      kind = AccessKind::kFetch;
      break;
    case '!':
      fail("events (" + quote_token(p, end) +
           ") are not supported yet: text format v1 holds accesses only");
    default:
      fail("expected an access kind R, W or X, found " + quote_token(p, end));
  }
  if (!ends_token(p + 1, end)) {
    fail("expected an access kind R, W or X, found " + quote_token(p, end));
  }
  const char kind_letter = *p;
  p = skip_blanks(p + 1, end);
  if (p == end || *p == '#') {
    fail(std::string("missing address after '") + kind_letter + "'");
  }
  std::uint64_t address = 0;
  const char* token = p;
  switch (parse_number(p, end, address)) {
    case NumberStatus::kOk:
      break;
    case NumberStatus::kMalformed:
      fail("bad address " + quote_token(token, end) + " (expected 0x-hex or decimal)");
    case NumberStatus::kOverflow:
      fail("address " + quote_token(token, end) + " does not fit in 64 bits");
  }
  std::uint64_t size = kDefaultAccessSizeBytes;
  p = skip_blanks(p, end);
  if (p != end && *p != '#') {
    token = p;
    NumberStatus status = parse_number(p, end, size);
    if (status == NumberStatus::kMalformed) {
      fail("bad size " + quote_token(token, end) + " (expected a byte count, 0x-hex or decimal)");
    }
    if (status == NumberStatus::kOverflow || size > std::numeric_limits<std::uint32_t>::max()) {
      fail("size " + quote_token(token, end) + " is larger than 4294967295 bytes");
    }
    if (size == 0) {
      fail("size 0: an access has at least 1 byte");
    }
    p = skip_blanks(p, end);
    if (p != end && *p != '#') {
      fail("unexpected " + quote_token(p, end) + " after the size (comments start with '#')");
    }
  }
  record.address = address;
  record.size = static_cast<std::uint32_t>(size);
  record.kind = kind;
  return true;
}

TextTraceWriter::TextTraceWriter(const std::string& path)
    : m_output(path), m_buffer(new char[kWriteBufferBytes]) {}

void TextTraceWriter::flush() {
  m_output.write(m_buffer.get(), m_used);
  m_used = 0;
}

void TextTraceWriter::write(std::span<const Record> records) {
  if (m_finished) {
    throw std::logic_error("TextTraceWriter::write after finish");
  }
  char* const buffer = m_buffer.get();
  for (const Record& r : records) {
    if (kWriteBufferBytes - m_used < kMaxRecordLineBytes) {
      flush();
    }
    char* out = buffer + m_used;
    *out++ = access_kind_letter(r.kind);
    *out++ = ' ';
    *out++ = '0';
    *out++ = 'x';
    out = format_hex(out, r.address);
    if (r.size != kDefaultAccessSizeBytes) {
      *out++ = ' ';
      out = format_decimal(out, r.size);
    }
    *out++ = '\n';
    m_used = static_cast<std::size_t>(out - buffer);
  }
}

void TextTraceWriter::add_comment(std::string_view comment) {
  if (m_finished) {
    throw std::logic_error("TextTraceWriter::add_comment after finish");
  }
  std::string lines;
  while (true) {
    std::size_t newline = comment.find('\n');
    lines += "# ";
    lines += comment.substr(0, newline);
    lines += '\n';
    if (newline == std::string_view::npos) {
      break;
    }
    comment.remove_prefix(newline + 1);
  }
  flush();
  m_output.write(lines.data(), lines.size());
}

void TextTraceWriter::finish() {
  if (m_finished) {
    throw std::logic_error("TextTraceWriter::finish twice");
  }
  flush();
  m_output.commit();
  m_finished = true;
}

}  // namespace pagesim::traces
