#include "sim/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace pagesim {
namespace {

TEST(AtomicFile, WritesWholeFileAndLeavesNoTemporary) {
  auto dir = std::filesystem::temp_directory_path() / ("pagesim_af_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "out.json").string();
  write_file_atomically(path, "{}\n");
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "{}\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
  std::filesystem::remove_all(dir);
}

TEST(AtomicFile, UnwritableDirectoryThrowsNamingThePath) {
  try {
    write_file_atomically("/nonexistent-dir/out.json", "x");
    FAIL() << "expected OutputError";
  } catch (const OutputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/out.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace pagesim
