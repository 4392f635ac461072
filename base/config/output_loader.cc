#include "base/config/output_loader.h"

#include <fstream>
#include <sstream>

#include "base/stats/json_reader.h"

namespace pagesim::config {

void load_output_configuration(Schema& schema, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(path + ": cannot open the file");
  }
  std::ostringstream text;
  text << in.rdbuf();
  stats::JsonValue output;
  try {
    output = stats::parse_json(text.str());
  } catch (const stats::JsonError& e) {
    throw ConfigError(path + ": not a pagesim JSON output: " + e.what());
  }
  const stats::JsonValue* provenance = output.member("provenance");
  const stats::JsonValue* configuration =
      provenance != nullptr ? provenance->member("configuration") : nullptr;
  if (configuration == nullptr || configuration->kind != stats::JsonValue::Kind::kObject) {
    throw ConfigError(path +
                      ": no \"provenance\" with a \"configuration\" object (a JSON file "
                      "written by pagesim replay or compare --json)");
  }
  const std::string origin = path + ": provenance";
  for (const auto& [key, value] : configuration->members) {
    if (value.kind != stats::JsonValue::Kind::kString) {
      throw ConfigError(path + ": provenance configuration key " + key +
                        ": the value is not a string");
    }
    schema.set(key, value.text, origin);
  }
}

}  // namespace pagesim::config
