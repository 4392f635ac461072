#include "traces/byte_size.h"

#include <array>
#include <charconv>

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
  static constexpr std::string_view kUnits = "KMGTP";
  std::size_t digits_end = text.size();
  unsigned shift = 0;
  // A trailing unit: "K", "KiB" (any case), not "KB".
  std::string_view suffix;
  if (!(text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))) {
    std::size_t i = text.find_first_not_of("0123456789");
    if (i != std::string_view::npos) {
      suffix = text.substr(i);
      digits_end = i;
    }
  }
  if (!suffix.empty()) {
    char unit = suffix[0];
    if (unit >= 'a' && unit <= 'z') {
      unit = static_cast<char>(unit - 'a' + 'A');
    }
    std::size_t index = kUnits.find(unit);
    std::string_view rest = suffix.substr(1);
    bool rest_ok = rest.empty() || ((rest.size() == 2) && (rest[0] == 'i' || rest[0] == 'I') &&
                                    (rest[1] == 'b' || rest[1] == 'B'));
    if (index == std::string_view::npos || !rest_ok) {
      return std::nullopt;
    }
    shift = 10 * static_cast<unsigned>(index + 1);
  }
  std::optional<std::uint64_t> value = parse_unsigned(text.substr(0, digits_end));
  if (!value || (shift > 0 && (*value >> (64 - shift)) != 0)) {
    return std::nullopt;
  }
  return *value << shift;
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

}  // namespace pagesim::traces
