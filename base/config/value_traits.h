// Text <-> value conversions for configuration fields: one parser for every source (TOML
// file values are turned into text and parsed here too, so a key reads the same from a
// file, from --set and from Python).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "base/cycles.h"

namespace pagesim::config {

// A size in bytes, written as parse_byte_size reads it: 4096, 0x1000, 4K, 4KiB, 2M, 64GiB.
struct ByteSize {
  std::uint64_t bytes = 0;
  constexpr auto operator<=>(const ByteSize&) const = default;
};

// Specialise for an enum to make it a configuration type: the names users write.
//   template <> struct EnumNames<Mode> {
//     static constexpr std::array<std::pair<std::string_view, Mode>, 1> kNames{{{"native", ...}}};
//   };
template <class E>
struct EnumNames;

template <class E>
concept NamedEnum = std::is_enum_v<E> && requires {
  EnumNames<E>::kNames;
};

// The largest value of a cycle-valued key (a per-event cost: an exit, a fault, a latency, the
// work per access, the quantum): 2^32 cycles, 1.65 s at 2.6 GHz, four orders of magnitude
// above the slowest modelled event (a swap-in, 52,000 cycles by default). The bound keeps a
// run's arithmetic in 64 bits: every statistic adds such costs, so a 64-bit cycle counter
// holds 2^32 - 1 charges of the largest one (2^48 of a default one). The simulated-time
// horizon is tighter:
// SystemC time counts femtoseconds in 64 bits (base/tlm/cycle_clock.h), about 5.1 hours, 4.8 *
// 10^13 cycles at 2.6 GHz (docs/model.md, "Configuration limits").
inline constexpr std::uint64_t kMaxCycles = std::uint64_t{1} << 32;
inline constexpr const char* kMaxCyclesText = "4294967296 (2^32)";

// Parse results: std::nullopt on success, else the reason ("'x' is not a number").
using ParseError = std::optional<std::string>;

// The one byte-size grammar of pagesim: every configuration key of type bytes, the sizes in
// vm.layout, trace events (`!memslot add ... 16MiB`), generator specs (`footprint=1GiB`)
// and `pagesim trace gen --footprint` all read sizes through this function.
//   size = "0x" hex-digits                           bytes, no unit
//        | decimal-digits [unit ["iB"]]              unit K, M, G, T or P, any letter case
// Units are binary: 4K = 4KiB = 4096, 64GiB = 2^36. "KB", "MB", ... are refused (1000 to
// some tools, 1024 to others), with a reason that says to write KiB; so are a lone "B",
// digit separators and values past 2^64 - 1. On success sets `out` and returns nullopt;
// else the reason, quoting the text ("'4KB' is not a size: ...").
ParseError parse_byte_size(std::string_view text, std::uint64_t& out);
// The shortest exact spelling: "64GiB", "4KiB", "4100", "0" (parse_byte_size reads it back).
std::string format_byte_size(std::uint64_t bytes);

ParseError parse_value(std::string_view text, bool& out);
ParseError parse_value(std::string_view text, std::uint32_t& out);
ParseError parse_value(std::string_view text, std::uint64_t& out);
ParseError parse_value(std::string_view text, double& out);
ParseError parse_value(std::string_view text, std::string& out);
ParseError parse_value(std::string_view text, Cycles& out);
ParseError parse_value(std::string_view text, ByteSize& out);

template <NamedEnum E>
ParseError parse_value(std::string_view text, E& out) {
  for (const auto& [name, value] : EnumNames<E>::kNames) {
    if (name == text) {
      out = value;
      return std::nullopt;
    }
  }
  std::string choices;
  for (const auto& [name, value] : EnumNames<E>::kNames) {
    choices += choices.empty() ? "" : ", ";
    choices += name;
  }
  return "'" + std::string(text) + "' is not one of: " + choices;
}

// TOML text of a value (strings and enum names quoted), as `config --dump` prints it.
std::string format_value(bool v);
std::string format_value(std::uint32_t v);
std::string format_value(std::uint64_t v);
std::string format_value(double v);
std::string format_value(const std::string& v);
std::string format_value(Cycles v);
std::string format_value(ByteSize v);

template <NamedEnum E>
std::string format_value(E v) {
  for (const auto& [name, value] : EnumNames<E>::kNames) {
    if (value == v) {
      return "\"" + std::string(name) + "\"";
    }
  }
  return "\"?\"";
}

template <NamedEnum E>
std::string_view enum_name(E v) {
  for (const auto& [name, value] : EnumNames<E>::kNames) {
    if (value == v) {
      return name;
    }
  }
  return "?";
}

// The value as a number, for range checks (std::nullopt for strings, enums and bools).
inline std::optional<double> numeric_value(std::uint32_t v) { return static_cast<double>(v); }
inline std::optional<double> numeric_value(std::uint64_t v) { return static_cast<double>(v); }
inline std::optional<double> numeric_value(double v) { return v; }
inline std::optional<double> numeric_value(Cycles v) { return static_cast<double>(v.count()); }
inline std::optional<double> numeric_value(ByteSize v) { return static_cast<double>(v.bytes); }
template <class T>
std::optional<double> numeric_value(const T&) {
  return std::nullopt;
}

// Short type names shown by `config --dump`.
inline std::string_view type_name(const bool*) { return "bool"; }
inline std::string_view type_name(const std::uint32_t*) { return "integer"; }
inline std::string_view type_name(const std::uint64_t*) { return "integer"; }
inline std::string_view type_name(const double*) { return "number"; }
inline std::string_view type_name(const std::string*) { return "string"; }
inline std::string_view type_name(const Cycles*) { return "cycles"; }
inline std::string_view type_name(const ByteSize*) { return "bytes"; }
template <NamedEnum E>
std::string_view type_name(const E*) {
  return "choice";
}

}  // namespace pagesim::config
