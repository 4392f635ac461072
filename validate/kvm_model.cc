#include "validate/kvm_model.h"

#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>

#include "validate/guest_page_tables.h"

namespace pagesim::validate {

namespace {

constexpr std::uint64_t k4K = 4096;
constexpr unsigned kPrefetch = 8;  // PTE_PREFETCH_NUM

unsigned idx(Gva gva, int level) { return GuestPageTables::index(gva, level); }

}  // namespace

const std::vector<std::string>& predicted_counters() {
  static const std::vector<std::string> names = {
      "vcpu.exits",
      "vcpu.pf_taken",
      "vcpu.pf_fixed",
      "vcpu.pf_spurious",
      "vcpu.pf_emulate",
      "vcpu.mmio_exits",
      "kvmmmu.kvm_mmu_pagetable_walk",
      "kvmmmu.kvm_mmu_get_page",
      "kvmmmu.kvm_mmu_get_page.created",
      "vm.mmu_cache_miss",
      "kvmmmu.kvm_mmu_set_spte",
      "vm.pages_4k",
      "vm.pages_2m",
      "kvmmmu.kvm_mmu_prepare_zap_page",
      "vm.mmu_shadow_zapped",
      "kvmmmu.kvm_mmu_zap_all_fast",
      "vm.mmu_recycled",
      "kvmmmu.kvm_mmu_unsync_page",
      "vm.mmu_unsync",
      "kvmmmu.kvm_mmu_sync_page",
      "vm.remote_tlb_flush_requests",
      "kvm.kvm_mmio",
      "rusage.minflt",
  };
  return names;
}

KvmShadowModel::KvmShadowModel(const Scenario& s, const GuestLayout& layout, HostParams host)
    : m_s(s), m_layout(layout), m_hp(host) {
  // What the VMM wrote before the guest ran is resident: GDT, IDT, TSS, code (slot 0),
  // the command list area and every table page (slot 1). Everything else is not.
  for (std::uint64_t g : {kGdtGpa, kIdtGpa, kTssGpa, kCodeGpa}) m_host[g >> 12] = Host::kPresent;
  for (std::uint64_t g = kSysSlotGpa; g < layout.pool_next().value(); g += k4K) {
    m_host[g >> 12] = Host::kPresent;
  }
  m_root = SpKey{layout.tree(0).root().value() >> 12, 4, false};
}

std::uint64_t KvmShadowModel::max_mmu_pages() const {
  const std::uint64_t pages = (kLowSlotSize + m_layout.sys_bytes() + m_layout.data().size()) / k4K;
  return std::max<std::uint64_t>(64, pages * 20 / 1000);
}

void KvmShadowModel::count(const char* name, std::int64_t n) { (*m_out)[name] += n; }

std::uint64_t KvmShadowModel::read_gpte(std::uint64_t table_gfn, unsigned index) const {
  const std::uint8_t* p = m_layout.gpa_ptr(Gpa(table_gfn << 12));
  if (p == nullptr) throw std::logic_error("model: guest table outside memory");
  std::uint64_t v;
  std::memcpy(&v, p + 8 * index, 8);
  return v;
}

bool KvmShadowModel::in_slot(std::uint64_t gfn) const {
  return m_layout.gpa_ptr(Gpa(gfn << 12)) != nullptr;
}

bool KvmShadowModel::is_data(std::uint64_t gfn) const {
  const std::uint64_t g = gfn << 12;
  return g >= kDataGpa && g < kDataGpa + m_layout.data().size();
}

KvmShadowModel::Host& KvmShadowModel::host(std::uint64_t gfn) {
  return m_host.try_emplace(gfn, Host::kNone).first->second;
}

// What get_user_pages_fast_only(FOLL_WRITE) finds (kvm_prefetch_pages, the atomic GUP of
// prefetch): a resident page mapped writable in the VMM's page table.
bool KvmShadowModel::host_writable_present(std::uint64_t gfn) {
  return host(gfn) == Host::kPresent;
}

// kvm_mmu_get_shadow_page: a hash hit is reused, a miss creates the page
// (kvmmmu:kvm_mmu_get_page created=1, stat mmu_cache_miss) and, for an indirect page,
// write-protects its guest table (account_shadowed -> kvm_mmu_slot_gfn_write_protect: a
// writable leaf mapping that gfn is made read-only and the TLBs flushed).
KvmShadowModel::Sp& KvmShadowModel::get_sp(const SpKey& key, bool count_get) {
  if (count_get) count("kvmmmu.kvm_mmu_get_page");
  auto it = m_sps.find(key);
  if (it != m_sps.end()) return it->second;
  count("kvmmmu.kvm_mmu_get_page.created");
  count("vm.mmu_cache_miss");
  Sp& sp = m_sps[key];
  m_peak_pages = std::max<std::uint64_t>(m_peak_pages, m_sps.size());
  if (!key.direct) {
    write_protect_gfn(key.gfn);
  }
  return sp;
}

void KvmShadowModel::write_protect_gfn(std::uint64_t gfn) {
  bool protected_any = false;
  for (const Leaf& l : m_rmap[gfn]) {
    Spte& e = m_sps.at(l.sp).e.at(l.index);
    if (e.writable) {
      e.writable = false;
      protected_any = true;
    }
  }
  if (protected_any) count("vm.remote_tlb_flush_requests");
}

// mmu_try_to_unsync_pages: a gfn shadowed only by last-level pages may be written: each
// of its shadow pages goes unsync (kvmmmu:kvm_mmu_unsync_page); a prefetch never unsyncs;
// a gfn shadowed at a higher level stays write-protected.
bool KvmShadowModel::try_unsync(std::uint64_t gfn, bool prefetch) {
  // The shadow pages of gfn are adjacent in m_sps (ordered by gfn first): a lookup, not a
  // scan of every page (a scenario past KVM's limit holds hundreds of thousands).
  std::vector<Sp*> sps;
  for (auto it = m_sps.lower_bound(SpKey{gfn, std::numeric_limits<int>::min(), false});
       it != m_sps.end() && it->first.gfn == gfn; ++it) {
    if (it->first.direct) continue;
    if (it->first.level > 1) return false;
    sps.push_back(&it->second);
  }
  for (Sp* sp : sps) {
    if (sp->unsync) continue;
    if (prefetch) return false;
    sp->unsync = true;
    count("kvmmmu.kvm_mmu_unsync_page");
    count("vm.mmu_unsync");
  }
  return true;
}

// mmu_set_spte: the same SPTE again is RET_PF_SPURIOUS; a new or changed one is set
// (kvmmmu:kvm_mmu_set_spte), added to the rmap and to the pages_4k/pages_2m stats.
void KvmShadowModel::install_leaf(const SpKey& spk, unsigned index, std::uint64_t gfn, int level,
                                  bool writable, bool fault_install) {
  Sp& sp = m_sps.at(spk);
  auto it = sp.e.find(index);
  if (it != sp.e.end() && it->second.leaf && it->second.gfn == gfn &&
      it->second.writable == writable) {
    if (fault_install) count("vcpu.pf_spurious");
    return;
  }
  if (it != sp.e.end()) {
    m_rmap[it->second.gfn].erase(Leaf{spk, index});
  } else {
    count(level == 1 ? "vm.pages_4k" : "vm.pages_2m");
  }
  sp.e[index] = Spte{.leaf = true, .writable = writable, .gfn = gfn, .leaf_level = level};
  m_rmap[gfn].insert(Leaf{spk, index});
  count("kvmmmu.kvm_mmu_set_spte");
  if (fault_install) count("vcpu.pf_fixed");
}

void KvmShadowModel::drop_leaf(const SpKey& spk, unsigned index) {
  Sp& sp = m_sps.at(spk);
  auto it = sp.e.find(index);
  if (it == sp.e.end() || !it->second.leaf) return;
  m_rmap[it->second.gfn].erase(Leaf{spk, index});
  count(it->second.leaf_level == 1 ? "vm.pages_4k" : "vm.pages_2m", -1);
  sp.e.erase(it);
}

// kvm_unmap_gfn_range -> kvm_zap_rmap: every leaf mapping the gfn.
std::size_t KvmShadowModel::zap_gfn(std::uint64_t gfn) {
  const std::set<Leaf> leaves = m_rmap[gfn];
  for (const Leaf& l : leaves) drop_leaf(l.sp, l.index);
  return leaves.size();
}

void KvmShadowModel::load_root() {
  // kvm_mmu_load -> mmu_alloc_shadow_roots: an obsolete (zapped) root is freed first
  // (kvm_mmu_free_obsolete_roots: its zap is traced again when it is freed, and
  // kvm_mmu_commit_zap_page flushes the TLBs before the page is freed).
  bool freed = false;
  for (auto it = m_sps.begin(); it != m_sps.end();) {
    if (it->second.invalid) {
      count("kvmmmu.kvm_mmu_prepare_zap_page");
      count("vm.mmu_shadow_zapped");
      it = m_sps.erase(it);
      freed = true;
    } else {
      ++it;
    }
  }
  if (freed) count("vm.remote_tlb_flush_requests");
  get_sp(m_root, true);
  m_root_loaded = true;
}

void KvmShadowModel::touch(Gva gva, bool write) {
  if (!m_root_loaded) load_root();
  SpKey k = m_root;
  for (int level = 4; level >= 1; --level) {
    const Sp& sp = m_sps.at(k);
    auto it = sp.e.find(idx(gva, level));
    if (it == sp.e.end()) return fault(gva, write);
    if (it->second.leaf) {
      if (write && !it->second.writable) return fault(gva, write);
      return;
    }
    k = it->second.child;
  }
  throw std::logic_error("model: shadow walk past level 1");
}

// FNAME(page_fault): the software walk (FNAME(walk_addr): kvmmmu:kvm_mmu_pagetable_walk),
// kvm_faultin_pfn (GUP: the host's own fault, counted in ru_minflt), FNAME(fetch) (shadow
// pages down to the leaf: kvm_mmu_get_child_sp for every missing link), mmu_set_spte and
// FNAME(pte_prefetch).
void KvmShadowModel::fault(Gva gva, bool write) {
  count("vcpu.pf_taken");
  count("vcpu.exits");
  count("kvmmmu.kvm_mmu_pagetable_walk");
  std::uint64_t table[5] = {0, 0, 0, 0, 0};  // the guest table gfn at each level
  std::uint64_t gpte[5] = {0, 0, 0, 0, 0};
  table[4] = m_root.gfn;
  int guest_leaf = 1;
  for (int level = 4; level >= 1; --level) {
    gpte[level] = read_gpte(table[level], idx(gva, level));
    if ((gpte[level] & kPtePresent) == 0) {
      throw std::logic_error("model: guest page fault (the scenarios map every page)");
    }
    if (level == 2 && (gpte[level] & kPteLarge) != 0) {
      guest_leaf = 2;
      break;
    }
    if (level > 1) table[level - 1] = (gpte[level] & kPteAddrMask) >> 12;
  }
  const std::uint64_t leaf_gfn = guest_leaf == 1 ? (gpte[1] & kPteAddrMask) >> 12
                                                 : ((gpte[2] & kPteAddrMask) >> 12) + idx(gva, 1);
  if (!in_slot(leaf_gfn)) {
    // No memslot: kvm_handle_noslot_fault; without mmio_caching no MMIO SPTE is made and
    // the access is emulated (RET_PF_EMULATE): the emulator walks again to fetch the
    // instruction, and the read goes to the VMM (KVM_EXIT_MMIO, traced as kvm:kvm_mmio
    // when requested and when completed).
    count("vcpu.pf_emulate");
    count("vcpu.mmio_exits");
    count("kvmmmu.kvm_mmu_pagetable_walk");
    count("kvm.kvm_mmio", 2);
    return;
  }

  // kvm_faultin_pfn: the host side.
  bool host_writable = true;
  const bool data = is_data(leaf_gfn);
  const bool huge_host = data && m_s.host_thp && m_s.backing == HostMemory::Kind::kAnon;
  if (data && m_s.backing == HostMemory::Kind::kAnon) {
    Host& h = host(leaf_gfn);
    if (h == Host::kNone) {
      // do_anonymous_page: a read maps the shared zero page, a store a new page; with
      // THP one huge page (or the huge zero page) covers the 2 MiB.
      count("rusage.minflt");
      const Host now = write ? Host::kPresent : Host::kZero;
      if (huge_host) {
        m_host_huge.insert(leaf_gfn >> 9);
        for (std::uint64_t g = leaf_gfn & ~511ull; g < (leaf_gfn | 511); ++g) host(g) = now;
        host(leaf_gfn | 511) = now;
      } else {
        h = now;
      }
    } else if (h == Host::kZero && write) {
      // Copy-on-write of the zero page (wp_page_copy): mmu_notifier invalidation zaps the
      // read-only SPTE and flushes; KVM sees the invalidation race its fault
      // (mmu_invalidate_retry_gfn) and returns RET_PF_RETRY: the guest faults once more.
      count("rusage.minflt");
      if (zap_gfn(leaf_gfn) != 0) count("vm.remote_tlb_flush_requests");
      h = Host::kPresent;
      count("vcpu.pf_taken");
      count("vcpu.exits");
      count("kvmmmu.kvm_mmu_pagetable_walk");
    }
    host_writable = host(leaf_gfn) == Host::kPresent;
  } else if (data) {
    Host& h = host(leaf_gfn);
    if (h == Host::kNone || h == Host::kCached) {
      count("rusage.minflt");  // shmem_fault: allocate, or map the page cache's page
      h = Host::kPresent;
    }
  }

  // FNAME(fetch): indirect shadow pages down to the guest leaf's level.
  SpKey k = m_root;
  for (int level = 4; level > guest_leaf; --level) {
    Sp& sp = m_sps.at(k);
    const unsigned i = idx(gva, level);
    auto it = sp.e.find(i);
    if (it == sp.e.end()) {
      const SpKey child{table[level - 1], level - 1, false};
      get_sp(child, true);
      m_sps.at(k).e[i] = Spte{.leaf = false, .writable = true, .gfn = child.gfn, .child = child};
      k = child;
    } else {
      k = it->second.child;
    }
  }
  const bool guest_w = (gpte[guest_leaf] & kPteWritable) != 0 &&
                       (gpte[guest_leaf] & kPteDirty) != 0;  // protect_clean_gpte
  bool writable = guest_w && host_writable;
  if (writable && !try_unsync(leaf_gfn, false)) writable = false;
  if (guest_leaf == 2 && huge_host && m_host_huge.count(leaf_gfn >> 9) != 0) {
    // kvm_mmu_hugepage_adjust: guest and host both map 2 MiB: a 2 MiB SPTE.
    install_leaf(k, idx(gva, 2), leaf_gfn & ~511ull, 2, writable, true);
    return;
  }
  if (guest_leaf == 2) {
    // A guest huge page over smaller host pages: a direct shadow page (FNAME(fetch)'s
    // second loop, role.direct).
    const unsigned i = idx(gva, 2);
    const SpKey child{leaf_gfn & ~511ull, 1, true};
    if (m_sps.at(k).e.find(i) == m_sps.at(k).e.end()) {
      get_sp(child, true);
      m_sps.at(k).e[i] = Spte{.leaf = false, .writable = true, .gfn = child.gfn, .child = child};
    }
    k = child;
  }
  install_leaf(k, idx(gva, 1), leaf_gfn, 1, writable, true);
  prefetch(k, idx(gva, 1));
}

// FNAME(pte_prefetch) / __direct_pte_prefetch: the aligned group of 8 around the new leaf.
// Indirect: in index order, each non-present entry whose guest PTE is present and accessed
// and whose page the atomic GUP finds writable is mapped; the first one that fails ends
// the loop. Direct: runs of non-present entries; each run maps the prefix the atomic GUP
// returns, and a run that gets none ends it.
void KvmShadowModel::prefetch(const SpKey& spk, unsigned index) {
  if (spk.level != 1) return;
  const unsigned first = index & ~(kPrefetch - 1);
  if (spk.direct) {
    auto run = [&](unsigned from, unsigned to) {
      unsigned got = 0;
      for (unsigned i = from; i < to && host_writable_present(spk.gfn + i); ++i) ++got;
      for (unsigned i = from; i < from + got; ++i) {
        install_leaf(spk, i, spk.gfn + i, 1, try_unsync(spk.gfn + i, true), false);
      }
      return got != 0;
    };
    constexpr unsigned kNone = ~0u;
    unsigned start = kNone;
    for (unsigned i = first; i < first + kPrefetch; ++i) {
      const bool present = m_sps.at(spk).e.count(i) != 0 || i == index;
      if (present) {
        if (start == kNone) continue;
        if (!run(start, i)) return;
        start = kNone;
      } else if (start == kNone) {
        start = i;
      }
    }
    if (start != kNone) run(start, first + kPrefetch);
    return;
  }
  for (unsigned i = first; i < first + kPrefetch; ++i) {
    if (i == index || m_sps.at(spk).e.count(i) != 0) continue;
    const std::uint64_t g = read_gpte(spk.gfn, i);
    if ((g & kPtePresent) == 0 || (g & kPteAccessed) == 0) return;  // prefetch_invalid_gpte
    const std::uint64_t gfn = (g & kPteAddrMask) >> 12;
    if (!in_slot(gfn) || !host_writable_present(gfn)) return;
    bool writable = (g & kPteWritable) != 0 && (g & kPteDirty) != 0;
    if (writable && !try_unsync(gfn, true)) writable = false;
    install_leaf(spk, i, gfn, 1, writable, false);
  }
}

// kvm_sync_page (kvmmmu:kvm_mmu_sync_page): every present SPTE re-read from the guest PTE
// (FNAME(sync_spte)); one whose guest PTE is gone or points elsewhere is dropped and the
// TLBs flushed; the page is synced and its gfn write-protected again (a flush if a
// writable leaf mapped it).
void KvmShadowModel::sync_page(const SpKey& key) {
  Sp& sp = m_sps.at(key);
  count("kvmmmu.kvm_mmu_sync_page");
  count("vm.mmu_unsync", -1);
  write_protect_gfn(key.gfn);
  bool dropped = false;
  std::vector<unsigned> drop;
  for (const auto& [i, e] : sp.e) {
    if (!e.leaf) continue;
    const std::uint64_t g = read_gpte(key.gfn, i);
    if ((g & kPtePresent) == 0 || ((g & kPteAddrMask) >> 12) != e.gfn) drop.push_back(i);
  }
  for (unsigned i : drop) {
    drop_leaf(key, i);
    dropped = true;
  }
  if (dropped) count("vm.remote_tlb_flush_requests");
  sp.unsync = false;
}

// kvm_set_cr3 without PCID: the same CR3 syncs the unsync pages under the root
// (kvm_mmu_sync_roots); another one switches roots (kvm_mmu_new_pgd): a root cached in
// prev_roots comes back at once, else the next entry allocates it (mmu_alloc_shadow_roots).
void KvmShadowModel::cr3_write(Gpa root) {
  const SpKey nk{root.value() >> 12, 4, false};
  if (nk != m_root) {
    auto it = std::find(m_prev_roots.begin(), m_prev_roots.end(), nk);
    if (it != m_prev_roots.end()) {
      *it = m_root;
      m_root = nk;
    } else {
      m_prev_roots.insert(m_prev_roots.begin(), m_root);
      if (m_prev_roots.size() > 3) m_prev_roots.pop_back();
      m_root = nk;
      m_root_loaded = false;
      return;
    }
  }
  // mmu_sync_children over the pages reachable from the root.
  std::set<SpKey> seen;
  std::vector<SpKey> unsync;
  std::function<void(const SpKey&)> visit = [&](const SpKey& k) {
    if (!seen.insert(k).second) return;
    const Sp& sp = m_sps.at(k);
    if (sp.unsync) unsync.push_back(k);
    for (const auto& [i, e] : sp.e) {
      if (!e.leaf) visit(e.child);
    }
  };
  if (m_sps.count(m_root) != 0) visit(m_root);
  for (const SpKey& k : unsync) sync_page(k);
}

// kvm_mmu_invlpg: the leaf the address maps, if its shadow page is unsync, is synced from
// the guest PTE (FNAME(sync_spte)): dropped (and flushed) when the PTE changed.
void KvmShadowModel::invlpg(Gva gva) {
  SpKey k = m_root;
  for (int level = 4; level >= 1; --level) {
    const Sp& sp = m_sps.at(k);
    const unsigned i = idx(gva, level);
    auto it = sp.e.find(i);
    if (it == sp.e.end()) return;
    if (it->second.leaf) {
      if (!sp.unsync) return;
      const std::uint64_t g = read_gpte(k.gfn, i);
      if ((g & kPtePresent) == 0 || ((g & kPteAddrMask) >> 12) != it->second.gfn) {
        drop_leaf(k, i);
        count("vm.remote_tlb_flush_requests");
      }
      return;
    }
    k = it->second.child;
  }
}

// madvise(2) on the first r.pages data pages (one call per contiguous run, as the VMM
// does), and the mmu_notifier invalidation each causes (kvm_mmu_notifier_invalidate_range_
// start -> kvm_unmap_gfn_range: the leaves zapped, one flush per call that zapped any).
void KvmShadowModel::madvise(const ReclaimAction& r, int* errno_out) {
  const bool anon = m_s.backing == HostMemory::Kind::kAnon;
  // MADV_FREE is for private anonymous memory only; MADV_REMOVE for shared memory only.
  if ((r.action == Madvise::kFree && !anon) || (r.action == Madvise::kRemove && anon)) {
    *errno_out = EINVAL;
    return;
  }
  // MADV_PAGEOUT of anonymous memory without swap: shrink_folio_list cannot add_to_swap
  // and keeps the folio mapped: nothing happens. Shmem folios are unmapped one by one
  // (try_to_unmap: one invalidation each) before shmem_writeout fails without swap.
  if (r.action == Madvise::kPageout && anon) return;
  const auto pages = data_pages(m_s);
  std::size_t zapped_in_call = 0;
  std::uint64_t prev_gfn = 0;
  auto end_call = [&] {
    if (zapped_in_call != 0) count("vm.remote_tlb_flush_requests");
    zapped_in_call = 0;
  };
  for (std::uint64_t i = 0; i < r.pages; ++i) {
    const std::uint64_t gfn = pages[i].gpa.value() >> 12;
    const bool per_page = r.action == Madvise::kPageout;
    if (i != 0 && (per_page || gfn != prev_gfn + 1)) end_call();
    prev_gfn = gfn;
    Host& h = host(gfn);
    if (per_page && h != Host::kPresent) continue;
    zapped_in_call += zap_gfn(gfn);
    switch (r.action) {
      case Madvise::kDontneed:
        h = anon ? Host::kNone : Host::kCached;
        break;
      case Madvise::kFree:
        break;  // lazily freed: stays mapped (writable, clean) until reclaim
      case Madvise::kPageout:
        h = Host::kCached;
        break;
      case Madvise::kRemove:
        h = Host::kNone;
        break;
    }
  }
  end_call();
}

// KVM_SET_USER_MEMORY_REGION delete: kvm_arch_flush_shadow_memslot with the
// KVM_X86_QUIRK_SLOT_ZAP_ALL quirk (the default) is kvm_mmu_zap_all_fast: every shadow
// page is zapped (a root in use is only invalidated, and zapped again when the vCPU frees
// it at its next entry); the re-add creates nothing.
void KvmShadowModel::memslot_readd() {
  count("kvmmmu.kvm_mmu_zap_all_fast");
  count("kvmmmu.kvm_mmu_prepare_zap_page", static_cast<std::int64_t>(m_sps.size()));
  count("vm.mmu_shadow_zapped", static_cast<std::int64_t>(m_sps.size()));
  bool any = false;
  for (auto& [k, sp] : m_sps) {
    for (const auto& [i, e] : sp.e) {
      if (e.leaf) {
        count(e.leaf_level == 1 ? "vm.pages_4k" : "vm.pages_2m", -1);
        any = true;
      }
    }
    if (sp.unsync) count("vm.mmu_unsync", -1);
  }
  if (any || !m_sps.empty()) count("vm.remote_tlb_flush_requests");
  std::map<SpKey, Sp> roots;
  for (auto& [k, sp] : m_sps) {
    const bool in_use =
        k == m_root || std::find(m_prev_roots.begin(), m_prev_roots.end(), k) != m_prev_roots.end();
    if (in_use) roots[k] = Sp{.e = {}, .unsync = false, .invalid = true};
  }
  m_sps = std::move(roots);
  m_rmap.clear();
  m_prev_roots.clear();
  m_root_loaded = false;
}

void KvmShadowModel::run_commands(const CommandList& l, bool /*warm_up*/) {
  replay_commands(l, CommandHandlers{
                         .touch = [this](Gva gva, bool write) { touch(gva, write); },
                         .store =
                             [this](Gva target, std::uint64_t value) {
                               touch(target, true);
                               // The tables are identity-mapped: the GVA is the GPA.
                               std::uint8_t* p = m_layout.gpa_ptr(Gpa(target.value()));
                               if (p == nullptr) {
                                 throw std::logic_error("model: store outside guest memory");
                               }
                               std::memcpy(p, &value, 8);
                             },
                         .invlpg = [this](Gva gva) { invlpg(gva); },
                         .cr3 = [this](Gpa root) { cr3_write(root); },
                     });
}

std::vector<Counters> KvmShadowModel::predict(const std::vector<PhaseInfo>& phases) {
  m_out = &m_scratch;
  run_commands(m_layout.warm_up_commands(), true);
  CommandList again;
  again.end();
  run_commands(again, true);
  std::vector<Counters> out;
  for (const PhaseInfo& p : phases) {
    Counters c;
    for (const std::string& n : predicted_counters()) c[n] = 0;
    m_out = &c;
    switch (p.kind) {
      case PhaseInfo::Kind::kMadvise: {
        int err = 0;
        madvise(p.madvise, &err);
        break;
      }
      case PhaseInfo::Kind::kMemslotReadd:
        memslot_readd();
        break;
      default:
        run_commands(m_layout.commands(p), false);
    }
    out.push_back(std::move(c));
  }
  m_out = &m_scratch;
  return out;
}

}  // namespace pagesim::validate
