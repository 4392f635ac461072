// The guest-walking half of the shadow MMU (arch/x86/kvm/mmu/paging_tmpl.h): the guest
// walk (FNAME(walk_addr_generic)), the shadow page fault (FNAME(page_fault), FNAME(fetch)),
// prefetch (FNAME(pte_prefetch)), a page's sync (FNAME(sync_spte)) and INVLPG.
#include <algorithm>

#include "models/shadow/shadow_mmu.h"
#include "models/shadow/spte.h"

namespace pagesim::shadow {

namespace pte = paging::pte;

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
    gw.table_gfn[level] = table >> spte::kGfnShift;
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
           spte::kGfnShift;

  // FNAME(update_accessed_dirty_bits): A on every entry used, D on the leaf for a store.
  for (unsigned l = m_levels; l >= level; --l) {
    std::uint64_t updated = ptes[l] | pte::kAccessed;
    if (l == level && write) {
      updated |= pte::kDirty;
    }
    if (updated != ptes[l]) {
      write_guest(Gpa((gw.table_gfn[l] << spte::kGfnShift) | pte::entry_offset(va, l)), updated,
                  cycles, host_fault);
      ptes[l] = updated;
    }
    if (l == 1) {
      break;
    }
  }
  gw.pte_access = write ? access : spte::protect_clean_gpte(access, ptes[level]);
  return gw;
}

ShadowMmu::Fault ShadowMmu::page_fault(Gva gva, AccessKind kind) {
  const Fault f = handle_page_fault(gva, kind);
  // shadow.vcpu_root_copy: the faulting vCPU's copy gets the top-level entry of the address
  // (a spurious fault through a stale copy is fixed by this alone).
  refresh_root_copy_entry(gva);
  return f;
}

ShadowMmu::Fault ShadowMmu::handle_page_fault(Gva gva, AccessKind kind) {
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
  f.gpa = Gpa((gw.gfn << spte::kGfnShift) | gva.page_offset(spte::kGfnShift));
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
  const Gpa gpa(gw.gfn << spte::kGfnShift);
  const PageSize host_allows = host::max_mapping_size(*backing.slot, gpa, backing.host_size);
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
      const std::uint64_t base_gfn = gw.gfn & ~(spte::pages_per_hpage(level) - 1);
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
  const bool tracked =
      !set_spte(sp, i, goal, gw.pte_access, gw.gfn & ~(spte::pages_per_hpage(goal) - 1),
                backing.hpa.page_base(page_shift(size)), host_writable, false);
  f.size = size;
  if (goal == pte::kPt && m_params.prefetch) {
    pte_prefetch(sp, i);
  }
  return !tracked;
}

bool ShadowMmu::prefetch_gpte(std::uint32_t sp, unsigned index, std::uint64_t gpte) {
  // FNAME(prefetch_invalid_gpte): only present, accessed guest entries.
  if ((gpte & pte::kPresent) == 0 || (gpte & pte::kAccessed) == 0) {
    return false;
  }
  const std::uint64_t gfn = (gpte & pte::kAddressMask) >> spte::kGfnShift;
  // Atomic GUP with FOLL_WRITE: never faults, and finds no read-only page (the zero page).
  const auto backing = m_vmm.resident(Gpa(gfn << spte::kGfnShift));
  if (!backing || !backing->host_writable) {
    return false;
  }
  const pte::Rights access = spte::protect_clean_gpte(
      static_cast<pte::Rights>(m_pages[sp].access & pte::rights_of(gpte)), gpte);
  set_spte(sp, index, pte::kPt, access, gfn, backing->hpa.page_base(spte::kGfnShift),
           !backing->slot->readonly, true);
  ++m_stats.prefetches;
  return true;
}

void ShadowMmu::pte_prefetch(std::uint32_t sp, unsigned index) {
  const unsigned first = index & ~(kPrefetchEntries - 1);
  if (!m_pages[sp].direct) {
    // FNAME(pte_prefetch): the group's other not-present entries from their guest entries,
    // stopping at the first that cannot be made.
    const Gpa table(m_pages[sp].gfn << spte::kGfnShift);
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
    const host::Memslot* slot = m_vmm.memslots().find(Gpa(gfn0 << spte::kGfnShift));
    if (slot == nullptr || !slot->contains(Gpa(((gfn0 + (end - run)) << spte::kGfnShift) - 1))) {
      return false;  // gfn_to_page_many_atomic fails: the run leaves the slot
    }
    unsigned done = 0;
    for (unsigned j = run; j < end; ++j) {
      const std::uint64_t gfn = m_pages[sp].gfn + j;
      const auto b = m_vmm.resident(Gpa(gfn << spte::kGfnShift));
      if (!b || !b->host_writable) {
        break;
      }
      set_spte(sp, j, pte::kPt, m_pages[sp].access, gfn, b->hpa.page_base(spte::kGfnShift),
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

int ShadowMmu::sync_spte(std::uint32_t sp, unsigned i) {
  const std::uint64_t spte = read_spte(sp, i);
  // kvm_vcpu_read_guest_atomic, under the MMU lock: no fault. A guest table page the host
  // evicted (or a GPA in no memslot) fails the read.
  const Gpa table(m_pages[sp].gfn << spte::kGfnShift);
  const auto b = m_vmm.resident(table + std::uint64_t{i} * 8);
  if (!b) {
    return -1;
  }
  const std::uint64_t gpte = m_memory.read_u64(b->hpa);
  const std::uint64_t gfn = (gpte & pte::kAddressMask) >> spte::kGfnShift;
  // FNAME(prefetch_invalid_gpte), or another gfn: drop_spte.
  if ((gpte & pte::kPresent) == 0 || (gpte & pte::kAccessed) == 0 || gfn != m_pages[sp].gfns[i]) {
    zap_spte(sp, i);
    return 1;
  }
  // The rights from the guest entry as it is now; the frame and A as they were (make_spte
  // over spte_to_pfn(spte): nothing is looked up, no SPTE is set anew).
  const pte::Rights access = spte::protect_clean_gpte(
      static_cast<pte::Rights>(m_pages[sp].access & pte::rights_of(gpte)), gpte);
  // make_spte with can_unsync = false: a gfn still shadowed in sync stays read-only, and
  // a read-only VMM page (the zero page) too.
  const auto host = m_vmm.resident(Gpa(gfn << spte::kGfnShift));
  const bool writable = (access & pte::kAllowWrite) != 0 && host && !host->slot->readonly &&
                        host->host_writable && try_to_unsync(gfn, true);
  const std::uint64_t updated = spte::make_spte(Hpa(spte & pte::kAddressMask), pte::kPt, access,
                                                writable, (spte & pte::kAccessed) != 0);
  if (updated == spte) {
    return 0;
  }
  write_spte(sp, i, updated);
  if (spte::need_remote_flush(spte, updated)) {
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

Cycles ShadowMmu::invlpg(Gva gva, std::uint16_t pcid, std::optional<Gpa> guest_root) {
  const Cycles cost = m_exit_params.latency + m_params.invlpg_latency;
  count_exit(m_exits.invlpg, cost);
  m_flush.merge(TlbFlush::page(gva, pcid));
  if (!guest_root) {
    return cost;
  }
  const auto root =
      m_hash.find(key(guest_root->value() >> spte::kGfnShift, m_levels, false, pte::kAllRights));
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

}  // namespace pagesim::shadow
