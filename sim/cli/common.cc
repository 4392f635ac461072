#include <unistd.h>

#include <filesystem>

#include "sim/atomic_file.h"
#include "sim/cli/commands.h"

namespace pagesim::cli {

namespace po = boost::program_options;

void add_config_options(po::options_description& desc) {
  desc.add_options()("config", po::value<std::string>()->value_name("FILE"),
                     "TOML configuration file (keys as `pagesim config --dump` prints them)")(
      "set", po::value<std::vector<std::string>>()->composing()->value_name("KEY=VALUE"),
      "override one key, after --config; repeatable");
}

void load_configuration(Configuration& c, const po::variables_map& vm) {
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

void check_output_path(const std::string& path) {
  std::filesystem::path p(path);
  std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw OutputError(path + ": cannot write: folder " + dir.string() + " does not exist");
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    throw OutputError(path + ": cannot write: folder " + dir.string() + " is not writable");
  }
  if (std::filesystem::is_directory(p, ec)) {
    throw OutputError(path + ": cannot write: it is a folder");
  }
}

}  // namespace pagesim::cli
