// pagesim diff A.json B.json: what differs between two outputs of `pagesim replay --json`
// (or `pagesim compare --json`, whose columns are compared one by one): the configuration
// key by key and the rest of the provenance, then the statistics side by side with B/A.
// Exit status as diff(1): 0 when the statistics are identical, 1 when some differ, 2 for
// trouble (a file that cannot be read or is not a pagesim output).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/stats/json_reader.h"
#include "sim/cli/commands.h"

namespace pagesim::cli {
namespace {

namespace po = boost::program_options;
using stats::JsonValue;

struct Output {
  std::map<std::string, std::string> provenance;     // flattened: "trace.path", "seed", ...
  std::map<std::string, std::string> configuration;  // key -> value text
  std::map<std::string, std::string> statistics;     // path -> number as written
};

std::string scalar_text(const JsonValue& v) {
  switch (v.kind) {
    case JsonValue::Kind::kNull:
      return "null";
    case JsonValue::Kind::kBool:
      return v.boolean ? "true" : "false";
    default:
      return v.text;
  }
}

// A statistics object: numbers, histograms as "path[label]".
void add_statistics(const JsonValue& object, const std::string& prefix, Output& out) {
  for (const auto& [name, value] : object.members) {
    if (name == "provenance") {
      continue;
    }
    if (value.kind == JsonValue::Kind::kObject) {
      for (const auto& [label, count] : value.members) {
        out.statistics[prefix + name + "[" + label + "]"] = scalar_text(count);
      }
    } else if (value.kind == JsonValue::Kind::kNumber) {
      out.statistics[prefix + name] = value.text;
    }
  }
}

Output read_output(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error(path + ": cannot open the file");
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  JsonValue doc;
  try {
    doc = stats::parse_json(contents.str());
  } catch (const stats::JsonError& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  if (doc.kind != JsonValue::Kind::kObject) {
    throw std::runtime_error(path + ": not a pagesim JSON output (not an object)");
  }
  Output out;
  if (const JsonValue* p = doc.member("provenance")) {
    for (const auto& [name, value] : p->members) {
      if (name == "configuration") {
        for (const auto& [key, text] : value.members) {
          out.configuration[key] = scalar_text(text);
        }
      } else if (name == "trace") {
        for (const auto& [field, text] : value.members) {
          out.provenance["trace." + field] = scalar_text(text);
        }
      } else {
        out.provenance[name] = scalar_text(value);
      }
    }
  }
  if (const JsonValue* modes = doc.member("modes");
      modes != nullptr && modes->kind == JsonValue::Kind::kObject) {
    for (const auto& [column, object] : modes->members) {
      add_statistics(object, column + ": ", out);  // pagesim compare: column by column
    }
  } else {
    add_statistics(doc, "", out);
  }
  if (out.statistics.empty()) {
    throw std::runtime_error(path + ": no statistics in it (not a pagesim JSON output)");
  }
  return out;
}

std::string cell(const std::map<std::string, std::string>& m, const std::string& key) {
  const auto it = m.find(key);
  return it == m.end() ? "-" : it->second;
}

// Keys whose values differ (or that one side lacks), as "  key  a -> b" lines.
std::vector<std::string> changed(const std::map<std::string, std::string>& a,
                                 const std::map<std::string, std::string>& b) {
  std::map<std::string, bool> keys;
  for (const auto& [k, v] : a) {
    keys[k] = true;
  }
  for (const auto& [k, v] : b) {
    keys[k] = true;
  }
  std::vector<std::string> lines;
  for (const auto& [k, unused] : keys) {
    const std::string va = cell(a, k);
    const std::string vb = cell(b, k);
    if (va != vb) {
      lines.push_back("  " + k + ": " + va + " -> " + vb);
    }
  }
  return lines;
}

}  // namespace

int run_diff(int argc, char** argv) {
  po::options_description desc(
      "Usage: pagesim diff A.json B.json [--all]\n\n"
      "Compares two outputs of `pagesim replay --json` (or two of `pagesim compare\n"
      "--json`, column by column): the configuration keys that differ, the rest of the\n"
      "provenance that differs (trace, version, seed, ...; times and hosts left out unless\n"
      "--all), then every statistic that differs, side by side with the ratio B/A. Exit\n"
      "status: 0 when the statistics are identical, 1 when some differ, 2 for trouble.\n\n"
      "Options");
  desc.add_options()("help,h", "show this help")(
      "all", "print every statistic and every provenance field, equal or not");
  po::options_description hidden;
  hidden.add_options()("files", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("files", 2);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "pagesim diff: " << e.what() << "\n(see pagesim diff --help)\n";
    return kExitUsage;
  }
  if (vm.count("help") != 0) {
    std::cout << desc;
    return 0;
  }
  const auto files = vm.count("files") != 0 ? vm["files"].as<std::vector<std::string>>()
                                            : std::vector<std::string>{};
  if (files.size() != 2) {
    std::cerr << "pagesim diff: give two JSON outputs, A and B (see pagesim diff --help)\n";
    return kExitUsage;
  }
  Output a, b;
  try {
    a = read_output(files[0]);
    b = read_output(files[1]);
  } catch (const std::exception& e) {
    std::cerr << "pagesim diff: " << e.what() << "\n";
    return kExitUsage;
  }
  const bool every = vm.count("all") != 0;

  std::cout << "A: " << files[0] << "\nB: " << files[1] << "\n";
  const std::vector<std::string> config_lines = changed(a.configuration, b.configuration);
  std::cout << "\nconfiguration: " << config_lines.size() << " of "
            << std::max(a.configuration.size(), b.configuration.size()) << " keys differ\n";
  for (const auto& line : config_lines) {
    std::cout << line << "\n";
  }
  auto provenance_a = a.provenance;
  auto provenance_b = b.provenance;
  if (!every) {
    for (const char* unstable : {"start_time", "wall_seconds", "host", "command_line"}) {
      provenance_a.erase(unstable);
      provenance_b.erase(unstable);
    }
  }
  const std::vector<std::string> provenance_lines = changed(provenance_a, provenance_b);
  if (!provenance_lines.empty()) {
    std::cout << "\nprovenance:\n";
    for (const auto& line : provenance_lines) {
      std::cout << line << "\n";
    }
  }

  std::map<std::string, bool> names;
  for (const auto& [k, v] : a.statistics) {
    names[k] = true;
  }
  for (const auto& [k, v] : b.statistics) {
    names[k] = true;
  }
  std::vector<std::string> rows;
  std::size_t differ = 0;
  std::size_t width = 9;
  for (const auto& [name, unused] : names) {
    const std::string va = cell(a.statistics, name);
    const std::string vb = cell(b.statistics, name);
    const bool same = va == vb;
    differ += same ? 0 : 1;
    if (same && !every) {
      continue;
    }
    width = std::max(width, name.size());
    rows.push_back(name);
  }
  std::cout << "\nstatistics: " << differ << " of " << names.size() << " differ\n";
  if (!rows.empty()) {
    char line[512];
    std::snprintf(line, sizeof line, "  %-*s %18s %18s %10s\n", static_cast<int>(width), "name",
                  "A", "B", "B/A");
    std::cout << line;
    for (const auto& name : rows) {
      const std::string va = cell(a.statistics, name);
      const std::string vb = cell(b.statistics, name);
      std::string ratio = "-";
      if (va != "-" && vb != "-") {
        const double x = std::strtod(va.c_str(), nullptr);
        const double y = std::strtod(vb.c_str(), nullptr);
        if (x != 0) {
          char r[32];
          std::snprintf(r, sizeof r, "%.4g", y / x);
          ratio = r;
        } else if (y == 0) {
          ratio = "1";
        } else {
          ratio = "inf";
        }
      }
      std::snprintf(line, sizeof line, "  %-*s %18s %18s %10s\n", static_cast<int>(width),
                    name.c_str(), va.c_str(), vb.c_str(), ratio.c_str());
      std::cout << line;
    }
  }
  return differ == 0 ? 0 : 1;
}

}  // namespace pagesim::cli
