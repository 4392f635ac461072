#include "base/config/value_traits.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace pagesim::config {
namespace {

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// Decimal or 0x-prefixed hexadecimal, the whole text, no sign.
ParseError parse_u64(std::string_view text, std::uint64_t& out) {
  int base = 10;
  std::string_view digits = text;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  }
  std::string clean;
  for (char c : digits) {
    if (c != '_') {
      clean += c;
    }
  }
  if (clean.empty()) {
    return quoted(text) + " is not a whole number";
  }
  auto [ptr, ec] = std::from_chars(clean.data(), clean.data() + clean.size(), out, base);
  if (ec == std::errc::result_out_of_range) {
    return quoted(text) + " is too large";
  }
  if (ec != std::errc() || ptr != clean.data() + clean.size()) {
    return quoted(text) + " is not a whole number";
  }
  return std::nullopt;
}

}  // namespace

ParseError parse_value(std::string_view text, bool& out) {
  if (text == "true" || text == "1" || text == "on" || text == "yes") {
    out = true;
  } else if (text == "false" || text == "0" || text == "off" || text == "no") {
    out = false;
  } else {
    return quoted(text) + " is not a boolean (true or false)";
  }
  return std::nullopt;
}

ParseError parse_value(std::string_view text, std::uint64_t& out) { return parse_u64(text, out); }

ParseError parse_value(std::string_view text, std::uint32_t& out) {
  std::uint64_t wide = 0;
  if (auto err = parse_u64(text, wide)) {
    return err;
  }
  if (wide > std::numeric_limits<std::uint32_t>::max()) {
    return quoted(text) + " is too large";
  }
  out = static_cast<std::uint32_t>(wide);
  return std::nullopt;
}

ParseError parse_value(std::string_view text, double& out) {
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v)) {
    return quoted(text) + " is not a number";
  }
  out = v;
  return std::nullopt;
}

ParseError parse_value(std::string_view text, std::string& out) {
  out = std::string(text);
  return std::nullopt;
}

ParseError parse_value(std::string_view text, Cycles& out) {
  std::uint64_t n = 0;
  if (auto err = parse_u64(text, n)) {
    return err;
  }
  if (n > kMaxCycles) {
    return quoted(text) + " is more than " + kMaxCyclesText +
           " cycles, the bound of every cycles value (1.65 s at 2.6 GHz; it keeps a run's "
           "cycle totals within 64 bits)";
  }
  out = Cycles(n);
  return std::nullopt;
}

ParseError parse_byte_size(std::string_view text, std::uint64_t& out) {
  static constexpr std::string_view kUnits = "KMGTP";
  const std::string example = " (e.g. 4096, 0x1000, 4K, 64GiB; K = 1024)";
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    const std::string_view digits = text.substr(2);
    std::uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n, 16);
    if (ec == std::errc::result_out_of_range) {
      return quoted(text) + " is too large (at most 2^64 - 1 bytes)";
    }
    if (ec != std::errc() || ptr != digits.data() + digits.size()) {
      return quoted(text) + " is not a byte size" + example;
    }
    out = n;
    return std::nullopt;
  }
  const std::size_t digits_end = std::min(text.find_first_not_of("0123456789"), text.size());
  const std::string_view digits = text.substr(0, digits_end);
  const std::string_view suffix = text.substr(digits_end);
  unsigned shift = 0;
  if (!suffix.empty()) {
    const char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(suffix[0])));
    const std::size_t index = kUnits.find(unit);
    const std::string_view rest = suffix.substr(1);
    const bool ib = rest.size() == 2 && (rest[0] == 'i' || rest[0] == 'I') &&
                    (rest[1] == 'b' || rest[1] == 'B');
    if (index != std::string_view::npos && !digits.empty() && rest.size() == 1 &&
        (rest[0] == 'b' || rest[0] == 'B')) {
      return quoted(text) + " is not a byte size: " + std::string(suffix) +
             " is refused, being 1000 to some tools and 1024 to others; write " +
             std::string(digits) + std::string(1, unit) + "iB (binary, K = 1024)";
    }
    if (index == std::string_view::npos || !(rest.empty() || ib)) {
      return quoted(text) + " is not a byte size" + example;
    }
    shift = 10 * static_cast<unsigned>(index + 1);
  }
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n, 10);
  if (ec == std::errc::result_out_of_range || (shift > 0 && (n >> (64 - shift)) != 0)) {
    return quoted(text) + " is too large (at most 2^64 - 1 bytes)";
  }
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) {
    return quoted(text) + " is not a byte size" + example;
  }
  out = n << shift;
  return std::nullopt;
}

std::string format_byte_size(std::uint64_t bytes) {
  static constexpr std::array<const char*, 5> kSuffixes = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes != 0) {
    for (int i = static_cast<int>(kSuffixes.size()) - 1; i >= 0; --i) {
      const unsigned shift = 10 * static_cast<unsigned>(i + 1);
      if ((bytes & ((std::uint64_t{1} << shift) - 1)) == 0) {
        return std::to_string(bytes >> shift) + kSuffixes[static_cast<std::size_t>(i)];
      }
    }
  }
  return std::to_string(bytes);
}

ParseError parse_value(std::string_view text, ByteSize& out) {
  return parse_byte_size(text, out.bytes);
}

std::string format_value(bool v) { return v ? "true" : "false"; }
std::string format_value(std::uint32_t v) { return std::to_string(v); }
// TOML integers are signed 64-bit: a larger value is written as a string, which the
// loaders read back through the same parser.
std::string format_value(std::uint64_t v) {
  return v > std::uint64_t{std::numeric_limits<std::int64_t>::max()}
             ? "\"" + std::to_string(v) + "\""
             : std::to_string(v);
}
std::string format_value(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s(buf);
  if (s.find_first_of(".eE") == std::string::npos) {
    s += ".0";  // stays a TOML float
  }
  return s;
}
std::string format_value(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}
std::string format_value(Cycles v) { return std::to_string(v.count()); }
std::string format_value(ByteSize v) {
  const std::string text = format_byte_size(v.bytes);
  // A whole number of KiB or more is a TOML string ("4KiB"); other sizes a TOML integer
  // (a string past 2^63 - 1, as format_value(std::uint64_t)).
  return text.back() == 'B' ? "\"" + text + "\"" : format_value(v.bytes);
}

}  // namespace pagesim::config
