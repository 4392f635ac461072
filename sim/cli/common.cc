#include <iostream>

#include "sim/cli/commands.h"
#include "sim/preset/preset.h"

namespace pagesim::cli {

namespace po = boost::program_options;

void add_config_options(po::options_description& desc) {
  desc.add_options()(
      "preset", po::value<std::string>()->value_name("NAME"),
      ("a real CPU's TLBs, walker caches and caches, applied before --config and --set: " +
       preset::preset_names() +
       " (host: this machine's CPUID, what it does not tell from the closest preset; "
       "docs/presets.md)")
          .c_str())("config", po::value<std::string>()->value_name("FILE"),
                    "TOML configuration file (keys as `pagesim config --dump` prints them), or "
                    "a JSON output of replay/compare (its provenance's configuration)")(
      "set", po::value<std::vector<std::string>>()->composing()->value_name("KEY=VALUE"),
      "override one key, after --config; repeatable");
}

void load_configuration(Configuration& c, const po::variables_map& vm) {
  if (vm.count("preset") != 0) {
    const preset::Resolved p = preset::resolve(vm["preset"].as<std::string>());
    preset::apply(c, p);
    static bool reported = false;  // once per process (compare loads one per mode)
    if (!p.report.empty() && !reported) {
      std::cerr << "pagesim: " << p.report;  // what CPUID told and what was assumed
      reported = true;
    }
  }
  if (vm.count("config") != 0) {
    c.load_file(vm["config"].as<std::string>());
  }
  if (vm.count("set") != 0) {
    for (const auto& s : vm["set"].as<std::vector<std::string>>()) {
      c.set(s);
    }
  }
  c.validate();
}

std::optional<int> parse_trace_command(const char* command, const po::options_description& desc,
                                       int argc, char** argv, po::variables_map& vm) {
  po::options_description hidden;
  hidden.add_options()("trace", po::value<std::string>());
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("trace", 1);
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "pagesim " << command << ": " << e.what() << "\n(see pagesim " << command
              << " --help)\n";
    return kExitUsage;
  }
  if (vm.count("help") != 0) {
    std::cout << desc << "\n";
    return 0;
  }
  if (vm.count("trace") == 0) {
    std::cerr << "pagesim " << command << ": no trace given (see pagesim " << command
              << " --help)\n";
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace pagesim::cli
