// CPU presets: named sets of configuration values for real processors (`--preset NAME`,
// `pysim.Config(preset=...)`), and `host`, read from this machine's CPUID (host_preset.h).
//
// A preset is only a list of `key = value` assignments, each with the source it comes from.
// It sets existing configuration keys through the same Schema::set() as --config and --set
// (so an unknown key or a bad value in a preset is a ConfigError naming the key), and it is
// applied first: defaults < preset < --config FILE < --set KEY=VALUE < pysim keywords.
//
// What a preset covers: the core clock, the TLB geometries per page size (tlb.l1d, tlb.l1i,
// tlb.l2), the paging-structure caches (walker.pwc, walker.ept_pwc) or AMD's page-walk cache
// and nested TLB (walker.pte_cache, walker.ntlb), and the cache sizes, ways and latencies
// with the memory latency (cache.*). Software costs (os.*, vmexit.*, shadow.*, host.*) are
// not the processor's and stay at their defaults. The number of page walkers has no key:
// the model serialises walks (docs/presets.md says what each part has).
//
// The values and their sources: presets.cc; the table of them: docs/presets.md.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pagesim {
class Configuration;
}

namespace pagesim::preset {

// One value of a named preset: the key, its value as --set would spell it, and where the
// value comes from (a manual's section, a CPUID leaf, a measurement, or "assumed: why").
struct Value {
  std::string_view key;
  std::string_view value;
  std::string_view source;
};

struct Preset {
  std::string_view name;     // the --preset NAME
  std::string_view machine;  // the processor it describes
  std::span<const Value> values;
};

// The named presets, in the order --help lists them (skylake-sp first: the defaults).
std::span<const Preset> named_presets();
const Preset* find_named(std::string_view name);

// "skylake-sp, icelake-sp, sapphire-rapids, zen3, zen4, host": every name --preset takes.
std::string preset_names();

// A preset resolved to assignments (a named one copied; host read from CPUID now).
struct Assignment {
  std::string key;
  std::string value;
  std::string source;
};
struct Resolved {
  std::string name;
  std::vector<Assignment> values;
  // host: what CPUID told and what was assumed, one line each, for stderr and the dump's
  // header; empty for a named preset.
  std::string report;
};

// The assignments of `name` ("host" reads this machine's CPUID). Throws config::ConfigError
// for an unknown name: "<option> NAME: unknown preset; the presets are: ...".
Resolved resolve(std::string_view name, std::string_view option = "--preset");

// Sets every value of `r` in `c`, each with the origin "preset NAME" (errors name it), and
// notes the preset in the dump's header. Apply before the file and the overrides.
void apply(Configuration& c, const Resolved& r);

}  // namespace pagesim::preset
