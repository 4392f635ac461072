#include "base/config/schema.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace pagesim::config {
namespace {

std::string number_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

Field& Field::positive() {
  limit("at least 1");
  m_checks.push_back([this]() -> std::optional<std::string> {
    auto v = m_number();
    if (v && *v < 1) {
      return number_text(*v) + " is not valid here: it must be at least 1";
    }
    return std::nullopt;
  });
  return *this;
}

Field& Field::power_of_two() {
  limit("a power of two");
  m_checks.push_back([this]() -> std::optional<std::string> {
    auto v = m_number();
    if (!v) {
      return std::nullopt;
    }
    auto n = static_cast<std::uint64_t>(*v);
    if (n == 0 || (n & (n - 1)) != 0) {
      return number_text(*v) + " is not a power of two";
    }
    return std::nullopt;
  });
  return *this;
}

Field& Field::range(double lo, double hi) {
  limit(number_text(lo) + " to " + number_text(hi));
  m_checks.push_back([this, lo, hi]() -> std::optional<std::string> {
    auto v = m_number();
    if (v && (*v < lo || *v > hi)) {
      return number_text(*v) + " is outside " + number_text(lo) + ".." + number_text(hi);
    }
    return std::nullopt;
  });
  return *this;
}

Field& Field::at_most(double hi, std::string hi_text, std::string why) {
  limit("at most " + hi_text);
  m_checks.push_back([this, hi, hi_text, why]() -> std::optional<std::string> {
    auto v = m_number();
    if (v && *v > hi) {
      std::string text = value_text();
      if (text.size() >= 2 && text.front() == '"') {
        text = text.substr(1, text.size() - 2);
      }
      return text + " is more than " + hi_text + ": " + why;
    }
    return std::nullopt;
  });
  return *this;
}

Field& Field::limit(std::string text) {
  m_limits += (m_limits.empty() ? "" : "; ") + text;
  return *this;
}

std::string Field::limits_text() const {
  if (!m_cycles) {
    return m_limits;
  }
  return m_limits + (m_limits.empty() ? "" : "; ") + "at most " + kMaxCyclesText;
}

Field& Field::check(Check c) {
  m_checks.push_back(std::move(c));
  return *this;
}

Field& Field::note(std::string text) {
  m_note = std::move(text);
  return *this;
}

std::optional<std::string> Field::assign(std::string_view text) { return m_parse(text); }

std::optional<std::string> Field::first_failed_check() const {
  for (const auto& c : m_checks) {
    if (auto err = c()) {
      return err;
    }
  }
  return std::nullopt;
}

std::string Schema::qualify(std::string_view name) const {
  if (m_prefix.empty()) {
    return std::string(name);
  }
  if (name.empty()) {
    return m_prefix;
  }
  return m_prefix + "." + std::string(name);
}

void Schema::rule(std::string_view name, Check check) {
  m_rules.push_back({qualify(name), std::move(check)});
}

const Field* Schema::find(std::string_view key) const {
  for (const auto& f : m_fields) {
    if (f->key() == key) {
      return f.get();
    }
  }
  return nullptr;
}

void Schema::set(std::string_view key, std::string_view text, std::string_view origin) {
  Field* field = nullptr;
  for (const auto& f : m_fields) {
    if (f->key() == key) {
      field = f.get();
    }
  }
  std::string where = origin.empty() ? "" : std::string(origin) + ": ";
  if (field == nullptr) {
    std::string best;
    std::size_t best_distance = 4;  // suggest only near misses
    for (const auto& f : m_fields) {
      std::size_t d = edit_distance(key, f->key());
      if (d < best_distance) {
        best_distance = d;
        best = f->key();
      }
    }
    std::string msg = where + "unknown configuration key '" + std::string(key) + "'";
    if (!best.empty()) {
      msg += " (did you mean '" + best + "'?)";
    }
    throw ConfigError(msg + "; `pagesim config --dump` lists every key");
  }
  if (auto err = field->assign(text)) {
    throw ConfigError(where + std::string(key) + ": " + *err);
  }
}

void Schema::validate() const {
  std::string errors;
  for (const auto& f : m_fields) {
    if (auto err = f->first_failed_check()) {
      errors += (errors.empty() ? "" : "\n") + f->key() + ": " + *err;
    }
  }
  for (const auto& r : m_rules) {
    if (auto err = r.check()) {
      errors += (errors.empty() ? "" : "\n") + r.key + ": " + *err;
    }
  }
  if (!errors.empty()) {
    throw ConfigError(errors);
  }
}

std::string Schema::dump() const {
  std::ostringstream os;
  os << "# pagesim configuration: every key, its value and what it means.\n"
     << "# Load it back with `pagesim replay TRACE --config FILE`.\n";
  for (const auto& f : m_fields) {
    os << "\n# " << f->doc() << " [" << f->type();
    if (f->default_text() != f->value_text()) {
      os << "; default " << f->default_text();
    }
    os << "]\n";
    if (!f->limits_text().empty()) {
      os << "# allowed: " << f->limits_text() << "\n";
    }
    if (!f->note_text().empty()) {
      os << "# " << f->note_text() << "\n";
    }
    os << f->key() << " = " << f->value_text() << "\n";
  }
  return os.str();
}

}  // namespace pagesim::config
