// The host's page aging on the guest's memory: mmu_notifier_clear_young calls that reach
// KVM (tracepoint kvm:kvm_age_hva), counted on every CPU. They come from whoever ages the
// host's pages (kswapd's LRU scan, MGLRU, DAMON's kdamond sampling physical memory), run in
// that thread, not the VMM's, so the VMM's per-thread counters never see them.
//
// KVM's answer (kvm_age_gfn -> kvm_rmap_age_gfn_range) clears the Accessed bit of each
// shadow-present SPTE of the range when SPTEs carry one (shadow paging:
// shadow_accessed_mask): no fault follows, but the next fault that rewrites such a leaf
// (mmu_set_spte) finds it changed, so a fault that would be RET_PF_SPURIOUS is
// RET_PF_FIXED, with one more kvm_mmu_set_spte. docs/validation.md, "Host page aging".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pagesim::validate {

// The perf filter that keeps the kvm_age_hva events overlapping any of `ranges`
// ([start, start + bytes) in the VMM's address space).
std::string age_hva_filter(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges);

class HostAging {
 public:
  // Counts kvm:kvm_age_hva on every online CPU, filtered to `ranges`. When that cannot be
  // opened (no tracepoint, no permission for CPU-wide counting), count() is nullopt and
  // unavailable() says why.
  explicit HostAging(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges);
  ~HostAging();
  HostAging(const HostAging&) = delete;
  HostAging& operator=(const HostAging&) = delete;

  // Notifications since construction (nullopt: not counted).
  std::optional<std::int64_t> count() const;
  const std::string& unavailable() const { return m_unavailable; }

 private:
  std::vector<int> m_fds;
  std::string m_unavailable;
};

}  // namespace pagesim::validate
