#include "traces/text_format.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "traces/byte_size.h"
#include "traces/comment_lines.h"
#include "traces/error_quote.h"

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
  const char* stop = std::find_if(p, end, [](char c) { return is_blank(c); });
  return error_quote(std::string_view(p, static_cast<std::size_t>(stop - p)));
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

std::string TextTraceReader::describe() const {
  return m_input.path() + " (text trace v1.2" +
         (m_input.compression() == Compression::kNone
              ? std::string()
              : ", " + std::string(compression_name(m_input.compression())) + "-compressed") +
         ")";
}

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
      parse_event(p + 1, end, record);
      return true;
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
  record = Record{address, static_cast<std::uint32_t>(size), kind};
  return true;
}

namespace {

// The tokens of an event line: words separated by blanks, up to the end or a '#'.
class Tokens {
 public:
  Tokens(const char* p, const char* end) : m_p(p), m_end(end) {}
  // The next token, or an empty view at the end of the line (or at a comment).
  std::string_view next() {
    const char* p = skip_blanks(m_p, m_end);
    const char* q = p;
    while (!ends_token(q, m_end)) {
      ++q;
    }
    m_p = q;
    return std::string_view(p, static_cast<std::size_t>(q - p));
  }
  const char* position() const { return skip_blanks(m_p, m_end); }

 private:
  const char* m_p;
  const char* m_end;
};

struct EventForm {
  std::string_view command;  // "memslot"
  std::string_view sub;      // "add", or "" when the command has no sub-word
  EventOp op;
  const char* usage;  // the form, for error messages
};

// Every event form. A command with sub-words lists one form per sub-word; for `ptewrite` the
// sub-word comes after the address (handled in parse_event).
constexpr EventForm kEventForms[] = {
    {"memslot", "add", EventOp::kMemslotAdd, "!memslot add <id> <gpa> <size> [ro]"},
    {"memslot", "del", EventOp::kMemslotDelete, "!memslot del <id>"},
    {"memslot", "move", EventOp::kMemslotMove, "!memslot move <id> <new-gpa>"},
    {"cr3", "", EventOp::kCr3, "!cr3 <address-space id>"},
    {"invlpg", "", EventOp::kInvlpg, "!invlpg <address>"},
    {"ptewrite", "unmap", EventOp::kPteUnmap, "!ptewrite <address> unmap|remap"},
    {"ptewrite", "remap", EventOp::kPteRemap, "!ptewrite <address> unmap|remap"},
    {"exit", "", EventOp::kExit, "!exit <address-space id>"},
    {"madvise", "dontneed", EventOp::kMadviseDontneed,
     "!madvise dontneed|pageout|cold <address> <length>"},
    {"madvise", "pageout", EventOp::kMadvisePageout,
     "!madvise dontneed|pageout|cold <address> <length>"},
    {"madvise", "cold", EventOp::kMadviseCold, "!madvise dontneed|pageout|cold <address> <length>"},
    {"balloon", "inflate", EventOp::kBalloonInflate, "!balloon inflate|deflate <pages>"},
    {"balloon", "deflate", EventOp::kBalloonDeflate, "!balloon inflate|deflate <pages>"},
    {"vm", "", EventOp::kVm, "!vm <index>"},
    {"roi", "begin", EventOp::kRoiBegin, "!roi begin|end"},
    {"roi", "end", EventOp::kRoiEnd, "!roi begin|end"},
    {"cpu", "", EventOp::kCpu, "!cpu <index>"},
};

std::string quote(std::string_view text) {
  return quote_token(text.data(), text.data() + text.size());
}

}  // namespace

void TextTraceReader::parse_event(const char* p, const char* end, Record& record) const {
  Tokens tokens(p, end);
  const char* const command_begin = p;
  const std::string_view command = tokens.next();
  const EventForm* candidates = nullptr;  // the first form of the command
  for (const EventForm& form : kEventForms) {
    if (form.command == command) {
      candidates = &form;
      break;
    }
  }
  if (ends_token(p, end) || candidates == nullptr) {  // "!" alone, or "! cr3"
    fail("unknown event " + quote_token(command_begin - 1, end) +
         " (events: !memslot, !cr3, !invlpg, !ptewrite, !exit, !madvise, !balloon, !vm, !cpu, "
         "!roi)");
  }
  const std::string what = "'!" + std::string(command) + "'";
  // Finds the form of the command with sub-word `sub`.
  auto form_for = [&](std::string_view sub) -> const EventForm& {
    for (const EventForm& form : kEventForms) {
      if (form.command == command && form.sub == sub) {
        return form;
      }
    }
    std::string subs;
    for (const EventForm& form : kEventForms) {
      if (form.command == command) {
        subs += (subs.empty() ? "" : ", ") + std::string(form.sub);
      }
    }
    fail(what + ": " + (sub.empty() ? "missing" : "unknown") + " operation" +
         (sub.empty() ? "" : " " + quote(sub)) + " (expected " + subs + ": " + candidates->usage +
         ")");
  };
  const EventForm* form = candidates;
  if (!candidates->sub.empty() && command != "ptewrite") {
    form = &form_for(tokens.next());
  }
  std::uint64_t args[3] = {0, 0, 0};
  // Reads argument `index`, named `name`; sizes take binary suffixes (4K, 2MiB).
  auto argument = [&](unsigned index, const char* name, bool size) {
    const std::string_view token = tokens.next();
    if (token.empty()) {
      fail(what + ": missing <" + name + "> (expected " + form->usage + ")");
    }
    std::optional<std::uint64_t> value = size ? parse_byte_size(token) : parse_unsigned(token);
    if (!value) {
      fail(what + ": bad <" + name + "> " + quote(token) +
           (size ? " (expected a byte count: 0x-hex or decimal, optionally with K, M, G, T "
                   "or P)"
                 : " (expected 0x-hex or decimal, at most 64 bits)"));
    }
    args[index] = *value;
  };
  std::uint16_t flags = 0;
  switch (form->op) {
    case EventOp::kMemslotAdd:
      argument(0, "id", false);
      argument(1, "gpa", true);
      argument(2, "size", true);
      if (const char* at = tokens.position(); !ends_token(at, end)) {
        if (tokens.next() != "ro") {
          fail(what + ": unexpected " + quote_token(at, end) +
               " (expected 'ro' or nothing: " + form->usage + ")");
        }
        flags = kEventReadonly;
      }
      break;
    case EventOp::kMemslotDelete:
      argument(0, "id", false);
      break;
    case EventOp::kMemslotMove:
      argument(0, "id", false);
      argument(1, "new-gpa", true);
      break;
    case EventOp::kCr3:
    case EventOp::kExit:
      argument(0, "address-space id", false);
      break;
    case EventOp::kInvlpg:
      argument(0, "address", false);
      break;
    case EventOp::kPteUnmap:
    case EventOp::kPteRemap:
      argument(0, "address", false);
      form = &form_for(tokens.next());
      break;
    case EventOp::kMadviseDontneed:
    case EventOp::kMadvisePageout:
    case EventOp::kMadviseCold:
      argument(0, "address", false);
      argument(1, "length", true);
      break;
    case EventOp::kBalloonInflate:
    case EventOp::kBalloonDeflate:
      argument(0, "pages", false);
      break;
    case EventOp::kVm:
    case EventOp::kCpu:
      argument(0, "index", false);
      break;
    case EventOp::kRoiBegin:
    case EventOp::kRoiEnd:
    case EventOp::kNone:
      break;
  }
  if (const char* at = tokens.position(); !ends_token(at, end)) {
    fail(what + ": unexpected " + quote_token(at, end) + " after the arguments (expected " +
         form->usage + ")");
  }
  Record event = Record::event(form->op, args[0], args[1], args[2], flags);
  if (const char* wrong = check_event(event)) {
    fail("'!" + std::string(event_name(form->op)) + "': " + wrong);
  }
  record = event;
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
    if (r.is_event()) {
      write_event(r);
      continue;
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

void TextTraceWriter::write_event(const Record& r) {
  if (const char* wrong = check_event(r)) {
    throw TraceError(m_output.path() + ": cannot write event '" + std::string(event_name(r.op)) +
                     "' (op " + std::to_string(static_cast<unsigned>(r.op)) + "): " + wrong);
  }
  // Canonical spelling: ids, address-space ids, page counts, VM and CPU indexes in decimal,
  // addresses and GPAs in 0x-hex, sizes and lengths as exact byte sizes (2MiB, 4100).
  auto hex = [](std::uint64_t v) {
    char text[24];
    char* end = format_hex(text, v);
    return "0x" + std::string(text, end);
  };
  std::string line = "!" + std::string(event_name(r.op)) + " ";
  switch (r.op) {
    case EventOp::kMemslotAdd:
      line += std::to_string(r.address) + " " + hex(r.arg1) + " " + format_byte_size(r.arg2);
      if ((r.flags & kEventReadonly) != 0) {
        line += " ro";
      }
      break;
    case EventOp::kMemslotDelete:
    case EventOp::kCr3:
    case EventOp::kExit:
    case EventOp::kBalloonInflate:
    case EventOp::kBalloonDeflate:
    case EventOp::kVm:
    case EventOp::kCpu:
      line += std::to_string(r.address);
      break;
    case EventOp::kMemslotMove:
      line += std::to_string(r.address) + " " + hex(r.arg1);
      break;
    case EventOp::kInvlpg:
      line += hex(r.address);
      break;
    case EventOp::kPteUnmap:
    case EventOp::kPteRemap:
      line = "!ptewrite " + hex(r.address) + (r.op == EventOp::kPteUnmap ? " unmap" : " remap");
      break;
    case EventOp::kMadviseDontneed:
    case EventOp::kMadvisePageout:
    case EventOp::kMadviseCold:
      line += hex(r.address) + " " + format_byte_size(r.arg1);
      break;
    case EventOp::kRoiBegin:
    case EventOp::kRoiEnd:
      line.pop_back();  // no arguments: "!roi begin"
      break;
    case EventOp::kNone:
      break;
  }
  line += '\n';
  if (kWriteBufferBytes - m_used < line.size()) {
    flush();
  }
  std::memcpy(m_buffer.get() + m_used, line.data(), line.size());
  m_used += line.size();
}

void TextTraceWriter::add_comment(std::string_view comment) {
  if (m_finished) {
    throw std::logic_error("TextTraceWriter::add_comment after finish");
  }
  const std::string lines = comment_lines(comment);
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
