// ShadowParams' schema: every key under shadow., its defaults, and the checks.
#include "models/shadow/shadow_params.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace pagesim::shadow {
namespace {

TEST(ShadowParams, KeysDefaultsAndChecks) {
  ShadowParams p;
  config::Schema s;
  s.group("shadow", p);
  std::set<std::string> keys;
  for (const auto& f : s.fields()) {
    keys.insert(f->key());
    EXPECT_FALSE(f->doc().empty()) << f->key();
  }
  EXPECT_EQ(keys,
            (std::set<std::string>{
                "shadow.wp_policy", "shadow.cache_roots", "shadow.prefetch", "shadow.memslot_zap",
                "shadow.max_pages", "shadow.new_root_exit", "shadow.recycle_unsync_children",
                "shadow.vcpu_root_copy", "shadow.aging", "shadow.aging_interval",
                "shadow.page_fault_latency", "shadow.wp_write_latency", "shadow.cr3_write_latency",
                "shadow.invlpg_latency", "shadow.sync_page_latency"}));
  // KVM's behaviour by default: unsync pages, cached roots, prefetch, its page limit.
  EXPECT_EQ(s.find("shadow.wp_policy")->value_text(), "\"unsync\"");
  EXPECT_EQ(s.find("shadow.cache_roots")->value_text(), "true");
  EXPECT_EQ(s.find("shadow.max_pages")->value_text(), "0");
  EXPECT_EQ(s.find("shadow.memslot_zap")->value_text(), "\"all\"");  // the quirk's default
  EXPECT_EQ(s.find("shadow.aging")->value_text(), "false");
  EXPECT_EQ(s.find("shadow.new_root_exit")->value_text(), "false");           // VMX, SVM
  EXPECT_EQ(s.find("shadow.recycle_unsync_children")->value_text(), "true");  // Linux's source
  EXPECT_EQ(s.find("shadow.vcpu_root_copy")->value_text(), "false");  // VMX, SVM: the root itself

  s.set("shadow.wp_policy", "emulate", "test");
  EXPECT_EQ(p.wp_policy, WpPolicy::kEmulate);
  EXPECT_THROW(s.set("shadow.wp_policy", "trace", "test"), config::ConfigError);
  s.set("shadow.aging_interval", "0", "test");
  EXPECT_THROW(s.validate(), config::ConfigError);
}

}  // namespace
}  // namespace pagesim::shadow
