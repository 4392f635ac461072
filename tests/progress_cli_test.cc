// Progress lines of the commands that can run for a while (issue 19): `trace stat`,
// `trace info`, `trace convert` (traces/progress_line.h) and `replay`, forced with
// `--progress always` (the default, auto, draws only on a terminal). The first line comes
// after half a second, so each run here is made to take longer than that: `trace stat`
// computes exact reuse distances, about 1.5 M records/s on the development VM, and `replay`
// of uniform accesses over 1 GiB walks on nearly every access.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

TEST(Progress, TraceStatShowsCountRateTimeAndTimeLeftThenClearsTheLine) {
  // A generator knows its length: the share done and the time left are shown.
  auto r =
      run_command(pagesim("trace stat gen:uniform:count=4000000,footprint=1GiB --progress always"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::regex_search(
      r.output, std::regex(R"(\rpagesim trace stat: [0-9.]+ of 4\.0 M records read \([0-9]+ %\), )"
                           R"([0-9.]+ M/s, [0-9]+ s, [0-9]+ s left)")))
      << r.output;
  // The line is cleared before the statistics, which start on a clean line.
  EXPECT_NE(r.output.find("\r" + std::string(79, ' ') + "\r"), std::string::npos);
  r = run_command(pagesim("trace stat gen:uniform:count=4000000,footprint=1GiB --progress never"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("records read"), std::string::npos) << r.output;
}

TEST(Progress, ABadWhenIsAUsageErrorNamingTheOption) {
  TempDir dir;
  for (const std::string command : {std::string("trace info gen:uniform:count=1"),
                                    std::string("trace stat gen:uniform:count=1"),
                                    "trace convert gen:uniform:count=1 " + dir.file("t.trace")}) {
    const auto r = run_command(pagesim(command + " --progress sometimes"));
    EXPECT_EQ(r.status, 2) << command << ": " << r.output;
    EXPECT_NE(r.output.find("--progress: 'sometimes' is not auto, always or never"),
              std::string::npos)
        << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("t.trace")));
}

}  // namespace
}  // namespace pagesim::testing
