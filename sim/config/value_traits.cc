#include "sim/config/value_traits.h"

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
  out = Cycles(n);
  return std::nullopt;
}

ParseError parse_value(std::string_view text, ByteSize& out) {
  std::size_t digits_end = 0;
  bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  if (hex) {
    std::uint64_t n = 0;
    if (auto err = parse_u64(text, n)) {
      return err;
    }
    out.bytes = n;
    return std::nullopt;
  }
  while (digits_end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits_end])) || text[digits_end] == '_')) {
    ++digits_end;
  }
  std::uint64_t n = 0;
  if (auto err = parse_u64(text.substr(0, digits_end), n)) {
    return quoted(text) + " is not a size (e.g. 4096, 4K, 2MiB, 64GiB)";
  }
  std::string_view suffix = text.substr(digits_end);
  std::uint64_t mult = 1;
  if (!suffix.empty()) {
    char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(suffix[0])));
    std::string_view rest = suffix.substr(1);
    if (rest != "" && rest != "iB" && rest != "B" && rest != "ib" && rest != "b") {
      return quoted(text) + " is not a size (e.g. 4096, 4K, 2MiB, 64GiB)";
    }
    switch (unit) {
      case 'B':
        if (!rest.empty()) {
          return quoted(text) + " is not a size (e.g. 4096, 4K, 2MiB, 64GiB)";
        }
        break;
      case 'K':
        mult = 1ull << 10;
        break;
      case 'M':
        mult = 1ull << 20;
        break;
      case 'G':
        mult = 1ull << 30;
        break;
      case 'T':
        mult = 1ull << 40;
        break;
      default:
        return quoted(text) + " is not a size (e.g. 4096, 4K, 2MiB, 64GiB)";
    }
  }
  if (n != 0 && mult > std::numeric_limits<std::uint64_t>::max() / n) {
    return quoted(text) + " is too large";
  }
  out.bytes = n * mult;
  return std::nullopt;
}

std::string format_value(bool v) { return v ? "true" : "false"; }
std::string format_value(std::uint32_t v) { return std::to_string(v); }
std::string format_value(std::uint64_t v) { return std::to_string(v); }
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
  static constexpr std::pair<std::uint64_t, const char*> kUnits[] = {
      {1ull << 40, "TiB"}, {1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}};
  for (const auto& [unit, name] : kUnits) {
    if (v.bytes != 0 && v.bytes % unit == 0) {
      return "\"" + std::to_string(v.bytes / unit) + name + "\"";
    }
  }
  return std::to_string(v.bytes);
}

}  // namespace pagesim::config
