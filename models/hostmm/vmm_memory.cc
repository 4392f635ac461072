#include "models/hostmm/vmm_memory.h"

#include <algorithm>
#include <stdexcept>

#include "base/hex.h"

namespace pagesim::hostmm {

VmmMemory::VmmMemory(HostMm& mm, const os::OsParams& host, mem::PhysicalMemory& memory,
                     mem::FrameAllocator& frames, stats::Group* parent,
                     stats::Group* vm_stats_parent, std::uint32_t vcpus)
    : m_mm(mm),
      m_memory(memory),
      m_frames(frames),
      m_os(host, 4, memory, frames, parent, "host"),
      m_page_size(os::thp_page_size(host.thp)),
      m_vcpus(vcpus),
      m_zero_fault_latency(host.page_fault_latency),
      m_owner(mm.attach(*this)),
      m_stats(std::make_unique<VmmStats>(vm_stats_parent, "vm" + std::to_string(m_owner))) {
  m_os.enable_huge_page_splitting();  // THP fallback, and split ranges (thp_reclaim=split)
}

VmmMemory::Mapping VmmMemory::fault_in(Hva hva, AccessKind kind, Cycles& cycles, bool& host_fault) {
  if (auto page = m_os.lookup(kAsid, hva)) {
    return *page;
  }
  if (m_huge_zero_mapped.contains(huge_of(hva))) {
    // do_huge_pmd_wp_page on the huge zero PMD: the huge page and its tables reserved
    // first (vma_alloc_anon_folio_pmd), as for any THP fault.
    const Cycles reclaim_wait = m_mm.reserve(page_bytes(PageSize::k2M) + 16 * 4 * kKiB);
    cycles += copy_huge_zero_page(hva, reclaim_wait);
    host_fault = true;
    return *m_os.lookup(kAsid, hva);
  }
  if (const auto zero = m_zero_mapped.find(page_of(hva)); zero != m_zero_mapped.end()) {
    // wp_page_copy: the zero page's PTE is replaced by a new page; the secondary MMU's
    // read-only entries for it go first (mmu_notifier_invalidate_range_start).
    m_zero_mapped.erase(zero);
    ++m_stats->zero_page_cows;
    InvalidateResult inv;
    const Hva base = hva.page_base(12);
    invalidate(base, base + 4096, inv);
  }
  const bool shared = shmem(hva);
  // The page (unless the page cache has it) and, at most, a table page per level of the
  // host's and the secondary MMU's tables on the way: what the fault may take. Reclaim
  // may take the cached page meanwhile (it is on the LRU): it is looked up after.
  const std::uint64_t page_need = page_cached(hva) ? 0 : page_bytes(slot_size(hva));
  const Cycles reclaim_wait = m_mm.reserve(page_need + 16 * 4 * kKiB);
  if (shared && kind != AccessKind::kWrite) {
    fault_around(hva);  // do_read_fault; a store is do_shared_fault, without
  }
  if (const auto cached = m_page_cache.find(page_of(hva)); cached != m_page_cache.end()) {
    // shmem_fault finds the folio in the page cache: a minor fault maps it again (it
    // stayed on the LRU, with its contents).
    const Hpa frame = cached->second;
    m_page_cache.erase(cached);
    const Cycles fault = m_os.handle_small_page_fault(kAsid, hva, frame);
    cycles += reclaim_wait + fault;
    m_stats->host_wait_cycles += reclaim_wait.count();
    host_fault = true;
    return *m_os.lookup(kAsid, hva);
  }
  const Cycles fault = shared ? m_os.handle_small_page_fault(kAsid, hva, std::nullopt)
                              : m_os.handle_page_fault(kAsid, hva, kind, fault_size_limit(hva));
  cycles += reclaim_wait + fault;
  m_stats->host_wait_cycles += reclaim_wait.count();
  host_fault = true;
  const Mapping page = *m_os.lookup(kAsid, hva);
  const Hva base = hva.page_base(page_shift(page.size));
  const std::uint64_t pages = page_bytes(page.size) >> 12;
  m_memory.forget_stores(page.page_base, pages);  // a fresh page: cleared (clear_page)
  if (const auto folio = m_pte_mapped_folios.find(huge_of(base));
      folio != m_pte_mapped_folios.end()) [[unlikely]] {
    if (page.size != PageSize::k4K) {
      m_pte_mapped_folios.erase(folio);  // a huge page there again: no folio of PTEs
    } else {
      folio->second.faulted_since.set(page_of(base) & 511);  // a folio of its own
    }
  }
  if (auto it = m_evicted.find(page_of(base)); it != m_evicted.end()) {
    if (watched(base, page.size)) {
      m_observer->host_refault(hva, page.page_base, it->second != 0);
    }
    ++m_mm.stats().refaults;
    ++m_stats->refaults;
    m_stats->host_wait_cycles += fault.count();
    const std::uint64_t entry = it->second;
    m_evicted.erase(it);
    if (entry != 0) {
      // do_swap_page: read it back; the entry stays as the page's swap cache copy.
      m_mm.stats().swap_ins += pages;
      m_stats->swap_ins += pages;
      const Cycles read(m_mm.params().swap_in_latency.count() * pages);
      cycles += read;
      m_stats->host_wait_cycles += read.count();
      if (const auto* words = m_mm.swap().contents(entry)) {
        restore_contents(page.page_base, *words);
      }
      // What was written to swap was data (the model keeps no values): stored to, as a
      // whole.
      m_memory.note_stores(page.page_base, pages);
      if (shared) {
        m_mm.swap().release(entry);  // shmem_swapin_folio: the page is dirty, its entry freed
      } else {
        m_swap_cache[page_of(base)] = entry;
      }
    }
  }
  m_mm.lru_add(m_owner, base, page.page_base, page.size);
  return page;
}

void VmmMemory::fault_around(Hva hva) {
  const std::uint64_t n = m_mm.params().fault_around_bytes.bytes >> 12;
  const std::uint64_t p = page_of(hva);
  if (n <= 1) {
    return;  // should_fault_around: one page is no fault-around
  }
  // do_fault_around: the naturally aligned block of fault_around_bytes holding the page,
  // clamped to the VMA (the memfd's mapping) and to the page table (n <= 512 keeps an
  // aligned block inside one); filemap_map_pages then maps each page of it the page cache
  // holds, uptodate and not mapped yet (pages on swap are not in the page cache). The
  // faulting page itself, if cached, is the fault's own (fault_in maps it).
  std::uint64_t from = p & ~(n - 1);
  std::uint64_t to = from + n;
  for (const auto& [first, last] : m_shmem) {
    if (p >= first && p < last) {
      from = std::max(from, first);
      to = std::min(to, last);
      break;
    }
  }
  for (std::uint64_t q = from; q < to; ++q) {
    const auto cached = m_page_cache.find(q);
    if (q == p || cached == m_page_cache.end()) {
      continue;
    }
    m_os.map_page_near_fault(kAsid, Hva(q << 12), cached->second);
    m_page_cache.erase(cached);
    ++m_stats->faulted_around;
  }
}

void VmmMemory::add_vma(Hva begin, Hva end, bool shared, bool thp) {
  const std::uint64_t first = page_of(begin);
  const std::uint64_t last = (end.value() + 4095) >> 12;
  for (Vma& vma : m_vmas) {
    if (vma.shared == shared && vma.thp == thp && vma.last == first) {
      vma.last = last;
      return;
    }
    if (vma.shared == shared && vma.thp == thp && vma.first == last) {
      vma.first = first;
      return;
    }
  }
  m_vmas.push_back(Vma{first, last, shared, thp});
}

void VmmMemory::add_anon(Hva begin, Hva end, bool thp) { add_vma(begin, end, false, thp); }

void VmmMemory::add_shmem(Hva begin, Hva end) {
  add_vma(begin, end, true, true);
  m_shmem.emplace_back(page_of(begin), (end.value() + 4095) >> 12);
}

PageSize VmmMemory::fault_size_limit(Hva hva) const {
  if (m_vmas.empty()) {
    return PageSize::k1G;
  }
  const std::uint64_t p = page_of(hva);
  for (const Vma& vma : m_vmas) {
    if (p < vma.first || p >= vma.last) {
      continue;
    }
    if (!vma.thp) {
      return PageSize::k4K;  // hugepage_vma_check: no VM_HUGEPAGE under madvise (nothp)
    }
    // transhuge_vma_suitable: the naturally aligned huge page inside [vm_start, vm_end).
    for (const PageSize size : {PageSize::k1G, PageSize::k2M}) {
      const std::uint64_t pages = page_bytes(size) >> 12;
      const std::uint64_t base = p & ~(pages - 1);
      if (base >= vma.first && base + pages <= vma.last) {
        return size;
      }
    }
    return PageSize::k4K;
  }
  return PageSize::k4K;
}

bool VmmMemory::shmem(Hva hva) const {
  const std::uint64_t p = page_of(hva);
  for (const auto& [first, last] : m_shmem) {
    if (p >= first && p < last) {
      return true;
    }
  }
  return false;
}

bool VmmMemory::any_shmem(Hva begin, Hva end) const {
  const std::uint64_t b = page_of(begin);
  const std::uint64_t e = (end.value() + 4095) >> 12;
  for (const auto& [first, last] : m_shmem) {
    if (first < e && b < last) {
      return true;
    }
  }
  return false;
}

bool VmmMemory::all_shmem(Hva begin, Hva end) const {
  // The ranges never overlap (each is a memslot's own VMM memory): covered when the pages
  // of [begin, end) inside them add up to all of it.
  const std::uint64_t b = page_of(begin);
  const std::uint64_t e = (end.value() + 4095) >> 12;
  std::uint64_t covered = 0;
  for (const auto& [first, last] : m_shmem) {
    const std::uint64_t lo = std::max(first, b);
    const std::uint64_t hi = std::min(last, e);
    covered += hi > lo ? hi - lo : 0;
  }
  return covered == e - b;
}

PageSize VmmMemory::slot_size(Hva base) const {
  if (shmem(base)) {
    return PageSize::k4K;
  }
  const PageSize slot = m_os.slot_size(kAsid, base);
  const PageSize limit = fault_size_limit(base);
  return page_bytes(limit) < page_bytes(slot) ? limit : slot;
}

const char* VmmMemory::advice_name(Advice advice) {
  switch (advice) {
    case Advice::kDontneed:
      return "MADV_DONTNEED";
    case Advice::kPageout:
      return "MADV_PAGEOUT";
    case Advice::kCold:
      return "MADV_COLD";
    case Advice::kFree:
      return "MADV_FREE";
    case Advice::kRemove:
      return "MADV_REMOVE";
  }
  return "madvise";
}

std::optional<VmmMemory::Mapping> VmmMemory::zero_mapping(Hva hva) const {
  if (m_zero_mapped.contains(page_of(hva))) {
    return Mapping{m_zero_frame, PageSize::k4K};
  }
  if (m_huge_zero_mapped.contains(huge_of(hva))) {
    return Mapping{m_huge_zero_frame, PageSize::k2M};
  }
  return std::nullopt;
}

Hpa VmmMemory::small_zero_frame() {
  if (!m_have_zero_frame) {
    m_zero_frame = m_frames.allocate(PageSize::k4K);
    m_memory.zero_frame(m_zero_frame);
    m_have_zero_frame = true;
  }
  return m_zero_frame;
}

Cycles VmmMemory::copy_huge_zero_page(Hva hva, Cycles reclaim_wait) {
  const Hva huge = hva.page_base(page_shift(PageSize::k2M));
  m_huge_zero_mapped.erase(huge_of(hva));
  ++m_stats->zero_page_cows;
  m_stats->host_wait_cycles += reclaim_wait.count();
  // do_huge_zero_wp_pmd: mmu_notifier_invalidate_range_start over the 2 MiB (the secondary
  // MMU's read-only entries for the huge zero page go), then the new huge page's PMD
  // (map_anon_folio_pmd). Without a free 2 MiB frame the fault falls back: __split_huge_pmd
  // invalidates the same 2 MiB and gives the range a page table, and the store's page is
  // copied alone below.
  InvalidateResult inv;
  invalidate(huge, huge + page_bytes(PageSize::k2M), inv);
  const Cycles fault =
      m_os.handle_page_fault(kAsid, hva, AccessKind::kWrite, fault_size_limit(hva));
  const Mapping page = *m_os.lookup(kAsid, hva);
  const Hva base = hva.page_base(page_shift(page.size));
  m_memory.forget_stores(page.page_base, page_bytes(page.size) >> 12);  // a copy of zeros
  if (page.size == PageSize::k4K) {
    // __split_huge_zero_page_pmd: every other PTE of the range maps the small zero page;
    // then do_wp_page -> wp_page_copy of the store's own page, with its own invalidation.
    small_zero_frame();
    for (std::uint64_t p = page_of(huge); p < page_of(huge) + 512; ++p) {
      if (p != page_of(base)) {
        m_zero_mapped.insert(p);
      }
    }
    InvalidateResult copy;
    invalidate(base, base + 4 * kKiB, copy);
  }
  m_mm.lru_add(m_owner, base, page.page_base, page.size);
  return reclaim_wait + fault;
}

bool VmmMemory::map_zero_page(Hva hva, Cycles& cycles, bool& host_fault) {
  if (!zero_page_enabled()) {
    return false;
  }
  if (zero_mapped(hva)) {
    return true;
  }
  const Hva base = hva.page_base(12);
  if (shmem(hva) || m_os.lookup(kAsid, hva)) {
    return false;
  }
  PageSize slot = slot_size(base);
  if (slot == PageSize::k2M && m_mm.params().thp_zero_page) {
    // do_huge_pmd_anonymous_page for a read, with transparent_hugepage/use_zero_page: the
    // PMD maps the huge zero page (set_huge_zero_folio), unless the range is on swap.
    const Hva huge = hva.page_base(page_shift(PageSize::k2M));
    if (const auto it = m_evicted.find(page_of(huge)); it != m_evicted.end() && it->second != 0) {
      return false;  // do_swap_page reads it back
    }
    m_evicted.erase(page_of(huge));  // a dropped huge page reads as zeros again
    if (!m_have_huge_zero_frame) {
      // mm_get_huge_zero_page: a zeroed 2 MiB page at its first use.
      try {
        m_huge_zero_frame = m_frames.allocate(PageSize::k2M);
        m_have_huge_zero_frame = true;
        for (std::uint64_t off = 0; off < page_bytes(PageSize::k2M); off += 4 * kKiB) {
          const Hpa frame = m_huge_zero_frame + off;
          const std::uint64_t* words = m_memory.frame(frame.value() >> 12);
          if (!std::all_of(words, words + 512, [](std::uint64_t w) { return w == 0; })) {
            m_memory.zero_frame(frame);
          }
        }
      } catch (const mem::OutOfMemory&) {
        // THP_ZERO_PAGE_ALLOC_FAILED: VM_FAULT_FALLBACK, and do_anonymous_page maps the
        // small zero page under a new page table (pte_alloc).
        m_os.add_pte_table(kAsid, base);
        slot = PageSize::k4K;
      }
    }
    if (slot == PageSize::k2M) {
      m_huge_zero_mapped.insert(huge_of(hva));
      ++m_stats->zero_page_faults;
      cycles += m_zero_fault_latency;  // a fault without clear_page
      host_fault = true;
      return true;
    }
  }
  if (slot != PageSize::k4K) {
    return false;
  }
  if (const auto it = m_evicted.find(page_of(base)); it != m_evicted.end() && it->second != 0) {
    return false;  // on swap: do_swap_page reads it back
  }
  small_zero_frame();
  m_evicted.erase(page_of(base));  // a dropped page reads as zeros again
  m_zero_mapped.insert(page_of(base));
  ++m_stats->zero_page_faults;
  cycles += m_zero_fault_latency;  // a fault without clear_page
  host_fault = true;
  return true;
}

std::vector<std::uint64_t> VmmMemory::take_contents(Hpa hpa, PageSize size) {
  constexpr std::uint64_t kWords = mem::PhysicalMemory::kFrameBytes / 8;
  std::vector<std::uint64_t> out;
  const std::uint64_t first = hpa.value() >> mem::PhysicalMemory::kFrameShift;
  const std::uint64_t frames = page_bytes(size) >> mem::PhysicalMemory::kFrameShift;
  for (std::uint64_t k = 0; k < frames; ++k) {
    std::uint64_t* words = m_memory.frame(first + k);
    if (std::all_of(words, words + kWords, [](std::uint64_t w) { return w == 0; })) {
      continue;
    }
    out.push_back(k);
    out.insert(out.end(), words, words + kWords);
    std::fill_n(words, kWords, std::uint64_t{0});
  }
  return out;
}

void VmmMemory::restore_contents(Hpa hpa, const std::vector<std::uint64_t>& contents) {
  constexpr std::uint64_t kWords = mem::PhysicalMemory::kFrameBytes / 8;
  const std::uint64_t first = hpa.value() >> mem::PhysicalMemory::kFrameShift;
  for (std::size_t i = 0; i + kWords < contents.size() + 1; i += kWords + 1) {
    std::copy_n(&contents[i + 1], kWords, m_memory.frame(first + contents[i]));
  }
}

void VmmMemory::invalidate(Hva begin, Hva end, InvalidateResult& r) {
  r = m_mm.notify_invalidate(m_notifier, m_vcpus, begin, end);
  if (r.flushed) {
    m_flush = true;
    m_stats->shootdowns += m_vcpus;
    // The replayed vCPU is one of those interrupted; the others replay nothing.
    m_pending += m_mm.params().shootdown_latency;
    m_stats->shootdown_cycles += m_mm.params().shootdown_latency.count();
  }
}

void VmmMemory::split_huge(Hva base) {
  InvalidateResult inv;
  invalidate(base, base + page_bytes(PageSize::k2M), inv);
  if (const auto cached = m_swap_cache.find(page_of(base)); cached != m_swap_cache.end()) {
    m_mm.swap().release(cached->second);
    m_swap_cache.erase(cached);
  }
  if (!m_os.split_huge(kAsid, base)) {
    throw std::logic_error("VMM memory: no 2 MiB page at " + hex(base.value()) + " to split");
  }
  if (m_lazyfree.contains(page_of(base))) {
    // __split_folio_to_order: every piece keeps the folio's flags, lazily free ones too.
    for (std::uint64_t p = page_of(base) + 1; p < page_of(base) + 512; ++p) {
      m_lazyfree.insert(p);
    }
  }
}

void VmmMemory::map_unused_to_zero_page(Hva base) {
  const auto folio = m_pte_mapped_folios.find(huge_of(base));
  std::optional<PteMappedFolio> pieces;
  if (folio != m_pte_mapped_folios.end()) {
    pieces = folio->second;  // the folio splits now: only its own pieces are remapped
    m_pte_mapped_folios.erase(folio);
  }
  if (!zero_page_enabled() || !m_memory.tracks_stores()) {
    return;
  }
  for (std::uint64_t p = page_of(base); p < page_of(base) + 512; ++p) {
    const Hva piece(p << 12);
    const auto page = m_os.lookup(kAsid, piece);
    const std::uint64_t i = p - page_of(base);
    if (!page || page->size != PageSize::k4K || (pieces && !pieces->holds(i, *page)) ||
        !m_memory.zero_filled(page->page_base)) {
      continue;
    }
    m_os.unmap(kAsid, piece);
    m_mm.lru_remove(page->page_base);
    m_frames.free(page->page_base, PageSize::k4K);
    m_lazyfree.erase(p);
    small_zero_frame();
    m_zero_mapped.insert(p);
    ++m_stats->split_zero_pages;
    if (watched(piece, PageSize::k4K)) {
      m_observer->host_evicted(piece, page->page_base, false, true, 0);
    }
  }
}

void VmmMemory::split_partly_advised(Hva huge, Advice advice) {
  if (shmem(huge)) {
    return;  // 4 KiB pages only
  }
  if (const auto page = m_os.lookup(kAsid, huge); page && page->size == PageSize::k2M) {
    // A resident huge page: MADV_DONTNEED's zap_pmd_range splits its PMD (__split_huge_pmd)
    // before zap_pte_range takes the advised part; MADV_FREE (madvise_free_huge_pmd),
    // MADV_COLD and MADV_PAGEOUT (madvise_cold_or_pageout_pte_range) split the folio
    // (split_folio), then act on the advised PTEs. Either way one invalidation over the
    // 2 MiB (the secondary MMU's huge or small leaves there go), the PMD a table of 512
    // PTEs over the same frames, and here the frame and its LRU entry split too (Linux
    // frees the zapped pieces of a PMD-split folio when deferred_split_scan splits it).
    split_huge(huge);
    m_mm.split_page(page->page_base);
    if (advice == Advice::kDontneed) {
      m_pte_mapped_folios[huge_of(huge)] = PteMappedFolio{page->page_base, {}};
    } else {
      map_unused_to_zero_page(huge);
    }
    return;
  }
  if (advice == Advice::kDontneed && m_huge_zero_mapped.contains(huge_of(huge))) {
    // __split_huge_pmd of the huge zero page (__split_huge_zero_page_pmd): the invalidation
    // over the 2 MiB, then a page table whose 512 PTEs map the small zero page; the loop
    // of madvise() zaps the advised ones. MADV_FREE, COLD and PAGEOUT leave the huge zero
    // page alone (is_huge_zero_pmd).
    InvalidateResult inv;
    invalidate(huge, huge + page_bytes(PageSize::k2M), inv);
    m_huge_zero_mapped.erase(huge_of(huge));
    m_os.add_pte_table(kAsid, huge);
    small_zero_frame();
    for (std::uint64_t p = page_of(huge); p < page_of(huge) + 512; ++p) {
      m_zero_mapped.insert(p);
    }
  }
}

bool VmmMemory::evict(Hva base, Hpa hpa, PageSize size, bool direct, Cycles& cycles) {
  const std::uint64_t pages = page_bytes(size) >> 12;
  if (const auto lazy = m_lazyfree.find(page_of(base)); lazy != m_lazyfree.end()) {
    // A lazily freed page (MADV_FREE): unmapped first; not written since (no dirty or
    // writable secondary-MMU leaf, no contents), it is dropped without swap and refaults
    // zero-filled; written again, it is an ordinary dirty page from here on.
    m_lazyfree.erase(lazy);
    InvalidateResult inv;
    invalidate(base, base + page_bytes(size), inv);
    if (!inv.dirty && take_contents(hpa, size).empty()) {
      if (auto it = m_swap_cache.find(page_of(base)); it != m_swap_cache.end()) {
        m_mm.swap().release(it->second);
        m_swap_cache.erase(it);
      }
      ++m_mm.stats().dropped;
      m_os.unmap(kAsid, base);
      m_evicted[page_of(base)] = 0;
      m_stats->reclaimed += pages;
      if (watched(base, size)) {
        m_observer->host_evicted(base, hpa, false, true, inv.zapped);
      }
      return true;
    }
  }
  const auto cached = m_swap_cache.find(page_of(base));
  const bool has_copy = cached != m_swap_cache.end();
  const bool shared = shmem(base);
  const auto in_cache = m_page_cache.find(page_of(base));
  const bool mapped = in_cache == m_page_cache.end();
  const bool room = has_copy || m_mm.swap().has_room(pages);
  // Anonymous memory: add_to_swap before try_to_unmap: a page without a swap copy needs
  // room first. Shared memory: try_to_unmap first (an unmapped page needs none), then
  // shmem_writeout, which without swap leaves the page in the page cache, unmapped.
  if (!room && (!shared || !mapped)) {
    return false;
  }
  InvalidateResult inv;
  if (mapped) {
    invalidate(base, base + page_bytes(size), inv);
  }
  if (!room) {
    m_os.unmap(kAsid, base);
    m_page_cache.emplace(page_of(base), hpa);
    if (watched(base, size)) {
      m_observer->host_unmapped(base, hpa, inv.zapped);
    }
    return false;
  }
  std::vector<std::uint64_t> contents = take_contents(hpa, size);
  std::uint64_t entry = has_copy ? cached->second : 0;
  // The model keeps contents only for pages it reads back (guest page tables): such a page
  // is always written, and so is one whose swap copy holds contents it no longer has.
  const bool dirty =
      !has_copy || inv.dirty || !contents.empty() || m_mm.swap().contents(entry) != nullptr;
  if (dirty) {
    if (entry == 0) {
      entry = *m_mm.swap().allocate(pages);
    }
    m_mm.swap().store(entry, std::move(contents));
    m_mm.stats().swap_outs += pages;
    m_stats->swap_outs += pages;
    if (direct) {
      cycles += Cycles(m_mm.params().swap_out_latency.count() * pages);
    }
  } else {
    ++m_mm.stats().dropped;
  }
  if (has_copy) {
    m_swap_cache.erase(cached);
  }
  if (mapped) {
    m_os.unmap(kAsid, base);
  } else {
    m_page_cache.erase(in_cache);
  }
  m_evicted[page_of(base)] = entry;
  m_stats->reclaimed += pages;
  if (watched(base, size)) {
    m_observer->host_evicted(base, hpa, dirty, false, inv.zapped);
  }
  return true;
}

bool VmmMemory::test_young(Hva base, PageSize size) {
  const bool young = m_mm.notify_test_young(m_notifier, base, base + page_bytes(size));
  if (watched(base, size)) {
    m_observer->host_aged(base, young, false);
  }
  return young;
}

bool VmmMemory::clear_young(Hva base, PageSize size) {
  const bool young = m_mm.notify_clear_young(m_notifier, base, base + page_bytes(size));
  if (watched(base, size)) {
    m_observer->host_aged(base, young, true);
  }
  return young;
}

std::uint64_t VmmMemory::madvise(Advice advice, Hva begin, Hva end) {
  // madvise_free_single_vma and madvise_remove refuse the other kind of memory (EINVAL).
  if ((advice == Advice::kFree && any_shmem(begin, end)) ||
      (advice == Advice::kRemove && !all_shmem(begin, end))) {
    throw MadviseError(std::string(advice_name(advice)) + " of HVA [" + hex(begin.value()) + ", " +
                       hex(end.value()) + "): " +
                       (advice == Advice::kFree
                            ? "the range holds shared memory (a memfd); MADV_FREE is for "
                              "private anonymous memory (EINVAL)"
                            : "the range holds private anonymous memory; MADV_REMOVE is for "
                              "shared memory, a memfd (EINVAL)"));
  }
  std::uint64_t acted = 0;
  // MADV_DONTNEED (zap_page_range_single), MADV_FREE (madvise_free_single_vma) and
  // MADV_REMOVE (shmem_fallocate's unmap_mapping_range): one mmu_notifier invalidation over
  // the range itself (mmu_notifier_range_init(..., start, end)), then the PTEs page by
  // page: the secondary MMU zaps once and flushes once. Shared memory has 4 KiB pages
  // only.
  const std::uint64_t huge = all_shmem(begin, end) ? 4 * kKiB : page_bytes(m_page_size);
  InvalidateResult range;
  if (advice == Advice::kDontneed || advice == Advice::kFree || advice == Advice::kRemove) {
    invalidate(begin, end, range);
  }
  // A 2 MiB page the range covers in part is split first, with an invalidation of its
  // own (split_partly_advised: zap_pmd_range's `next - addr != HPAGE_PMD_SIZE`); one the
  // range covers whole is acted on whole below (zap_huge_pmd, madvise_free_huge_pmd, ...).
  // (With host.thp=1g too: a mapping's edges get 2 MiB pages, fault_size_limit.)
  if (huge >= page_bytes(PageSize::k2M) && begin.value() < end.value()) {
    const std::uint64_t pmd = page_bytes(PageSize::k2M);
    const std::uint64_t first = begin.value() & ~(pmd - 1);
    const std::uint64_t last = (end.value() - 1) & ~(pmd - 1);
    auto partly = [&](std::uint64_t h) { return h < begin.value() || h + pmd > end.value(); };
    if (partly(first)) {
      split_partly_advised(Hva(first), advice);
    }
    if (last != first && partly(last)) {
      split_partly_advised(Hva(last), advice);
    }
  }
  // A folio MADV_DONTNEED left mapped by PTEs, with a piece in the range: MADV_FREE, COLD
  // and PAGEOUT split it first (madvise_free_pte_range, madvise_cold_or_pageout_pte_range:
  // split_folio when the PTEs in range map fewer than all its pages).
  if ((advice == Advice::kFree || advice == Advice::kCold || advice == Advice::kPageout) &&
      !m_pte_mapped_folios.empty() && begin.value() < end.value()) {
    const std::uint64_t pmd = page_bytes(PageSize::k2M);
    for (std::uint64_t h = begin.value() >> 21; h <= (end.value() - 1) >> 21; ++h) {
      const auto it = m_pte_mapped_folios.find(h);
      if (it == m_pte_mapped_folios.end()) {
        continue;
      }
      const PteMappedFolio& folio = it->second;
      const std::uint64_t from = std::max(begin.value(), h * pmd);
      const std::uint64_t to = std::min(end.value(), (h + 1) * pmd);
      bool met = false;
      for (std::uint64_t a = from; a < to && !met; a += 4 * kKiB) {
        const std::uint64_t i = (a - h * pmd) >> 12;
        const auto piece = m_os.lookup(kAsid, Hva(a));
        met = piece && folio.holds(i, *piece);
      }
      if (met) {
        map_unused_to_zero_page(Hva(h * pmd));
      }
    }
  }
  // Page by page, each of its own size: huge pages whole (from the huge page holding
  // `begin`), the small pages of a split range (or a THP fallback) one by one.
  // A page's base is aligned to its size (by its mapping's bounds, a slot may be smaller
  // than `huge`, or past the start of a larger one).
  for (std::uint64_t a = begin.value() & ~(huge - 1); a < end.value();) {
    const auto page = m_os.lookup(kAsid, Hva(a));
    const std::uint64_t step = page_bytes(page ? page->size : slot_size(Hva(a)));
    const Hva base(a & ~(step - 1));
    a = base.value() + step;
    if (base.value() + step <= begin.value()) {
      continue;  // a small page of a split range below the advised one
    }
    if (step == page_bytes(PageSize::k1G) &&
        (base.value() < begin.value() || base.value() + step > end.value())) {
      // A 1 GiB page the range covers in part is left whole, resident or not: the model
      // splits no 1 GiB page (Linux has no anonymous PUD-level THP to split; hugetlbfs,
      // where 1 GiB pages live, rounds a MADV_DONTNEED to whole huge pages,
      // madvise_dontneed_free_valid_vma). The invalidation over the range zapped only the
      // secondary MMU's leaves, which fault back to the same frames.
      continue;
    }
    if (!page) {
      if (advice == Advice::kDontneed && zero_mapped(base)) {
        // zap_page_range: the zero page's PTE goes too (zap_huge_pmd: the huge zero page's
        // PMD).
        m_zero_mapped.erase(page_of(base));
        m_huge_zero_mapped.erase(huge_of(base));
        acted += step >> 12;
        continue;
      }
      if (const auto cached = m_page_cache.find(page_of(base));
          advice == Advice::kRemove && cached != m_page_cache.end()) {
        // shmem_truncate_range: a page-cache page nobody maps is freed too.
        take_contents(cached->second, PageSize::k4K);
        m_mm.lru_remove(cached->second);
        m_frames.free(cached->second, PageSize::k4K);
        m_page_cache.erase(cached);
        m_evicted[page_of(base)] = 0;
        m_stats->dropped += 1;
        acted += 1;
        continue;
      }
      const bool shared = shmem(base);
      if (advice == Advice::kRemove ||
          (!shared && (advice == Advice::kDontneed || advice == Advice::kFree))) {
        // A swapped page: its entry goes, the next touch reads zeros (MADV_FREE too:
        // free_swap_and_cache). A shared page's swap entry belongs to the file: only
        // MADV_REMOVE frees it.
        if (auto it = m_evicted.find(page_of(base)); it != m_evicted.end() && it->second != 0) {
          m_mm.swap().release(it->second);
          it->second = 0;
          acted += step >> 12;
        }
      }
      continue;
    }
    const bool shared = shmem(base);
    switch (advice) {
      case Advice::kDontneed:
        if (shared) {
          // zap_page_range: the PTE cleared; the page stays in the page cache.
          m_os.unmap(kAsid, base);
          m_page_cache.emplace(page_of(base), page->page_base);
          if (watched(base, page->size)) {
            m_observer->host_unmapped(base, page->page_base, range.zapped);
          }
          acted += step >> 12;
          break;
        }
        [[fallthrough]];
      case Advice::kRemove: {
        // zap_page_range (the notifier went first), then the page freed, no swap:
        // MADV_DONTNEED of anonymous memory, or shmem_truncate_range's hole.
        take_contents(page->page_base, page->size);
        m_mm.lru_remove(page->page_base);
        if (auto it = m_swap_cache.find(page_of(base)); it != m_swap_cache.end()) {
          m_mm.swap().release(it->second);
          m_swap_cache.erase(it);
        }
        m_os.unmap(kAsid, base);
        m_frames.free(page->page_base, page->size);
        m_evicted[page_of(base)] = 0;
        m_lazyfree.erase(page_of(base));
        m_stats->dropped += step >> 12;
        if (watched(base, page->size)) {
          m_observer->host_evicted(base, page->page_base, false, true, range.zapped);
        }
        acted += step >> 12;
        break;
      }
      case Advice::kPageout:
        // reclaim_pages: evicted now; a shared page is unmapped first (its own
        // invalidation) and, with no swap room, stays in the page cache.
        if (m_mm.page_out(page->page_base) || page_cached(base)) {
          acted += step >> 12;
        } else if (page->size == PageSize::k2M && !shmem(base)) {
          // shrink_folio_list: an anonymous THP that gets no swap slot (folio_alloc_swap
          // fails) is split to swap its pieces ("Fallback to swap normal pages":
          // split_folio_to_list, the PMD split: one invalidation over the 2 MiB); the
          // pieces get no slot either and stay, mapped by PTEs (activate_locked_split).
          split_huge(base);
          m_mm.split_page(page->page_base);
          map_unused_to_zero_page(base);
        }
        break;
      case Advice::kCold:
        clear_young(base, page->size);
        m_mm.lru_deactivate(page->page_base);
        acted += step >> 12;
        break;
      case Advice::kFree:
        // madvise_free_pte_range: the page stays mapped, clean and lazily free
        // (lru_lazyfree: to the inactive list); reclaim drops it unless written again.
        m_lazyfree.insert(page_of(base));
        m_mm.lru_deactivate(page->page_base);
        acted += step >> 12;
        break;
    }
  }
  if (advice == Advice::kDontneed && m_mm.params().pt_reclaim) {
    // CONFIG_PT_RECLAIM: each 2 MiB range the advice covers whole whose page table is empty
    // now loses it (try_to_free_pte): the next fault there may map a huge page.
    const std::uint64_t pmd = page_bytes(PageSize::k2M);
    for (std::uint64_t h = (begin.value() + pmd - 1) & ~(pmd - 1); h + pmd <= end.value();
         h += pmd) {
      if (m_os.free_empty_pte_table(kAsid, Hva(h))) {
        m_pte_mapped_folios.erase(huge_of(Hva(h)));
      }
    }
  }
  m_mm.stats().madvised += acted;
  return acted;
}

}  // namespace pagesim::hostmm
