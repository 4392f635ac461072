// The configuration schema: every key of the simulator, declared once by the Params struct
// that owns it (its describe() method), with its documentation and checks.
//
//   struct TlbParams {
//     std::uint32_t entries = 64;
//     void describe(config::Schema& s) {
//       s.field("entries", entries, "entries for 4 KiB pages").positive();
//     }
//   };
//   SimParams params;                       // built-in defaults
//   config::Schema schema;
//   schema.group("", params);               // binds every key to the member it sets
//   schema.set("tlb.l1d.ways", "8", "--set");
//   schema.validate();                      // every field check and cross-field rule
//
// A Schema binds to one Params object: set() writes that object's members. Keys are the
// dotted path of group names and field names (`tlb.l1d.ways`), the same words as the
// SystemC module names and the statistics paths. Errors are ConfigError with the full key.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/config/value_traits.h"

namespace pagesim::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A check returns std::nullopt when the value is fine, else the reason (without the key).
using Check = std::function<std::optional<std::string>()>;

class Field {
 public:
  template <class T>
  Field(std::string key, T& member, std::string doc)
      : m_key(std::move(key)),
        m_doc(std::move(doc)),
        m_type(type_name(&member)),
        m_parse([&member](std::string_view text) { return parse_value(text, member); }),
        m_format([&member] { return format_value(member); }),
        m_number([&member] { return numeric_value(member); }),
        m_default_text(format_value(member)),
        m_cycles(std::is_same_v<T, Cycles>) {}

  const std::string& key() const { return m_key; }
  const std::string& doc() const { return m_doc; }
  std::string_view type() const { return m_type; }
  std::string value_text() const { return m_format(); }
  const std::string& default_text() const { return m_default_text; }

  // Common checks; each names the value it rejects and adds its bound to limits_text().
  Field& positive();                   // at least 1
  Field& power_of_two();               // 1, 2, 4, ...
  Field& range(double lo, double hi);  // lo <= value <= hi
  // value <= hi; `hi_text` spells the bound ("1048576 (2^20)", "64TiB"), `why` says what
  // in the model sets it. The error: "<value> is more than <hi_text>: <why>".
  Field& at_most(double hi, std::string hi_text, std::string why);
  Field& check(Check c);  // anything else
  // Text for the dump: the unit or the reference it comes from.
  Field& note(std::string text);
  const std::string& note_text() const { return m_note; }
  // The values the checks allow, for the dump ("at least 1; at most 1048576 (2^20)"); empty
  // when nothing bounds the field. Cycle-valued fields end with "at most 4294967296 (2^32)",
  // the bound every cycles value has (value_traits.h, kMaxCycles).
  Field& limit(std::string text);
  std::string limits_text() const;

  // Parses text into the member; returns the reason on failure (member unchanged then).
  std::optional<std::string> assign(std::string_view text);
  std::optional<std::string> first_failed_check() const;

 private:
  std::string m_key;
  std::string m_doc;
  std::string m_note;
  std::string m_limits;
  std::string_view m_type;
  std::function<ParseError(std::string_view)> m_parse;
  std::function<std::string()> m_format;
  std::function<std::optional<double>()> m_number;
  std::string m_default_text;
  bool m_cycles;
  std::vector<Check> m_checks;
};

class Schema {
 public:
  Schema() = default;
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  // The full key of `name` in the group being described (`<group path>.<name>`): for checks
  // and messages that name another key of the same group.
  std::string key(std::string_view name) const { return qualify(name); }

  // Declares a key `<group path>.<name>` bound to `member`.
  template <class T>
  Field& field(std::string_view name, T& member, std::string_view doc) {
    m_fields.push_back(std::make_unique<Field>(qualify(name), member, std::string(doc)));
    return *m_fields.back();
  }

  // Declares the fields of a nested Params struct under `name` ("" for the top level).
  template <class P>
  void group(std::string_view name, P& params) {
    std::string saved = m_prefix;
    m_prefix = qualify(name);
    params.describe(*this);
    m_prefix = std::move(saved);
  }

  // A check across fields, reported against the key `<group path>.<name>`.
  void rule(std::string_view name, Check check);

  // Sets one key from text. `origin` says where it came from ("--set", "cfg.toml:12").
  // Throws ConfigError for an unknown key (with the nearest known key) or a bad value.
  void set(std::string_view key, std::string_view text, std::string_view origin);

  // Runs every field check and rule; throws ConfigError listing every failure, one a line.
  void validate() const;

  const Field* find(std::string_view key) const;
  const std::vector<std::unique_ptr<Field>>& fields() const { return m_fields; }

  // The effective configuration as TOML, every key with its documentation; loadable back
  // with --config.
  std::string dump() const;

 private:
  std::string qualify(std::string_view name) const;

  struct Rule {
    std::string key;
    Check check;
  };
  std::string m_prefix;
  std::vector<std::unique_ptr<Field>> m_fields;
  std::vector<Rule> m_rules;
};

}  // namespace pagesim::config
