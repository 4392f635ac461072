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

#include "sim/cycles.h"

namespace pagesim::config {

// A size in bytes, written with a binary suffix: 4096, 4K, 4KiB, 2M, 64GiB (powers of 1024).
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

// Parse results: std::nullopt on success, else the reason ("'x' is not a number").
using ParseError = std::optional<std::string>;

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
