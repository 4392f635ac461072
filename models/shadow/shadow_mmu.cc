// KVM's shadow MMU (arch/x86/kvm/mmu/mmu.c): the guest memory it reads and writes, the roots
// (kvm_mmu_load, fast_pgd_switch), CR3 writes, and the walks over every leaf for audits.
// The other parts are in the files KVM keeps them in: shadow_paging_tmpl.cc,
// shadow_pages.cc, shadow_page_track.cc, shadow_zap.cc, shadow_mmu_notifier.cc.
#include "models/shadow/shadow_mmu.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "base/hex.h"
#include "models/shadow/spte.h"

namespace pagesim::shadow {

namespace pte = paging::pte;

namespace {

// KVM_PERMILLE_MMU_PAGES and KVM_MIN_ALLOC_MMU_PAGES (arch/x86/include/asm/kvm_host.h).
constexpr std::uint64_t kPermilleMmuPages = 20;
constexpr std::uint64_t kMinAllocMmuPages = 64;

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
  return m_by_frame.at((spte & pte::kAddressMask) >> spte::kGfnShift);
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

void ShadowMmu::set_vcpus(unsigned vcpus) {
  if (vcpus == 0) {
    throw std::invalid_argument("shadow MMU: at least one vCPU");
  }
  if (root_loaded()) {
    throw std::logic_error("shadow MMU: set_vcpus after a root was loaded");
  }
  m_parked.assign(vcpus, VcpuRoots{});
  m_vcpu = 0;
  m_root_copies = m_params.vcpu_root_copy && vcpus > 1;
  if (m_root_copies) {
    for (VcpuRoots& v : m_parked) {
      for (VcpuRoots::RootCopy& c : v.root_copies) {
        c.frame = m_frames.allocate_table();
        m_memory.zero_frame(c.frame);
      }
    }
  }
}

void ShadowMmu::tlb_flush_every_vcpu() {
  if (!m_root_copies) {
    return;
  }
  for (VcpuRoots& v : m_parked) {
    for (VcpuRoots::RootCopy& c : v.root_copies) {
      c.stale = true;
    }
  }
  refresh_root_copy();
}

void ShadowMmu::use_root_copy(bool fresh) {
  if (!m_root_copies || !root_loaded()) {
    return;
  }
  auto& copies = m_parked[m_vcpu].root_copies;
  const std::uint64_t root = m_guest_root.value();
  std::size_t slot = copies.size();
  for (std::size_t i = 0; i < copies.size(); ++i) {
    if (copies[i].guest_root == root) {
      slot = i;
    }
  }
  if (slot == copies.size()) {
    // A copy of a root the vCPU no longer keeps (neither current nor a prev_root) makes
    // room: there are 1 + kPrevRoots copies.
    fresh = true;
    for (std::size_t i = 0; i < copies.size() && slot == copies.size(); ++i) {
      const std::uint64_t g = copies[i].guest_root;
      if (std::find(m_prev_roots.begin(), m_prev_roots.end(), g) == m_prev_roots.end()) {
        slot = i;
      }
    }
    if (slot == copies.size()) {
      throw std::logic_error("shadow MMU: no root copy free");
    }
    copies[slot].guest_root = root;
  }
  m_root_copy_slot = slot;
  m_root_copy = copies[slot].frame;
  if (fresh || copies[slot].stale) {
    refresh_root_copy();
  }
}

void ShadowMmu::refresh_root_copy() {
  if (!m_root_copies || !root_loaded()) {
    return;
  }
  for (unsigned i = 0; i < kEntries; ++i) {
    m_memory.write_u64(Hpa(m_root_copy.value() + std::uint64_t{i} * 8), read_spte(m_root, i));
  }
  m_parked[m_vcpu].root_copies[m_root_copy_slot].stale = false;
}

void ShadowMmu::refresh_root_copy_entry(Gva gva) {
  if (!m_root_copies || !root_loaded()) {
    return;
  }
  const unsigned i = pte::table_index(gva.value(), m_levels);
  m_memory.write_u64(Hpa(m_root_copy.value() + std::uint64_t{i} * 8), read_spte(m_root, i));
}

void ShadowMmu::switch_vcpu(unsigned vcpu) {
  if (vcpu == m_vcpu) {
    return;
  }
  if (vcpu >= m_parked.size()) {
    throw std::out_of_range("shadow MMU: vCPU " + std::to_string(vcpu) + " of " +
                            std::to_string(vcpus()));
  }
  VcpuRoots& out = m_parked[m_vcpu];
  out.root = m_root;
  out.guest_root = m_guest_root;
  out.prev_roots.swap(m_prev_roots);
  out.obsolete_roots.swap(m_obsolete_roots);
  VcpuRoots& in = m_parked[vcpu];
  m_root = in.root;
  m_guest_root = in.guest_root;
  m_prev_roots.swap(in.prev_roots);
  m_obsolete_roots.swap(in.obsolete_roots);
  in.prev_roots.clear();
  in.obsolete_roots.clear();
  m_vcpu = vcpu;
  // Its next entry: a flush of every vCPU that came while it was parked is done now.
  use_root_copy(false);
}

bool ShadowMmu::load_root(Gpa guest_root) {
  if (!m_obsolete_roots.empty()) {
    // The roots KVM held when every page was zapped (the one in use and the cached
    // prev_roots, each with a root_count): it only invalidated them then, and frees them
    // now, at the vCPU's next entry (kvm_mmu_free_obsolete_roots frees the current root and
    // every obsolete prev_root): each drops its root_count, and the last holder's drop is
    // a second kvm_mmu_prepare_zap_page of the page; those are committed with one flush.
    // Counted as KVM counts them; the prev_roots are invalid from now on.
    std::uint64_t freed = 0;
    for (const std::uint64_t serial : m_obsolete_roots) {
      bool held_elsewhere = false;
      for (std::size_t v = 0; v < m_parked.size() && !held_elsewhere; ++v) {
        const std::vector<std::uint64_t>& other = m_parked[v].obsolete_roots;
        held_elsewhere =
            v != m_vcpu && std::find(other.begin(), other.end(), serial) != other.end();
      }
      freed += held_elsewhere ? 0 : 1;
    }
    if (freed != 0) {
      m_stats.zaps += freed;
      ++m_stats.flush_requests;
    }
    m_obsolete_roots.clear();
    m_prev_roots.clear();
  }
  bool created = false;
  make_pages_available();
  m_root =
      get_page(guest_root.value() >> spte::kGfnShift, m_levels, false, pte::kAllRights, created);
  m_guest_root = guest_root;
  m_pages[m_root].write_flooding = 0;
  if (created) {
    ++m_stats.roots_created;
  }
  use_root_copy(true);  // the vCPU enters on a new copy of the root it loaded
  return created;
}

void ShadowMmu::switch_root(Gpa guest_root) {
  const bool had_root = root_loaded();
  const Gpa old = m_guest_root;
  const auto cached = std::find(m_prev_roots.begin(), m_prev_roots.end(), guest_root.value());
  if (cached != m_prev_roots.end()) {
    const auto it =
        m_hash.find(key(guest_root.value() >> spte::kGfnShift, m_levels, false, pte::kAllRights));
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
      use_root_copy(false);  // the copy it kept of that root, as it was
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
      m_hash.find(key(guest_root.value() >> spte::kGfnShift, m_levels, false, pte::kAllRights));
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
      m_hash.find(key(guest_root.value() >> spte::kGfnShift, m_levels, false, pte::kAllRights));
  if (it == m_hash.end()) {
    return std::nullopt;
  }
  return m_pages[it->second].table;
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

Cycles ShadowMmu::flush_tlb_guest() {
  Cycles cost;
  if (!m_unsync.empty()) {
    if (root_loaded()) {
      cost += sync_children(m_root);
    }
    // is_unsync_root: the root reaches an unsync page (one is left after the sync above
    // only if it is not below the current root).
    std::erase_if(m_prev_roots, [this](std::uint64_t guest_root) {
      const auto it =
          m_hash.find(key(guest_root >> spte::kGfnShift, m_levels, false, pte::kAllRights));
      if (it == m_hash.end() || !m_pages[it->second].live) {
        return false;
      }
      PathMemo memo;
      std::vector<std::uint32_t> path;
      for (const std::uint32_t sp : m_unsync) {
        if (first_path(sp, it->second, path, memo)) {
          return true;
        }
      }
      return false;
    });
  }
  return cost;
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
