#include "base/config/toml_loader.h"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "base/config/value_traits.h"

namespace pagesim::config {
namespace {

std::string where(const std::string& source, const toml::source_region& r) {
  return source + ":" + std::to_string(r.begin.line);
}

void load_table(Schema& schema, const toml::table& table, const std::string& prefix,
                const std::string& source) {
  for (const auto& [k, node] : table) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = node.as_table()) {
      load_table(schema, *sub, key, source);
      continue;
    }
    std::string text;
    if (auto s = node.value<std::string>(); s && node.is_string()) {
      text = *s;
    } else if (node.is_integer()) {
      auto v = node.value<std::int64_t>();
      if (*v < 0) {
        throw ConfigError(where(source, node.source()) + ": " + key + ": " + std::to_string(*v) +
                          " is negative");
      }
      text = std::to_string(*v);
    } else if (node.is_floating_point()) {
      text = format_value(*node.value<double>());
    } else if (node.is_boolean()) {
      text = *node.value<bool>() ? "true" : "false";
    } else {
      throw ConfigError(where(source, node.source()) + ": " + key +
                        ": arrays, dates and inline tables are not configuration values");
    }
    schema.set(key, text, where(source, node.source()));
  }
}

}  // namespace

void load_toml_text(Schema& schema, std::string_view text, const std::string& source_name) {
  toml::table table;
  try {
    table = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << source_name << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
       << e.description();
    throw ConfigError(os.str());
  }
  load_table(schema, table, "", source_name);
}

void load_toml_file(Schema& schema, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(path + ": cannot open configuration file");
  }
  std::ostringstream text;
  text << in.rdbuf();
  load_toml_text(schema, text.str(), path);
}

void apply_override(Schema& schema, std::string_view assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw ConfigError("--set " + std::string(assignment) + ": expected key=value");
  }
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  std::string_view value = trim(assignment.substr(eq + 1));
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  schema.set(trim(assignment.substr(0, eq)), value, "--set");
}

}  // namespace pagesim::config
