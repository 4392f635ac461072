// The prediction from the kernel's rules: a small model of KVM's shadow MMU (Linux
// arch/x86/kvm/mmu/mmu.c and paging_tmpl.h, 6.x) and of the host's memory (mm/) for the
// guest pagesim-validate runs, replaying the same command lists over the same guest page
// tables (GuestLayout) and counting what each KVM function counts. docs/validation.md
// explains every rule with the function it comes from; the functions are named at each
// rule below. It covers what the scenarios exercise: 4-level guest paging with 4 KiB and
// 2 MiB guest pages, one vCPU, no PCID, unsync of last-level tables, mmio_caching off.
//
// Not modelled (and why a scenario avoids it): recycling of shadow pages when more than
// n_max_mmu_pages exist (make_mmu_pages_available: the model reports when it would start,
// see would_recycle()), write flooding of upper-level tables, guest protection faults.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "validate/kvm_stats.h"
#include "validate/machine.h"
#include "validate/scenario.h"

namespace pagesim::validate {

struct HostParams {
  bool mmio_caching = false;  // kvm.mmio_caching
};

class KvmShadowModel {
 public:
  KvmShadowModel(const Scenario& s, const GuestLayout& layout, HostParams host);

  // Replays the warm-up (not reported), then predicts each phase's counters.
  std::vector<Counters> predict(const std::vector<PhaseInfo>& phases);

  // Shadow pages the model holds at most, and KVM's limit for these memslots
  // (kvm_mmu_calculate_default_mmu_pages: 20 per mille of the slots' pages, at least 64).
  std::uint64_t peak_shadow_pages() const { return m_peak_pages; }
  std::uint64_t max_mmu_pages() const;
  // True when KVM would have recycled shadow pages (fewer than 5 left free): the
  // prediction then misses kvm_mmu_zap_oldest_mmu_pages's zaps.
  bool would_recycle() const { return m_peak_pages + 5 > max_mmu_pages(); }

 private:
  enum class Host { kNone, kZero, kPresent, kCached };
  struct SpKey {
    std::uint64_t gfn;
    int level;
    bool direct;
    auto operator<=>(const SpKey&) const = default;
  };
  struct Spte {
    bool leaf = false;
    bool writable = false;
    std::uint64_t gfn = 0;  // leaf: the page mapped; else the child page's key gfn
    int leaf_level = 1;     // leaf: 1 (4 KiB) or 2 (2 MiB)
    SpKey child{};
  };
  struct Sp {
    std::map<unsigned, Spte> e;
    bool unsync = false;
    bool invalid = false;
  };
  struct Leaf {
    SpKey sp;
    unsigned index;
    auto operator<=>(const Leaf&) const = default;
  };

  void run_commands(const CommandList& l, bool warm_up);
  void touch(Gva gva, bool write);
  void fault(Gva gva, bool write);
  std::uint64_t read_gpte(std::uint64_t table_gfn, unsigned index) const;
  bool in_slot(std::uint64_t gfn) const;
  bool is_data(std::uint64_t gfn) const;
  Host& host(std::uint64_t gfn);
  bool host_writable_present(std::uint64_t gfn);
  Sp& get_sp(const SpKey& key, bool count);
  void install_leaf(const SpKey& sp, unsigned index, std::uint64_t gfn, int level, bool writable,
                    bool fault_install);
  bool try_unsync(std::uint64_t gfn, bool prefetch);
  void drop_leaf(const SpKey& sp, unsigned index);
  std::size_t zap_gfn(std::uint64_t gfn);
  void prefetch(const SpKey& sp, unsigned index);
  void cr3_write(Gpa root);
  void sync_page(const SpKey& key);
  // Every writable shadow leaf mapping `gfn` made read-only (rmap_write_protect); a remote
  // TLB flush request when any was writable.
  void write_protect_gfn(std::uint64_t gfn);
  void invlpg(Gva gva);
  void madvise(const ReclaimAction& r, int* errno_out);
  void memslot_readd();
  void load_root();
  void count(const char* name, std::int64_t n = 1);

  const Scenario& m_s;
  const GuestLayout& m_layout;
  HostParams m_hp;
  Counters* m_out = nullptr;
  Counters m_scratch;
  std::map<SpKey, Sp> m_sps;
  std::map<std::uint64_t, std::set<Leaf>> m_rmap;  // gfn -> leaves mapping it
  std::map<std::uint64_t, Host> m_host;
  std::set<std::uint64_t> m_host_huge;  // data 2 MiB regions backed by a host huge page
  SpKey m_root{};
  bool m_root_loaded = false;
  std::vector<SpKey> m_prev_roots;  // KVM's prev_roots (3)
  std::uint64_t m_peak_pages = 0;
};

// The counters the model predicts, in report order.
const std::vector<std::string>& predicted_counters();

}  // namespace pagesim::validate
