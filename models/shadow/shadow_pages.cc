// Shadow pages' lifetime (arch/x86/kvm/mmu/mmu.c): kvm_mmu_get_shadow_page, linking,
// mmu_set_spte, zapping a page with its unsync children, freeing it, mmu_sync_children and
// the limit on shadow pages (make_mmu_pages_available).
#include <algorithm>

#include "models/shadow/shadow_mmu.h"
#include "models/shadow/spte.h"

namespace pagesim::shadow {

namespace pte = paging::pte;

namespace {

// KVM_MIN_FREE_MMU_PAGES and KVM_REFILL_PAGES (arch/x86/kvm/mmu/mmu.c).
constexpr std::uint64_t kMinFreePages = 5;
constexpr std::uint64_t kRefillPages = 25;

}  // namespace

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
  m_by_frame.emplace(frame.value() >> spte::kGfnShift, sp);
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
  const std::uint64_t spte = spte::make_spte(page, level, access, writable, !speculative);
  m_last_spte_spurious = old == spte;  // mmu_set_spte: RET_PF_SPURIOUS
  if (!m_last_spte_spurious) {
    ++m_stats.sptes_set;
  }
  write_spte(sp, index, spte);
  m_pages[sp].gfns[index] = gfn;
  if (!kept) {
    m_rmap.add(level, gfn, {sp, static_cast<std::uint16_t>(index)});
  }
  if (spte::need_remote_flush(old, spte)) {
    flush_all();
    ++m_stats.flush_requests;
  }
  return !tracked;
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
  m_by_frame.erase(page.table.value() >> spte::kGfnShift);
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
  for (std::size_t v = 0; v < m_parked.size(); ++v) {
    if (v != m_vcpu && m_parked[v].root == sp) {
      m_parked[v].root = kNone;  // that vCPU's KVM_REQ_MMU_RELOAD: it reloads when it runs
    }
  }
  page.live = false;
  page.parents.clear();
  m_free_frames.push_back(page.table);
  m_free_pages.push_back(sp);
  --m_live;
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
  for (std::size_t v = 0; v < m_parked.size(); ++v) {
    if (v != m_vcpu && m_parked[v].root == sp) {
      return true;  // another vCPU's root
    }
  }
  const ShadowPage& p = m_pages[sp];
  if (p.direct || p.level != m_levels || p.access != pte::kAllRights) {
    return false;
  }
  // prev_roots keep the reference mmu_alloc_root took (kvm_mmu_free_roots drops it only
  // when a root leaves the cache): every vCPU's.
  const std::uint64_t g = p.gfn << spte::kGfnShift;
  if (std::find(m_prev_roots.begin(), m_prev_roots.end(), g) != m_prev_roots.end()) {
    return true;
  }
  for (std::size_t v = 0; v < m_parked.size(); ++v) {
    const std::vector<std::uint64_t>& prev = m_parked[v].prev_roots;
    if (v != m_vcpu && std::find(prev.begin(), prev.end(), g) != prev.end()) {
      return true;
    }
  }
  return false;
}

std::uint64_t ShadowMmu::held_obsolete_pages() const {
  std::vector<std::uint64_t> serials(m_obsolete_roots);
  for (std::size_t v = 0; v < m_parked.size(); ++v) {
    if (v != m_vcpu) {
      serials.insert(serials.end(), m_parked[v].obsolete_roots.begin(),
                     m_parked[v].obsolete_roots.end());
    }
  }
  std::sort(serials.begin(), serials.end());
  return static_cast<std::uint64_t>(std::unique(serials.begin(), serials.end()) - serials.begin());
}

void ShadowMmu::make_pages_available() {
  // make_mmu_pages_available: nothing to do while KVM_MIN_FREE_MMU_PAGES are free. The
  // roots kvm_mmu_zap_all_fast only invalidated are still KVM's pages (n_used_mmu_pages)
  // until their last holder drops them at its next entry: with several vCPUs one vCPU's
  // faults can come while another still holds one.
  const std::uint64_t used = m_live + held_obsolete_pages();
  const std::uint64_t avail = m_max_pages > used ? m_max_pages - used : 0;
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

}  // namespace pagesim::shadow
