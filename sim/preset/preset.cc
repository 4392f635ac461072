#include "sim/preset/preset.h"

#include <sstream>

#include "base/config/schema.h"
#include "sim/preset/cpuid.h"
#include "sim/preset/host_preset.h"
#include "sim/sim_params.h"

namespace pagesim::preset {

Resolved resolve(std::string_view name, std::string_view option) {
  if (name == "host") {
    return host_preset(HostCpuid());
  }
  const Preset* p = find_named(name);
  if (p == nullptr) {
    throw config::ConfigError(std::string(option) + " " + std::string(name) +
                              ": unknown preset; the presets are: " + preset_names());
  }
  Resolved r;
  r.name = std::string(p->name);
  for (const Value& v : p->values) {
    r.values.push_back({std::string(v.key), std::string(v.value), std::string(v.source)});
  }
  return r;
}

void apply(Configuration& c, const Resolved& r) {
  const std::string origin = "preset " + r.name;
  for (const Assignment& a : r.values) {
    c.set(a.key, a.value, origin);
  }
  std::string note = "Preset " + r.name + " applied first (--config and --set override it)";
  if (const Preset* p = find_named(r.name)) {
    note += ": " + std::string(p->machine);
  }
  note += "; docs/presets.md gives each value's source.";
  if (!r.report.empty()) {
    note += "\n" + r.report;
  }
  c.add_dump_note(note);
}

}  // namespace pagesim::preset
