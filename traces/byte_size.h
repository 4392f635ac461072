// Byte counts and addresses as users type them: "4096", "0x1000", "4K", "4KiB", "64GiB".
//
// Sizes follow the one grammar of config::parse_byte_size (base/config/value_traits.h), which
// the configuration keys use too: suffixes K, M, G, T, P (optionally followed by "iB"; any
// letter case) are binary, K = 1024; "KB"/"GB" are refused, since they mean 1000 to some
// tools and 1024 to others.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pagesim::traces {

// The value, or nullopt if `text` is not a byte count or does not fit in 64 bits
// (config::parse_byte_size gives the reason).
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

// A plain unsigned integer, decimal or 0x-hex; nullopt if malformed or too big.
std::optional<std::uint64_t> parse_unsigned(std::string_view text);

// The shortest exact spelling: "64GiB", "4KiB", "4100" (parse_byte_size reads it back).
std::string format_byte_size(std::uint64_t bytes);

}  // namespace pagesim::traces
