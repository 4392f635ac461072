#include <iostream>

#include "base/atomic_file.h"
#include "sim/cli/commands.h"

namespace pagesim::cli {

namespace po = boost::program_options;

int run_config(int argc, char** argv) {
  po::options_description desc(
      "Usage: pagesim config [--dump] [--preset NAME] [--config FILE] [--set KEY=VALUE]...\n"
      "                      [--out FILE]\n\n"
      "Prints the effective configuration as TOML: every key with its documentation, its\n"
      "value after the built-in defaults, --preset, --config and --set, and the default\n"
      "where it differs. A preset is named in the header (--preset host: what CPUID told\n"
      "and what was assumed). The output loads back with --config. Unknown keys and\n"
      "impossible values are errors naming the key.\n\nOptions");
  desc.add_options()("help,h", "show this help")(
      "dump", "print the effective configuration (the default action)")(
      "out", po::value<std::string>()->value_name("FILE"),
      "write it to FILE instead of stdout (through a temporary file renamed over FILE; a device "
      "or FIFO is written in place)");
  add_config_options(desc);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "pagesim config: " << e.what() << "\n(see pagesim config --help)\n";
    return kExitUsage;
  }
  if (vm.count("help") != 0) {
    std::cout << desc << "\n";
    return 0;
  }
  Configuration c;
  try {
    load_configuration(c, vm);
  } catch (const config::ConfigError& e) {
    std::cerr << "pagesim config: configuration error:\n" << e.what() << "\n";
    return kExitUsage;
  }
  if (vm.count("out") != 0) {
    try {
      write_file_atomically(vm["out"].as<std::string>(), c.dump());
    } catch (const OutputError& e) {
      std::cerr << "pagesim config: " << e.what() << "\n";
      return kExitFailure;
    }
  } else {
    std::cout << c.dump();
  }
  return 0;
}

}  // namespace pagesim::cli
