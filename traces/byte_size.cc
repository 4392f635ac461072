#include "traces/byte_size.h"

#include <charconv>

#include "base/config/value_traits.h"

namespace pagesim::traces {

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value, base);
  if (text.empty() || error != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
  std::uint64_t bytes = 0;
  if (config::parse_byte_size(text, bytes)) {
    return std::nullopt;
  }
  return bytes;
}

std::string format_byte_size(std::uint64_t bytes) { return config::format_byte_size(bytes); }

}  // namespace pagesim::traces
