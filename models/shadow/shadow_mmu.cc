#include "models/shadow/shadow_mmu.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "base/hex.h"

namespace pagesim::shadow {

namespace pte = paging::pte;

namespace {

constexpr unsigned kGfnShift = 12;
// KVM_MIN_FREE_MMU_PAGES and KVM_REFILL_PAGES (arch/x86/kvm/mmu/mmu.c).
constexpr std::uint64_t kMinFreePages = 5;
constexpr std::uint64_t kRefillPages = 25;
// KVM_PERMILLE_MMU_PAGES and KVM_MIN_ALLOC_MMU_PAGES (arch/x86/include/asm/kvm_host.h).
constexpr std::uint64_t kPermilleMmuPages = 20;
constexpr std::uint64_t kMinAllocMmuPages = 64;
// Emulated writes to an upper-level shadow page, with no fault through it, that zap it
// (detect_write_flooding).
constexpr std::uint8_t kFloodWrites = 3;

// The bits of a leaf made from guest rights `access` (make_spte): the host frame, present,
// user if allowed, XD unless execution is allowed, PS above level 1, A unless speculative,
// R/W and D when writable.
std::uint64_t make_leaf(Hpa page, unsigned level, pte::Rights access, bool writable,
                        bool accessed) {
  std::uint64_t spte =
      (page.value() & pte::page_address_mask(pte::leaf_page_size(level))) | pte::kPresent;
  if ((access & pte::kAllowUser) != 0) {
    spte |= pte::kUser;
  }
  if ((access & pte::kAllowExecute) == 0) {
    spte |= pte::kXd;
  }
  if (level > pte::kPt) {
    spte |= pte::kPs;
  }
  if (accessed) {
    spte |= pte::kAccessed;
  }
  if (writable) {
    spte |= pte::kRw | pte::kDirty;
  }
  return spte;
}

// KVM's need_remote_flush: a present entry that went away, moved, or lost a right.
bool needs_flush(std::uint64_t old_spte, std::uint64_t new_spte) {
  if ((old_spte & pte::kPresent) == 0) {
    return false;
  }
  if ((new_spte & pte::kPresent) == 0) {
    return true;
  }
  if (((old_spte ^ new_spte) & pte::kAddressMask) != 0) {
    return true;
  }
  const std::uint64_t perms_old = (old_spte & (pte::kRw | pte::kUser)) | (~old_spte & pte::kXd);
  const std::uint64_t perms_new = (new_spte & (pte::kRw | pte::kUser)) | (~new_spte & pte::kXd);
  return (perms_old & ~perms_new) != 0;
}

// FNAME(protect_clean_gpte): no write through a shadow leaf before the guest leaf is dirty.
pte::Rights protect_clean(pte::Rights access, std::uint64_t gpte) {
  return (gpte & pte::kDirty) != 0 ? access : static_cast<pte::Rights>(access & ~pte::kAllowWrite);
}

std::uint64_t pages_per(unsigned level) { return std::uint64_t{1} << (9 * (level - 1)); }

}  // namespace

ShadowMmu::ShadowMmu(const ShadowParams& params, const host::VmExitParams& exits, unsigned levels,
                     ShadowVmm& vmm, mem::PhysicalMemory& memory, mem::FrameAllocator& frames,
                     host::VmExitStats& exit_stats, stats::Group* parent)
    : m_params(params),
      m_exit_params(exits),
      m_levels(pte::checked_levels(levels, "guest.levels")),
      m_vmm(vmm),
      m_memory(memory),
      m_frames(frames),
      m_exits(exit_stats),
      m_max_pages(params.max_pages != 0 ? params.max_pages
                                        : std::max(vmm.memslot_pages() * kPermilleMmuPages / 1000,
                                                   kMinAllocMmuPages)),
      m_stats(parent, [this] { return static_cast<double>(m_live); }) {}

// ---- Small helpers.

void ShadowMmu::count_exit(stats::Counter& reason, Cycles cycles) {
  ++m_exits.total;
  ++reason;
  m_exits.cycles += cycles.count();
}

std::uint32_t ShadowMmu::child_of(std::uint64_t spte) const {
  return m_by_frame.at((spte & pte::kAddressMask) >> kGfnShift);
}

std::uint64_t ShadowMmu::read_guest(Gpa gpa, Cycles& cycles, bool& host_fault) {
  const auto b = m_vmm.fault_in(gpa, AccessKind::kRead, cycles, host_fault);
  if (!b) {
    throw std::runtime_error("KVM's walk of the guest page table: the entry at GPA " +
                             hex(gpa.value()) +
                             " is in no memslot (MMIO: deleted or moved by !memslot?); a guest "
                             "kernel cannot keep page tables there");
  }
  return m_memory.read_u64(b->hpa);
}

void ShadowMmu::write_guest(Gpa gpa, std::uint64_t value, Cycles& cycles, bool& host_fault) {
  const auto b = m_vmm.fault_in(gpa, AccessKind::kWrite, cycles, host_fault);
  if (!b) {
    throw std::runtime_error("KVM's update of a guest page-table entry: GPA " + hex(gpa.value()) +
                             " is in no memslot (MMIO)");
  }
  m_memory.write_u64(b->hpa, value);
}

// ---- Roots.

bool ShadowMmu::load_root(Gpa guest_root) {
  if (m_obsolete_roots != 0) {
    // The roots KVM held when every page was zapped (the one in use and the cached
    // prev_roots, each with a root_count): it only invalidated them then, and frees them
    // now, at the vCPU's next entry (kvm_mmu_free_obsolete_roots frees the current root and
    // every obsolete prev_root): a second kvm_mmu_prepare_zap_page of each, committed with
    // one flush. Counted as KVM counts them; the prev_roots are invalid from now on.
    m_stats.zaps += m_obsolete_roots;
    ++m_stats.flush_requests;
    m_obsolete_roots = 0;
    m_prev_roots.clear();
  }
  bool created = false;
  make_pages_available();
  m_root = get_page(guest_root.value() >> kGfnShift, m_levels, false, pte::kAllRights, created);
  m_guest_root = guest_root;
  m_pages[m_root].write_flooding = 0;
  if (created) {
    ++m_stats.roots_created;
  }
  return created;
}

void ShadowMmu::switch_root(Gpa guest_root) {
  const bool had_root = root_loaded();
  const Gpa old = m_guest_root;
  const auto cached = std::find(m_prev_roots.begin(), m_prev_roots.end(), guest_root.value());
  if (cached != m_prev_roots.end()) {
    const auto it =
        m_hash.find(key(guest_root.value() >> kGfnShift, m_levels, false, pte::kAllRights));
    if (it != m_hash.end() && m_pages[it->second].live) {
      // fast_pgd_switch: a cached root comes back with no lookup.
      // cached_root_find_and_keep_current swaps the current root with prev_roots[0],
      // [1], ... until the one wanted comes up: the roots before it move down one place
      // and the old current root becomes prev_roots[0].
      m_root = it->second;
      m_guest_root = guest_root;
      m_prev_roots.erase(cached);
      if (had_root) {
        m_prev_roots.insert(m_prev_roots.begin(), old.value());
      }
      return;
    }
    m_prev_roots.erase(cached);  // freed since: looked up again
  }
  if (had_root) {
    m_prev_roots.insert(m_prev_roots.begin(), old.value());
    if (m_prev_roots.size() > kPrevRoots) {
      m_prev_roots.pop_back();  // kvm_mmu_free_roots(KVM_MMU_ROOT_CURRENT) of the oldest
    }
  }
  // fast_pgd_switch found no usable root: kvm_mmu_new_pgd returns with none, and
  // kvm_mmu_reload -> kvm_mmu_load builds it at the next VM entry.
  load_root(guest_root);
  if (m_params.new_root_exit) {
    // The guest runs on only after that entry: one more exit than a CR3 write that kept a
    // root (shadow.new_root_exit, shadow_params.h: measured on kvm_pvm).
    // Its cycles go with the CR3 write's (cr3_write takes m_pending into its exit).
    ++m_exits.total;
    ++m_exits.root_load;
    m_pending += m_exit_params.latency;
  }
}

bool ShadowMmu::shadows_lost_table(Gpa guest_root, Gva gva) const {
  const auto it =
      m_hash.find(key(guest_root.value() >> kGfnShift, m_levels, false, pte::kAllRights));
  if (it == m_hash.end()) {
    return false;
  }
  std::uint32_t sp = it->second;
  for (;;) {
    const ShadowPage& page = m_pages[sp];
    if (!page.direct && m_vmm.contents_lost(page.gfn)) {
      return true;
    }
    const std::uint64_t spte = read_spte(sp, pte::table_index(gva.value(), page.level));
    if ((spte & pte::kPresent) == 0 || pte::is_leaf(spte, page.level)) {
      return false;
    }
    sp = child_of(spte);
  }
}

std::optional<Hpa> ShadowMmu::find_root(Gpa guest_root) const {
  const auto it =
      m_hash.find(key(guest_root.value() >> kGfnShift, m_levels, false, pte::kAllRights));
  if (it == m_hash.end()) {
    return std::nullopt;
  }
  return m_pages[it->second].table;
}

// ---- The shadow page fault.

ShadowMmu::GuestWalk ShadowMmu::walk_guest(Gva gva, AccessKind kind, Cycles& cycles,
                                           bool& host_fault) {
  GuestWalk gw;
  const std::uint64_t va = gva.value();
  const bool write = kind == AccessKind::kWrite;
  std::array<std::uint64_t, 6> ptes{};
  std::uint64_t table = m_guest_root.value() & pte::kAddressMask;
  pte::Rights access = pte::kAllRights;
  unsigned level = m_levels;
  for (;; --level) {
    gw.table_gfn[level] = table >> kGfnShift;
    gw.pt_access[level] = access;
    const std::uint64_t gpte =
        read_guest(Gpa(table | pte::entry_offset(va, level)), cycles, host_fault);
    if ((gpte & pte::kPresent) == 0) {
      gw.level = level;
      return gw;  // not present: the guest's fault
    }
    access &= pte::rights_of(gpte);
    ptes[level] = gpte;
    if (pte::is_leaf(gpte, level)) {
      break;
    }
    table = gpte & pte::kAddressMask;
  }
  gw.ok = true;
  gw.level = level;
  const PageSize size = pte::leaf_page_size(level);
  gw.gfn = ((ptes[level] & pte::page_address_mask(size)) | gva.page_offset(page_shift(size))) >>
           kGfnShift;

  // FNAME(update_accessed_dirty_bits): A on every entry used, D on the leaf for a store.
  for (unsigned l = m_levels; l >= level; --l) {
    std::uint64_t updated = ptes[l] | pte::kAccessed;
    if (l == level && write) {
      updated |= pte::kDirty;
    }
    if (updated != ptes[l]) {
      write_guest(Gpa((gw.table_gfn[l] << kGfnShift) | pte::entry_offset(va, l)), updated, cycles,
                  host_fault);
      ptes[l] = updated;
    }
    if (l == 1) {
      break;
    }
  }
  gw.pte_access = write ? access : protect_clean(access, ptes[level]);
  return gw;
}

ShadowMmu::Fault ShadowMmu::page_fault(Gva gva, AccessKind kind) {
  Fault f;
  ++m_stats.page_faults;
  ++m_stats.sw_walks;
  Cycles cycles = m_exit_params.latency + m_params.page_fault_latency;
  const GuestWalk gw = walk_guest(gva, kind, cycles, f.host_fault);
  if (!gw.ok) {
    // The guest's own fault: injected (kvm_inject_emulated_page_fault).
    ++m_stats.pf_guest;
    f.outcome = Fault::Outcome::kGuestFault;
    f.guest_level = gw.level;
    f.cycles = cycles;
    count_exit(m_exits.page_fault, cycles);
    return f;
  }
  f.gpa = Gpa((gw.gfn << kGfnShift) | gva.page_offset(kGfnShift));
  const auto backing = m_vmm.fault_in(f.gpa, kind, cycles, f.host_fault);
  if (backing && backing->replaced_zero_page) {
    // The host's copy-on-write invalidated the page while KVM faulted it in
    // (mmu_invalidate_retry_gfn): RET_PF_RETRY, the guest re-executes the store and faults
    // again, and that fault finds the new page. Counted as the two faults they are.
    ++m_stats.fault_retries;
    ++m_stats.page_faults;
    ++m_stats.sw_walks;
    const Cycles retry = m_exit_params.latency + m_params.page_fault_latency;
    count_exit(m_exits.page_fault, retry);
    cycles += retry;
  }
  if (!backing || (backing->slot->readonly && kind == AccessKind::kWrite)) {
    // No memslot (KVM_PFN_NOSLOT), or a store to a read-only one (KVM_PFN_ERR_RO_FAULT):
    // the access is emulated, nothing is mapped.
    f.outcome = Fault::Outcome::kMmio;
    cycles += m_exit_params.mmio_latency;
    f.cycles = cycles;
    count_exit(m_exits.mmio, cycles);
    return f;
  }
  make_pages_available();
  const bool mapped_writable = fetch(gw, gva, *backing, f);
  cycles += take_pending_cycles();
  const bool spurious = m_last_spte_spurious;
  if (kind == AccessKind::kWrite && !mapped_writable) {
    // A store to a guest table page KVM write-tracks (an upper-level table, or emulate
    // policy): the leaf stays read-only and the store is emulated (RET_PF_EMULATE;
    // kvm_mmu_track_write zaps what the old entry made).
    cycles += m_params.wp_write_latency;
    ++m_stats.wp_writes;
    f.outcome = Fault::Outcome::kEmulated;
    f.cycles = cycles;
    count_exit(m_exits.wp_write, cycles);
    return f;
  }
  if (spurious) {
    ++m_stats.pf_spurious;  // the leaf was there: the fault came through a missing link
  } else {
    ++m_stats.pf_fixed;
  }
  f.outcome = Fault::Outcome::kFixed;
  f.cycles = cycles;
  count_exit(m_exits.page_fault, cycles);
  return f;
}

bool ShadowMmu::fetch(const GuestWalk& gw, Gva gva, const ShadowVmm::Backing& backing, Fault& f) {
  const std::uint64_t va = gva.value();
  std::uint32_t sp = m_root;
  unsigned level = m_levels;

  // Indirect pages down to the guest leaf's level.
  for (; level > gw.level; --level) {
    const unsigned i = pte::table_index(va, level);
    m_pages[sp].write_flooding = 0;  // clear_sp_write_flooding_count
    std::uint64_t spte = read_spte(sp, i);
    if ((spte & pte::kPresent) != 0 && pte::is_leaf(spte, level)) {
      zap_spte(sp, i);  // drop_large_spte: the guest now has a table here
      ++m_stats.flush_requests;
      spte = 0;
    }
    std::uint32_t child;
    if ((spte & pte::kPresent) == 0) {
      bool created = false;
      child = get_page(gw.table_gfn[level - 1], level - 1, false, gw.pt_access[level - 1], created);
      f.pages_created += created ? 1 : 0;
      link(sp, i, child);
    } else {
      child = child_of(spte);
    }
    sp = child;
  }

  // The leaf size: the guest page, no larger than the host page and the slot allow
  // (kvm_mmu_hugepage_adjust). Direct pages in between.
  const Gpa gpa(gw.gfn << kGfnShift);
  const PageSize host_allows = ShadowVmm::max_mapping_size(*backing.slot, gpa, backing.host_size);
  const unsigned goal = std::min(gw.level, leaf_level(host_allows));
  const pte::Rights direct_access = gw.pte_access;
  for (; level > goal; --level) {
    const unsigned i = pte::table_index(va, level);
    m_pages[sp].write_flooding = 0;
    std::uint64_t spte = read_spte(sp, i);
    if ((spte & pte::kPresent) != 0) {
      // validate_direct_spte: a direct page made for other rights (the guest page was clean
      // and is dirty now, or the reverse) is unlinked; drop_large_spte likewise.
      const bool stale = pte::is_leaf(spte, level) || !m_pages[child_of(spte)].direct ||
                         m_pages[child_of(spte)].access != direct_access;
      if (stale) {
        zap_spte(sp, i);
        ++m_stats.flush_requests;  // kvm_flush_remote_tlbs_sptep
        spte = 0;
      }
    }
    std::uint32_t child;
    if ((spte & pte::kPresent) == 0) {
      bool created = false;
      const std::uint64_t base_gfn = gw.gfn & ~(pages_per(level) - 1);
      child = get_page(base_gfn, level - 1, true, direct_access, created);
      f.pages_created += created ? 1 : 0;
      link(sp, i, child);
    } else {
      child = child_of(spte);
    }
    sp = child;
  }

  m_pages[sp].write_flooding = 0;
  const PageSize size = pte::leaf_page_size(goal);
  const unsigned i = pte::table_index(va, goal);
  const bool host_writable = !backing.slot->readonly && backing.host_writable;
  const bool tracked = !set_spte(sp, i, goal, gw.pte_access, gw.gfn & ~(pages_per(goal) - 1),
                                 backing.hpa.page_base(page_shift(size)), host_writable, false);
  f.size = size;
  if (goal == pte::kPt && m_params.prefetch) {
    pte_prefetch(sp, i);
  }
  return !tracked;
}

// ---- Shadow pages.

std::uint32_t ShadowMmu::get_page(std::uint64_t gfn, unsigned level, bool direct,
                                  pte::Rights access, bool& created) {
  ++m_stats.get_page;
  const std::uint64_t k = key(gfn, level, direct, access);
  if (const auto it = m_hash.find(k); it != m_hash.end()) {
    const std::uint32_t sp = it->second;
    if (m_pages[sp].unsync) {
      // kvm_mmu_find_shadow_page -> kvm_sync_page: the page is refreshed from its guest
      // table, but neither write-protected nor marked synced: it stays unsync (no
      // kvm_unlink_unsync_page, no kvm_mmu_sync_page event). A flush if a leaf was dropped
      // or weakened. Charged to the fault or CR3 write.
      ++m_stats.sync_kept_unsync;
      m_pending += m_params.sync_page_latency;
      const int r = sync_entries(sp);
      if (r < 0) {
        // The guest table could not be read (not resident): the page is zapped, the zap
        // committed with a flush, and kvm_mmu_find_shadow_page finds none: a new one is made.
        zap_page(sp);
        ++m_stats.flush_requests;
      } else if (r > 0) {
        ++m_stats.flush_requests;  // kvm_flush_remote_tlbs
      }
    }
    if (m_pages[sp].live) {
      m_pages[sp].write_flooding = 0;
      created = false;
      return sp;
    }
  }

  // kvm_mmu_alloc_page: a zeroed table (clear_page).
  std::uint32_t sp;
  if (!m_free_pages.empty()) {
    sp = m_free_pages.back();
    m_free_pages.pop_back();
  } else {
    sp = static_cast<std::uint32_t>(m_pages.size());
    m_pages.emplace_back();
  }
  Hpa frame;
  if (!m_free_frames.empty()) {
    frame = m_free_frames.back();
    m_free_frames.pop_back();
  } else {
    frame = m_frames.allocate_table();
  }
  m_memory.zero_frame(frame);
  ShadowPage& page = m_pages[sp];
  page.table = frame;
  page.gfn = gfn;
  page.level = static_cast<std::uint8_t>(level);
  page.direct = direct;
  page.access = access;
  page.live = true;
  page.unsync = false;
  page.write_flooding = 0;
  page.serial = ++m_serial;
  page.parents.clear();
  if (level <= pte::kPdpt) {
    page.gfns.assign(kEntries, 0);
  } else {
    page.gfns.clear();
  }
  m_hash.emplace(k, sp);
  m_by_frame.emplace(frame.value() >> kGfnShift, sp);
  m_active.emplace_back(page.serial, sp);
  ++m_live;
  if (m_active.size() > 2 * m_live + 64) {
    // Drop the entries of zapped pages, keeping the order.
    std::erase_if(m_active, [this](const std::pair<std::uint64_t, std::uint32_t>& e) {
      return !m_pages[e.second].live || m_pages[e.second].serial != e.first;
    });
  }
  ++m_stats.pages_created;
  created = true;

  if (!direct) {
    std::vector<std::uint32_t>& same_gfn = m_shadowed[gfn];
    if (same_gfn.empty()) {
      m_vmm.forget_lost_contents(gfn);  // shadowed from the contents the guest has now
    }
    // A guest table that becomes an upper-level table is write-tracked: kvm_mmu_find_shadow_page
    // zaps its unsync last-level shadow pages ("the guest has stopped using the unsync page"),
    // committed with one flush (kvm_mmu_commit_zap_page).
    if (level > pte::kPt) {
      std::vector<std::uint32_t> to_zap;
      for (const std::uint32_t other : same_gfn) {
        if (m_pages[other].unsync) {
          to_zap.push_back(other);
        }
      }
      for (const std::uint32_t other : to_zap) {
        if (m_pages[other].live) {
          zap_page(other);
        }
      }
      if (!to_zap.empty()) {
        ++m_stats.flush_requests;
      }
    }
    m_shadowed[gfn].push_back(sp);
    write_protect_gfn(gfn);  // account_shadowed -> kvm_mmu_slot_gfn_write_protect
  }
  return sp;
}

bool ShadowMmu::write_protect_gfn(std::uint64_t gfn, bool count_flush) {
  m_rmap_scratch.clear();
  m_rmap.collect(pte::kPt, gfn, gfn, m_rmap_scratch);
  bool any = false;
  for (const ShadowRmap::Entry& e : m_rmap_scratch) {
    const std::uint64_t spte = read_spte(e.page, e.index);
    if ((spte & pte::kRw) != 0) {
      write_spte(e.page, e.index, spte & ~(pte::kRw | pte::kDirty));
      ++m_stats.write_protected;
      any = true;
    }
  }
  if (any) {
    flush_all();
    if (count_flush) {
      ++m_stats.flush_requests;
    }
  }
  return any;
}

bool ShadowMmu::try_to_unsync(std::uint64_t gfn, bool speculative) {
  const std::vector<std::uint32_t>* pages = shadowed(gfn);
  if (pages == nullptr) {
    return true;
  }
  for (const std::uint32_t sp : *pages) {
    if (m_pages[sp].level > pte::kPt || m_params.wp_policy == WpPolicy::kEmulate ||
        (speculative && !m_pages[sp].unsync)) {
      return false;
    }
  }
  const std::vector<std::uint32_t> copy = *pages;
  for (const std::uint32_t sp : copy) {
    if (!m_pages[sp].unsync) {
      make_unsync(sp);
    }
  }
  return true;
}

void ShadowMmu::link(std::uint32_t parent, unsigned index, std::uint32_t child) {
  write_spte(parent, index,
             pte::make_table_entry(m_pages[child].table, pte::kRw | pte::kUser | pte::kAccessed));
  m_pages[child].parents.push_back({parent, static_cast<std::uint16_t>(index)});
}

bool ShadowMmu::set_spte(std::uint32_t sp, unsigned index, unsigned level, pte::Rights access,
                         std::uint64_t gfn, Hpa page, bool host_writable, bool speculative) {
  const std::uint64_t old = read_spte(sp, index);
  const PageSize size = pte::leaf_page_size(level);
  if ((old & pte::kPresent) != 0) {
    if (!pte::is_leaf(old, level)) {
      zap_spte(sp, index);  // a table replaced by a huge leaf
    } else if ((old & pte::page_address_mask(size)) != page.value() ||
               m_pages[sp].gfns[index] != gfn) {
      zap_spte(sp, index);  // another frame (or gfn)
    }
  }
  // A leaf kept (the same frame and gfn) is in the rmap already; a new one goes in.
  const bool kept = (read_spte(sp, index) & pte::kPresent) != 0;
  bool writable = (access & pte::kAllowWrite) != 0 && host_writable;
  bool tracked = false;
  if (writable && level == pte::kPt && !try_to_unsync(gfn, speculative)) {
    writable = false;  // the gfn stays write-protected
    tracked = true;
  }
  const std::uint64_t spte = make_leaf(page, level, access, writable, !speculative);
  m_last_spte_spurious = old == spte;  // mmu_set_spte: RET_PF_SPURIOUS
  if (!m_last_spte_spurious) {
    ++m_stats.sptes_set;
  }
  write_spte(sp, index, spte);
  m_pages[sp].gfns[index] = gfn;
  if (!kept) {
    m_rmap.add(level, gfn, {sp, static_cast<std::uint16_t>(index)});
  }
  if (needs_flush(old, spte)) {
    flush_all();
    ++m_stats.flush_requests;
  }
  return !tracked;
}

bool ShadowMmu::prefetch_gpte(std::uint32_t sp, unsigned index, std::uint64_t gpte) {
  // FNAME(prefetch_invalid_gpte): only present, accessed guest entries.
  if ((gpte & pte::kPresent) == 0 || (gpte & pte::kAccessed) == 0) {
    return false;
  }
  const std::uint64_t gfn = (gpte & pte::kAddressMask) >> kGfnShift;
  // Atomic GUP with FOLL_WRITE: never faults, and finds no read-only page (the zero page).
  const auto backing = m_vmm.resident(Gpa(gfn << kGfnShift));
  if (!backing || !backing->host_writable) {
    return false;
  }
  const pte::Rights access =
      protect_clean(static_cast<pte::Rights>(m_pages[sp].access & pte::rights_of(gpte)), gpte);
  set_spte(sp, index, pte::kPt, access, gfn, backing->hpa.page_base(kGfnShift),
           !backing->slot->readonly, true);
  ++m_stats.prefetches;
  return true;
}

void ShadowMmu::pte_prefetch(std::uint32_t sp, unsigned index) {
  const unsigned first = index & ~(kPrefetchEntries - 1);
  if (!m_pages[sp].direct) {
    // FNAME(pte_prefetch): the group's other not-present entries from their guest entries,
    // stopping at the first that cannot be made.
    const Gpa table(m_pages[sp].gfn << kGfnShift);
    for (unsigned i = first; i < first + kPrefetchEntries; ++i) {
      if (i == index || (read_spte(sp, i) & pte::kPresent) != 0) {
        continue;
      }
      const auto b = m_vmm.resident(table + std::uint64_t{i} * 8);
      if (!b || !prefetch_gpte(sp, i, m_memory.read_u64(b->hpa))) {
        break;
      }
    }
    return;
  }
  // __direct_pte_prefetch: each run of not-present entries, those that end at a present
  // one and the run reaching the group's end alike (the loop's trailing `if (start)`), as
  // far as the host pages are resident and in the slot of the run's first gfn
  // (direct_pte_prefetch_many: the resident prefix; none ends the prefetch).
  auto prefetch_run = [&](unsigned run, unsigned end) {
    const std::uint64_t gfn0 = m_pages[sp].gfn + run;
    const host::Memslot* slot = m_vmm.memslots().find(Gpa(gfn0 << kGfnShift));
    if (slot == nullptr || !slot->contains(Gpa(((gfn0 + (end - run)) << kGfnShift) - 1))) {
      return false;  // gfn_to_page_many_atomic fails: the run leaves the slot
    }
    unsigned done = 0;
    for (unsigned j = run; j < end; ++j) {
      const std::uint64_t gfn = m_pages[sp].gfn + j;
      const auto b = m_vmm.resident(Gpa(gfn << kGfnShift));
      if (!b || !b->host_writable) {
        break;
      }
      set_spte(sp, j, pte::kPt, m_pages[sp].access, gfn, b->hpa.page_base(kGfnShift),
               !b->slot->readonly, true);
      ++m_stats.prefetches;
      ++done;
    }
    return done != 0;
  };
  unsigned run = kEntries;  // none
  for (unsigned i = first; i < first + kPrefetchEntries; ++i) {
    const bool present = i == index || (read_spte(sp, i) & pte::kPresent) != 0;
    if (!present) {
      if (run == kEntries) {
        run = i;
      }
      continue;
    }
    if (run == kEntries) {
      continue;
    }
    if (!prefetch_run(run, i)) {
      return;
    }
    run = kEntries;
  }
  if (run != kEntries) {
    prefetch_run(run, first + kPrefetchEntries);
  }
}

bool ShadowMmu::zap_spte(std::uint32_t sp, unsigned index) {
  const std::uint64_t spte = read_spte(sp, index);
  if ((spte & pte::kPresent) == 0) {
    return false;
  }
  const unsigned level = m_pages[sp].level;
  if (!pte::is_leaf(spte, level)) {
    const std::uint32_t child = child_of(spte);
    auto& parents = m_pages[child].parents;
    for (std::size_t k = 0; k < parents.size(); ++k) {
      if (parents[k].page == sp && parents[k].index == index) {
        parents[k] = parents.back();
        parents.pop_back();
        break;
      }
    }
  } else {
    m_rmap.remove(level, m_pages[sp].gfns[index], {sp, static_cast<std::uint16_t>(index)});
  }
  write_spte(sp, index, 0);
  flush_all();
  return true;
}

void ShadowMmu::zap_unsync_children(std::uint32_t sp) {
  if (m_unsync.empty() || m_pages[sp].level == pte::kPt) {
    return;
  }
  std::vector<std::uint32_t> found;
  std::vector<std::uint32_t> stack{sp};
  while (!stack.empty()) {
    const std::uint32_t p = stack.back();
    stack.pop_back();
    for (unsigned i = 0; i < kEntries; ++i) {
      const std::uint64_t spte = read_spte(p, i);
      if ((spte & pte::kPresent) == 0 || pte::is_leaf(spte, m_pages[p].level)) {
        continue;
      }
      const std::uint32_t child = child_of(spte);
      if (m_pages[child].unsync) {
        found.push_back(child);
      } else if (m_pages[child].level > pte::kPt) {
        stack.push_back(child);
      }
    }
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  for (const std::uint32_t child : found) {
    if (m_pages[child].live) {
      zap_page(child);
    }
  }
}

void ShadowMmu::zap_page(std::uint32_t sp, bool unsync_children) {
  ++m_stats.zaps;
  if (unsync_children) {
    zap_unsync_children(sp);
  }
  // kvm_mmu_page_unlink_children, kvm_mmu_unlink_parents.
  for (unsigned i = 0; i < kEntries; ++i) {
    zap_spte(sp, i);
  }
  std::vector<Link> parents;
  parents.swap(m_pages[sp].parents);
  for (const Link& l : parents) {
    write_spte(l.page, l.index, 0);
  }
  free_page(sp);
  flush_all();
}

void ShadowMmu::free_page(std::uint32_t sp) {
  ShadowPage& page = m_pages[sp];
  m_hash.erase(key(page.gfn, page.level, page.direct, page.access));
  m_by_frame.erase(page.table.value() >> kGfnShift);
  if (!page.direct) {
    auto it = m_shadowed.find(page.gfn);
    auto& v = it->second;
    v.erase(std::find(v.begin(), v.end(), sp));
    if (v.empty()) {
      m_shadowed.erase(it);
      m_vmm.forget_lost_contents(page.gfn);  // nothing derived from the lost contents stays
    }
  }
  if (page.unsync) {
    // __kvm_mmu_prepare_zap_page -> kvm_unlink_unsync_page (its kvm_mmu_sync_page event).
    ++m_stats.unsync_zapped;
    m_unsync.erase(std::find(m_unsync.begin(), m_unsync.end(), sp));
    page.unsync = false;
  }
  if (m_root == sp) {
    m_root = kNone;  // KVM_REQ_MMU_RELOAD: the caller reloads before the next walk
  }
  page.live = false;
  page.parents.clear();
  m_free_frames.push_back(page.table);
  m_free_pages.push_back(sp);
  --m_live;
}

void ShadowMmu::make_unsync(std::uint32_t sp) {
  m_pages[sp].unsync = true;
  m_unsync.push_back(sp);
  ++m_stats.unsync;
}

int ShadowMmu::sync_spte(std::uint32_t sp, unsigned i) {
  const std::uint64_t spte = read_spte(sp, i);
  // kvm_vcpu_read_guest_atomic, under the MMU lock: no fault. A guest table page the host
  // evicted (or a GPA in no memslot) fails the read.
  const Gpa table(m_pages[sp].gfn << kGfnShift);
  const auto b = m_vmm.resident(table + std::uint64_t{i} * 8);
  if (!b) {
    return -1;
  }
  const std::uint64_t gpte = m_memory.read_u64(b->hpa);
  const std::uint64_t gfn = (gpte & pte::kAddressMask) >> kGfnShift;
  // FNAME(prefetch_invalid_gpte), or another gfn: drop_spte.
  if ((gpte & pte::kPresent) == 0 || (gpte & pte::kAccessed) == 0 || gfn != m_pages[sp].gfns[i]) {
    zap_spte(sp, i);
    return 1;
  }
  // The rights from the guest entry as it is now; the frame and A as they were (make_spte
  // over spte_to_pfn(spte): nothing is looked up, no SPTE is set anew).
  const pte::Rights access =
      protect_clean(static_cast<pte::Rights>(m_pages[sp].access & pte::rights_of(gpte)), gpte);
  // make_spte with can_unsync = false: a gfn still shadowed in sync stays read-only, and
  // a read-only VMM page (the zero page) too.
  const auto host = m_vmm.resident(Gpa(gfn << kGfnShift));
  const bool writable = (access & pte::kAllowWrite) != 0 && host && !host->slot->readonly &&
                        host->host_writable && try_to_unsync(gfn, true);
  const std::uint64_t updated = make_leaf(Hpa(spte & pte::kAddressMask), pte::kPt, access, writable,
                                          (spte & pte::kAccessed) != 0);
  if (updated == spte) {
    return 0;
  }
  write_spte(sp, i, updated);
  if (needs_flush(spte, updated)) {
    flush_all();
    return 1;
  }
  return 0;
}

int ShadowMmu::sync_entries(std::uint32_t sp) {
  int r = 0;
  for (unsigned i = 0; i < kEntries; ++i) {
    if ((read_spte(sp, i) & pte::kPresent) == 0) {
      continue;
    }
    const int e = sync_spte(sp, i);
    if (e < 0) {
      return -1;
    }
    r |= e;
  }
  return r;
}

int ShadowMmu::sync_page_entries(std::uint32_t sp, Cycles& cost) {
  ++m_stats.sync;
  cost += m_params.sync_page_latency;
  const int r = sync_entries(sp);
  // mmu_sync_children unlinks it first (kvm_unlink_unsync_page): write-protected again, or,
  // when a guest entry could not be read, zapped by kvm_sync_page with nothing more to
  // unlink.
  m_pages[sp].unsync = false;
  m_unsync.erase(std::find(m_unsync.begin(), m_unsync.end(), sp));
  if (r < 0) {
    zap_page(sp);
  }
  return r;
}

bool ShadowMmu::first_path(std::uint32_t sp, std::uint32_t root, std::vector<std::uint32_t>& path,
                           PathMemo& memo) const {
  // Every way up the parent links to `root`; the smallest in index order from the root
  // down (the order of __mmu_unsync_walk's for_each_set_bit over unsync_child_bitmap).
  // Each page's answer is kept in `memo`: a page linked from many entries is walked once.
  if (sp == root) {
    path.clear();
    return true;
  }
  if (const auto it = memo.find(sp); it != memo.end()) {
    if (!it->second.first) {
      return false;
    }
    path = it->second.second;
    return true;
  }
  bool found = false;
  std::vector<std::uint32_t> best;
  for (const Link& l : m_pages[sp].parents) {
    std::vector<std::uint32_t> up;
    if (!first_path(l.page, root, up, memo)) {
      continue;
    }
    up.push_back(l.index);
    up.push_back(sp);
    if (!found || up < best) {
      best = std::move(up);
      found = true;
    }
  }
  if (found) {
    path = best;
  }
  memo.emplace(sp, std::make_pair(found, std::move(best)));
  return found;
}

Cycles ShadowMmu::sync_children(std::uint32_t root) {
  // mmu_sync_children(vcpu, root, true), as kvm_mmu_sync_roots calls it. Each round,
  // mmu_unsync_walk fills a struct kvm_mmu_pages of KVM_PAGE_ARRAY_NR entries depth first
  // from the root in index order: the root, each page on the way down that has unsync
  // children (again in every round), each unsync last-level page; it stops when the array
  // is full. Then: every unsync page's gfn write-protected (kvm_vcpu_write_protect_gfn)
  // and, if a leaf lost R/W, one flush that also commits the pages zapped so far
  // (kvm_mmu_remote_flush_or_zap); then each page synced (kvm_sync_page; a page it cannot
  // read is zapped onto invalid_list). After the last round one more flush if a sync of
  // the rounds since the last flush dropped or weakened a leaf or zapped a page.
  constexpr std::size_t kPageArrayNr = 16;  // KVM_PAGE_ARRAY_NR
  struct Unsync {
    std::vector<std::uint32_t> path;  // index, page, index, page, ... from the root down
    std::uint32_t sp;
  };
  std::vector<Unsync> leaves;
  PathMemo memo;
  for (const std::uint32_t sp : m_unsync) {
    Unsync u{{}, sp};
    if (first_path(sp, root, u.path, memo)) {
      leaves.push_back(std::move(u));
    }
  }
  std::sort(leaves.begin(), leaves.end(),
            [](const Unsync& a, const Unsync& b) { return a.path < b.path; });
  Cycles cost;
  bool flush = false;
  bool zapped = false;  // invalid_list not empty
  std::size_t next = 0;
  while (next < leaves.size()) {
    // One mmu_unsync_walk: the root, then per leaf the pages above it not on the previous
    // leaf's way down (path holds index, page pairs; its last page is the leaf itself).
    std::vector<std::uint32_t> batch;
    std::size_t entries = 1;  // the root
    const std::vector<std::uint32_t>* prev = nullptr;
    while (next < leaves.size() && entries < kPageArrayNr) {
      const std::vector<std::uint32_t>& path = leaves[next].path;
      std::size_t shared = 0;  // pages above it already in the array
      if (prev != nullptr) {
        while (shared + 1 < path.size() - 1 && shared + 1 < prev->size() - 1 &&
               path[shared] == (*prev)[shared] && path[shared + 1] == (*prev)[shared + 1]) {
          shared += 2;
        }
      }
      const std::size_t above = (path.size() - 2 - shared) / 2;  // pages between
      if (entries + above >= kPageArrayNr) {
        entries = kPageArrayNr;  // an upper page filled it: the leaf waits for the next
        break;
      }
      entries += above + 1;
      batch.push_back(leaves[next].sp);
      prev = &path;
      ++next;
    }
    bool protect = false;
    for (const std::uint32_t sp : batch) {
      protect |= write_protect_gfn(m_pages[sp].gfn, false);
    }
    if (protect) {
      ++m_stats.flush_requests;
      flush = false;
      zapped = false;
    }
    for (const std::uint32_t sp : batch) {
      if (m_pages[sp].live && m_pages[sp].unsync) {
        const int r = sync_page_entries(sp, cost);
        flush |= r > 0;
        zapped |= r < 0;
      }
    }
  }
  if (flush || zapped) {
    ++m_stats.flush_requests;
  }
  return cost;
}

bool ShadowMmu::holds_root_count(std::uint32_t sp) const {
  if (sp == m_root) {
    return true;
  }
  const ShadowPage& p = m_pages[sp];
  if (p.direct || p.level != m_levels || p.access != pte::kAllRights) {
    return false;
  }
  // prev_roots keep the reference mmu_alloc_root took (kvm_mmu_free_roots drops it only
  // when a root leaves the cache).
  return std::find(m_prev_roots.begin(), m_prev_roots.end(), p.gfn << kGfnShift) !=
         m_prev_roots.end();
}

void ShadowMmu::make_pages_available() {
  // make_mmu_pages_available: nothing to do while KVM_MIN_FREE_MMU_PAGES are free.
  const std::uint64_t avail = m_max_pages > m_live ? m_max_pages - m_live : 0;
  if (avail >= kMinFreePages) {
    return;
  }
  // kvm_mmu_zap_oldest_mmu_pages(kvm, KVM_REFILL_PAGES - avail): active_mmu_pages from its
  // tail (the oldest page; kvm_mmu_alloc_shadow_page adds at the head), skipping every page
  // with a root_count (the current root and those cached in prev_roots), which stays where
  // it is in the list; each __kvm_mmu_prepare_zap_page counts the page and the unsync
  // children it zaps with it (shadow.recycle_unsync_children), until nr_to_zap are; one
  // kvm_mmu_commit_zap_page (one flush) for the batch, and mmu_recycled += the total.
  const std::uint64_t nr_to_zap = kRefillPages - avail;
  const std::uint64_t live_before = m_live;
  std::size_t i = 0;
  while (live_before - m_live < nr_to_zap && i < m_active.size()) {
    const auto [serial, sp] = m_active[i];
    if (!m_pages[sp].live || m_pages[sp].serial != serial) {
      m_active.erase(m_active.begin() + static_cast<std::ptrdiff_t>(i));  // zapped already
      continue;
    }
    if (holds_root_count(sp)) {
      ++i;
      continue;
    }
    m_active.erase(m_active.begin() + static_cast<std::ptrdiff_t>(i));
    zap_page(sp, m_params.recycle_unsync_children);  // shadow_params.h
  }
  const std::uint64_t zapped = live_before - m_live;
  if (zapped != 0) {
    m_stats.recycled += zapped;
    ++m_stats.flush_requests;  // kvm_mmu_commit_zap_page, once for the batch
  }
}

// ---- The guest kernel's writes.

Cycles ShadowMmu::guest_table_write(Gpa gpa) {
  const std::uint64_t gfn = gpa.value() >> kGfnShift;
  const std::vector<std::uint32_t>* pages = shadowed(gfn);
  if (pages == nullptr) {
    return Cycles();  // not a shadowed guest table: an ordinary store
  }
  bool tracked = false;  // an upper-level page: write-tracked, never unsync
  bool all_unsync = true;
  for (const std::uint32_t sp : *pages) {
    tracked |= m_pages[sp].level > pte::kPt;
    all_unsync &= m_pages[sp].unsync;
  }
  if (m_params.wp_policy == WpPolicy::kUnsync && !tracked) {
    if (all_unsync) {
      return Cycles();  // the page is writable for the guest until the next sync
    }
    // The #PF on the write-protected mapping: a fault whose mmu_set_spte unsyncs the pages
    // (mmu_try_to_unsync_pages) instead of write-protecting.
    const Cycles cost = m_exit_params.latency + m_params.page_fault_latency;
    count_exit(m_exits.wp_write, cost);
    const std::vector<std::uint32_t> copy = *pages;
    for (const std::uint32_t sp : copy) {
      if (!m_pages[sp].unsync) {
        make_unsync(sp);
      }
    }
    return cost;
  }

  // Emulated (kvm_mmu_pte_write): the entries made from the old guest entry are zapped.
  const Cycles cost = m_exit_params.latency + m_params.wp_write_latency;
  count_exit(m_exits.wp_write, cost);
  ++m_stats.wp_writes;
  const unsigned index = static_cast<unsigned>((gpa.value() & 0xfff) >> 3);
  const std::vector<std::uint32_t> copy = *pages;
  bool zapped = false;
  for (const std::uint32_t sp : copy) {
    if (!m_pages[sp].live) {
      continue;  // zapped as an unsync child of a flooded page
    }
    if (m_pages[sp].level > pte::kPt && ++m_pages[sp].write_flooding >= kFloodWrites) {
      ++m_stats.flooded;
      zap_page(sp);
      zapped = true;
      continue;
    }
    zapped |= zap_spte(sp, index);
  }
  if (zapped) {
    ++m_stats.flush_requests;  // kvm_mmu_track_write's flush
  }
  return cost;
}

Cycles ShadowMmu::kernel_fault(Cycles host_cycles) {
  const Cycles cost = m_exit_params.latency + m_params.page_fault_latency + host_cycles;
  ++m_stats.kernel_faults;
  count_exit(m_exits.page_fault, cost);
  return cost;
}

Cycles ShadowMmu::guest_frame_zeroed(Gpa frame) {
  const std::vector<std::uint32_t>* pages = shadowed(frame.value() >> kGfnShift);
  if (pages == nullptr) {
    return Cycles();
  }
  const Cycles cost = m_exit_params.latency + m_params.wp_write_latency;
  count_exit(m_exits.wp_write, cost);
  ++m_stats.wp_writes;
  const std::vector<std::uint32_t> copy = *pages;
  for (const std::uint32_t sp : copy) {
    if (m_pages[sp].live) {
      zap_page(sp);
    }
  }
  ++m_stats.flush_requests;
  return cost;
}

// ---- Sync points.

Cycles ShadowMmu::cr3_write(Gpa guest_root, std::uint16_t pcid, bool noflush) {
  Cycles cost = m_exit_params.latency + m_params.cr3_write_latency;
  if (!m_params.cache_roots) {
    zap_all();
  }
  if (!root_loaded() || guest_root != m_guest_root) {
    switch_root(guest_root);
  }  // else the same CR3: kvm_set_cr3 only requests the sync and the flush
  cost += take_pending_cycles();
  if (!noflush) {
    // kvm_mmu_sync_roots: every unsync page below the new root (mmu_sync_children).
    if (!m_unsync.empty()) {
      cost += sync_children(m_root);
    }
    m_flush.merge(TlbFlush::one_pcid(pcid));
  }
  count_exit(m_exits.cr3_write, cost);
  return cost;
}

Cycles ShadowMmu::invlpg(Gva gva, std::uint16_t pcid, std::optional<Gpa> guest_root) {
  const Cycles cost = m_exit_params.latency + m_params.invlpg_latency;
  count_exit(m_exits.invlpg, cost);
  m_flush.merge(TlbFlush::page(gva, pcid));
  if (!guest_root) {
    return cost;
  }
  const auto root =
      m_hash.find(key(guest_root->value() >> kGfnShift, m_levels, false, pte::kAllRights));
  if (root == m_hash.end()) {
    return cost;
  }
  const std::uint64_t va = gva.value();
  std::uint32_t sp = root->second;
  for (unsigned level = m_levels; level >= pte::kPt; --level) {
    const unsigned i = pte::table_index(va, level);
    const std::uint64_t spte = read_spte(sp, i);
    if ((spte & pte::kPresent) == 0) {
      break;
    }
    if (pte::is_leaf(spte, level)) {
      if (m_pages[sp].unsync) {
        // __kvm_mmu_invalidate_addr (Linux 6.4 on; FNAME(invlpg) before): kvm_sync_spte
        // of the leaf, as a page sync does: dropped if its guest entry is gone, not
        // accessed or maps another gfn, else its rights updated. Nothing is prefetched: a
        // remapped entry faults on its next use. A failed read zaps the leaf
        // (mmu_page_zap_pte); a flush request when it changed (kvm_flush_remote_tlbs_sptep).
        ++m_stats.invlpg_syncs;
        const int r = sync_spte(sp, i);
        if (r < 0) {
          zap_spte(sp, i);
        }
        if (r != 0) {
          ++m_stats.flush_requests;
        }
      }
      break;
    }
    sp = child_of(spte);
  }
  return cost;
}

// ---- Zaps.

void ShadowMmu::zap_table_pages(std::span<const Gpa> tables) {
  const std::uint64_t zaps = m_stats.zaps.value();
  for (const Gpa t : tables) {
    if (const std::vector<std::uint32_t>* pages = shadowed(t.value() >> kGfnShift)) {
      const std::vector<std::uint32_t> copy = *pages;
      for (const std::uint32_t sp : copy) {
        if (m_pages[sp].live) {
          zap_page(sp);
        }
      }
    }
  }
  if (m_stats.zaps.value() != zaps) {
    ++m_stats.flush_requests;  // one commit of the batch
  }
}

template <class F>
void ShadowMmu::for_each_present_leaf(F&& f) const {
  for (std::uint32_t sp = 0; sp < m_pages.size(); ++sp) {
    const ShadowPage& p = m_pages[sp];
    if (!p.live || p.level > pte::kPdpt) {
      continue;
    }
    for (unsigned i = 0; i < kEntries; ++i) {
      const std::uint64_t spte = read_spte(sp, i);
      if ((spte & pte::kPresent) != 0 && pte::is_leaf(spte, p.level)) {
        f(sp, i, spte);
      }
    }
  }
}

void ShadowMmu::zap_gpa_range(Gpa begin, Gpa end) {
  const std::uint64_t first = begin.value() >> kGfnShift;
  const std::uint64_t last = (end.value() + page_bytes(PageSize::k4K) - 1) >> kGfnShift;
  std::vector<std::uint32_t> doomed;
  for (std::uint32_t sp = 0; sp < m_pages.size(); ++sp) {
    const ShadowPage& p = m_pages[sp];
    if (!p.live) {
      continue;
    }
    const std::uint64_t span = p.direct ? pages_per(p.level + 1) : 1;
    if (p.gfn < last && p.gfn + span > first) {
      doomed.push_back(sp);
    }
  }
  for (const std::uint32_t sp : doomed) {
    if (m_pages[sp].live) {
      zap_page(sp);
    }
  }
  bool any = !doomed.empty();
  for_each_present_leaf([&](std::uint32_t sp, unsigned i, std::uint64_t) {
    const ShadowPage& p = m_pages[sp];
    if (p.gfns[i] < last && p.gfns[i] + pages_per(p.level) > first) {
      zap_spte(sp, i);
      any = true;
    }
  });
  if (any) {
    ++m_stats.flush_requests;
  }
}

void ShadowMmu::zap_all_fast() {
  ++m_stats.zap_all;
  // kvm_mmu_zap_all_fast: every page zapped, but the roots a vCPU holds (root_count:
  // mmu->root and the valid prev_roots) only invalidated, freed at its next entry.
  m_obsolete_roots = root_loaded() ? 1 : 0;
  for (const std::uint64_t g : m_prev_roots) {
    const auto it = m_hash.find(key(g >> kGfnShift, m_levels, false, pte::kAllRights));
    if (it != m_hash.end() && m_pages[it->second].live) {
      ++m_obsolete_roots;
    }
  }
  zap_all();
}

void ShadowMmu::zap_all() {
  if (m_live != 0) {
    ++m_stats.flush_requests;
  }
  // Every page goes: no need to unlink one from another.
  for (std::uint32_t sp = 0; sp < m_pages.size(); ++sp) {
    if (m_pages[sp].live) {
      ++m_stats.zaps;
      free_page(sp);
    }
  }
  m_rmap.clear();  // every leaf went with its page
  m_active.clear();
  flush_all();
}

void ShadowMmu::age() {
  const std::uint64_t drops = m_stats.aging_drops.value();
  for_each_present_leaf([&](std::uint32_t sp, unsigned i, std::uint64_t spte) {
    if ((spte & pte::kAccessed) != 0) {
      write_spte(sp, i, spte & ~pte::kAccessed);  // no flush: as ptep_clear_young on x86
      ++m_stats.aged;
    } else {
      zap_spte(sp, i);
      ++m_stats.aging_drops;
    }
  });
  if (m_stats.aging_drops.value() != drops) {
    ++m_stats.flush_requests;
  }
}

// ---- The host's mmu_notifier.

void ShadowMmu::collect_leaves(Hva begin, Hva end) {
  m_rmap_scratch.clear();
  m_vmm.for_each_gpa_range(begin, end, [&](Gpa first, std::uint64_t bytes) {
    const std::uint64_t lo = first.value() >> kGfnShift;
    const std::uint64_t hi = (first.value() + bytes - 1) >> kGfnShift;
    for (unsigned level = pte::kPt; level <= ShadowRmap::kLevels; ++level) {
      m_rmap.collect(level, lo, hi, m_rmap_scratch);
    }
  });
}

bool ShadowMmu::test_young(Hva begin, Hva end) {
  collect_leaves(begin, end);
  for (const ShadowRmap::Entry& e : m_rmap_scratch) {
    if ((read_spte(e.page, e.index) & pte::kAccessed) != 0) {
      return true;
    }
  }
  return false;
}

bool ShadowMmu::clear_young(Hva begin, Hva end) {
  collect_leaves(begin, end);
  bool young = false;
  for (const ShadowRmap::Entry& e : m_rmap_scratch) {
    const std::uint64_t spte = read_spte(e.page, e.index);
    if ((spte & pte::kAccessed) != 0) {
      // No flush (kvm_mmu_notifier_clear_young): a cached translation keeps the page
      // reachable without setting A again, which only makes it look older.
      write_spte(e.page, e.index, spte & ~pte::kAccessed);
      ++m_stats.rmap_aged;
      young = true;
    }
  }
  return young;
}

hostmm::InvalidateResult ShadowMmu::invalidate_range(Hva begin, Hva end) {
  m_vmm.save_contents(begin, end);
  collect_leaves(begin, end);
  hostmm::InvalidateResult r;
  for (const ShadowRmap::Entry& e : m_rmap_scratch) {
    const std::uint64_t spte = read_spte(e.page, e.index);
    // mmu_spte_clear_track_bits: a dirty or writable leaf makes the page dirty.
    if ((spte & (pte::kDirty | pte::kRw)) != 0) {
      r.dirty = true;
    }
    zap_spte(e.page, e.index);  // requests the flush of every TLB entry
    ++r.zapped;
    ++m_stats.rmap_zaps;
  }
  r.flushed = r.zapped != 0;
  if (r.flushed) {
    ++m_stats.flush_requests;  // one per notifier call (kvm_mmu_notifier_invalidate_range_start)
  }
  return r;
}

void ShadowMmu::for_each_leaf(const std::function<void(const Leaf&)>& f) const {
  for_each_present_leaf([&](std::uint32_t sp, unsigned i, std::uint64_t spte) {
    const ShadowPage& p = m_pages[sp];
    const PageSize size = pte::leaf_page_size(p.level);
    f(Leaf{.page = Hpa(spte & pte::page_address_mask(size)),
           .size = size,
           .gfn = p.gfns[i],
           .spte = spte,
           .level = p.level,
           .unsync = p.unsync});
  });
}

std::string ShadowMmu::audit_rmap() const {
  std::uint64_t leaves = 0;
  std::string why;
  for_each_present_leaf([&](std::uint32_t sp, unsigned i, std::uint64_t spte) {
    ++leaves;
    const ShadowPage& p = m_pages[sp];
    if (why.empty() && !m_rmap.contains(p.level, p.gfns[i], {sp, static_cast<std::uint16_t>(i)})) {
      why = "shadow leaf " + std::to_string(sp) + "[" + std::to_string(i) + "] (" + hex(spte) +
            ", gfn " + hex(p.gfns[i]) + ", level " + std::to_string(p.level) +
            ") is not in the rmap";
    }
  });
  if (why.empty() && leaves != m_rmap.entries()) {
    why = "the rmap holds " + std::to_string(m_rmap.entries()) + " leaves, the shadow pages " +
          std::to_string(leaves);
  }
  return why;
}

}  // namespace pagesim::shadow
