// EptParams: the ept.* keys and their checks.
#include "models/ept/ept_params.h"

#include <gtest/gtest.h>

#include "base/config/schema.h"

namespace pagesim::ept {
namespace {

TEST(EptParams, SchemaKeysAndChecks) {
  EptParams p;
  config::Schema s;
  s.group("ept", p);
  s.set("ept.format", "npt", "--set");
  EXPECT_EQ(p.format, NestedFormat::kNpt);
  s.set("ept.levels", "5", "--set");
  EXPECT_EQ(p.levels, 5u);
  s.set("ept.ad_bits", "false", "--set");
  EXPECT_FALSE(p.ad_bits);
  EXPECT_NO_THROW(s.validate());
  EXPECT_THROW(s.set("ept.format", "svm", "--set"), config::ConfigError);
  s.set("ept.levels", "3", "--set");
  EXPECT_THROW(s.validate(), config::ConfigError);
}

}  // namespace
}  // namespace pagesim::ept
