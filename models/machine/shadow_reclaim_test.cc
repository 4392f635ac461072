// The shadow-paged machine under host memory pressure: KVM's shadow MMU as the VMM
// process's secondary MMU (mmu_notifier aging and invalidation through the rmap), guest
// page-table pages evicted and swapped back, the host's shootdowns charged to the vCPU.
//
// Derivations use the layout of shadow_machine_test.cc's header (a 4 GiB guest: RAM
// [0, 640K), [1M, 3G), [4G, 5G); guest tables ascend from 1 MiB: the root at 1M, then the
// first fault's PDPT 1M + 4K, PD 1M + 8K, PT 1M + 12K; data descend from 5G: 5G - 4K
// first) and the host's rules (hostmm/vmm_memory.h, host_mm.h):
// - MADV_PAGEOUT evicts a resident page now. Eviction: the notifier's invalidate_range
//   first (shadow leaves of the page zapped, a shootdown of every vCPU if one was: 1 vCPU,
//   host.shootdown_latency 2600 cycles owed), then a swap write when the page is dirty
//   (never swapped, a zapped leaf dirty or writable, or holding contents: a guest table),
//   else dropped (host.reclaim.dropped_clean; its swap copy stays valid).
// - A fault on an evicted page is a refault (host.refaults), read back from swap
//   (host.swap.ins, swap_in_latency 52000 cycles per 4 KiB) with its contents; its swap
//   entry stays (the swap cache) until it is evicted again.
// - costs (defaults): exit 1200, shadow fault handling 4000, emulated write 5000, CR3 write
//   1500, sync 5000, host and guest 4 KiB faults 2600 each, 100 per shadow-table reference.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "models/hostmm/vmm_memory.h"
#include "models/machine/shadow_machine.h"
#include "models/machine/shadow_test_util.h"

namespace pagesim::shadow {
namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;
constexpr std::uint64_t kExit = 1200;
constexpr std::uint64_t kFaultHandling = 4000;
constexpr std::uint64_t kWpEmulation = 5000;
constexpr std::uint64_t kFault4k = 2600;
constexpr std::uint64_t kSwapIn = 52000;
constexpr std::uint64_t kShootdown = 2600;
constexpr std::uint64_t kRef = 100;
constexpr std::uint64_t kBase = 0x40'0000'0000;  // PML4 0, PDPT 256, PD 0, PT 0
// The guest's first PT (see the header) and first data frame.
constexpr Gpa kFirstPt(1 * MiB + 12 * KiB);
constexpr Gpa kFirstData(5 * GiB - 4 * KiB);

using Advice = hostmm::VmmMemory::Advice;

ShadowMachineParams params(WpPolicy policy = WpPolicy::kEmulate) {
  return shadow_test::small_machine(policy);
}

using shadow_test::stat;

Hva hva_of(ShadowMachine& m, Gpa gpa) { return m.vmm().memslots().find(gpa)->to_hva(gpa); }

// MADV_PAGEOUT of the 4 KiB VMM page of `gpa`; returns the pages it evicted.
std::uint64_t page_out(ShadowMachine& m, Gpa gpa) {
  const Hva h = hva_of(m, gpa);
  return m.vmm().memory().madvise(Advice::kPageout, h, h + 4 * KiB);
}

// A guest page-table entry as it is in memory (no side effects).
std::uint64_t guest_entry(ShadowMachine& m, Gpa gpa) {
  const auto b = m.vmm().resident(gpa);
  EXPECT_TRUE(b.has_value());
  return b ? m.memory().read_u64(b->hpa) : 0;
}

// Both absent, or the same page, size and rights.
void expect_same(const std::optional<Translation>& got, const std::optional<Translation>& want) {
  ASSERT_EQ(got.has_value(), want.has_value());
  if (got) {
    EXPECT_EQ(got->page_base, want->page_base);
    EXPECT_EQ(got->size, want->size);
    EXPECT_EQ(got->writable, want->writable);
    EXPECT_EQ(got->user, want->user);
    EXPECT_EQ(got->executable, want->executable);
  }
}

void expect_truth(ShadowMachine& m, const TouchResult& t, Gva gva, std::uint16_t pcid = 0) {
  ASSERT_EQ(t.outcome, TouchResult::Outcome::kOk);
  const std::optional<Translation> truth = m.translate_debug(gva, pcid);
  ASSERT_TRUE(truth.has_value()) << std::hex << gva.value();
  EXPECT_EQ(t.translation.page_base, truth->page_base) << std::hex << gva.value();
  EXPECT_EQ(t.translation.size, truth->size) << std::hex << gva.value();
}

// ---- Ample memory.

TEST(ShadowReclaim, AmpleHostMemoryReclaimsNothing) {
  ShadowMachine m(params());
  for (std::uint64_t i = 0; i < 64; ++i) {
    m.touch(Gva(kBase + i * 4 * KiB), AccessKind::kWrite);
  }
  // 16 GiB against 64 pages and a handful of tables: free memory never nears the
  // watermarks (Linux's defaults: min 16 MiB for 16 GiB).
  EXPECT_EQ(stat(m, "host.reclaim.kswapd_wakeups"), 0u);
  EXPECT_EQ(stat(m, "host.reclaim.reclaimed"), 0u);
  EXPECT_EQ(stat(m, "mmu_notifier.invalidate_range"), 0u);
  EXPECT_EQ(stat(m, "shadow.rmap_zaps"), 0u);
  EXPECT_EQ(stat(m, "vm0.shootdowns"), 0u);
  EXPECT_EQ(m.take_host_flush().flush, TlbFlush::none());
  EXPECT_EQ(m.audit_host(), "");
  EXPECT_EQ(m.host_mm().audit_accounting(), "");
}

// ---- Aging: accessed flags of shadow leaves.

TEST(ShadowReclaim, ALeafIsYoungAfterATouchClearYoungClearsItTheNextWalkSetsItAgain) {
  ShadowMachine m(params());
  const Gva a(kBase);
  m.touch(a, AccessKind::kRead);
  hostmm::VmmMemory& vmm = m.vmm().memory();
  const Hva data = hva_of(m, kFirstData);
  // The fixing fault installed the leaf with A (make_spte: not a prefetch).
  EXPECT_TRUE(vmm.test_young(data, PageSize::k4K));
  // clear_young (kvm_age_rmap) clears it, and flushes nothing.
  EXPECT_TRUE(vmm.clear_young(data, PageSize::k4K));
  EXPECT_EQ(stat(m, "shadow.rmap_aged"), 1u);
  EXPECT_FALSE(vmm.test_young(data, PageSize::k4K));
  EXPECT_FALSE(vmm.clear_young(data, PageSize::k4K));
  EXPECT_EQ(stat(m, "shadow.rmap_aged"), 1u);
  EXPECT_EQ(stat(m, "mmu_notifier.test_young"), 2u);
  EXPECT_EQ(stat(m, "mmu_notifier.clear_young"), 2u);
  const EventResult h = m.take_host_flush();
  EXPECT_EQ(h.flush, TlbFlush::none());
  EXPECT_EQ(h.cycles, Cycles());
  // The leaf stays present: the machine has no TLB, so the next touch walks (4
  // references, no fault) and the hardware sets A on the leaf again.
  const std::uint64_t ad = stat(m, "walker.ad_updates");
  const TouchResult t = m.touch(a, AccessKind::kRead);
  EXPECT_EQ(t.walks, 1u);
  EXPECT_EQ(t.shadow_faults, 0u);
  EXPECT_EQ(t.cycles, Cycles(4 * kRef));
  EXPECT_EQ(t.flush, TlbFlush::none());
  EXPECT_EQ(stat(m, "walker.ad_updates"), ad + 1);
  EXPECT_TRUE(vmm.test_young(data, PageSize::k4K));
  // No shadow leaf maps a guest table page (the guest kernel's own mappings are not
  // modelled): never young.
  EXPECT_FALSE(vmm.test_young(hva_of(m, kFirstPt), PageSize::k4K));
  // An HVA in no memslot (the VGA hole's block offsets) maps nothing.
  EXPECT_FALSE(vmm.test_young(Hva(0x7f00'000a'0000), PageSize::k4K));
}

// ---- Invalidation: zaps, dirty reports, shootdowns.

TEST(ShadowReclaim, PagingOutADataPageZapsItsLeafAndReportsWritableLeavesDirty) {
  ShadowMachine m(params());
  const Gva a(kBase);
  m.touch(a, AccessKind::kRead);  // a clean guest page: a read-only leaf, D clear

  // 1. Paged out: never swapped, so written (host.swap.outs 1); the leaf zapped, the one
  // vCPU shot down (2600 cycles owed), every TLB entry flushed.
  EXPECT_EQ(page_out(m, kFirstData), 1u);
  EXPECT_EQ(stat(m, "shadow.rmap_zaps"), 1u);
  EXPECT_EQ(stat(m, "shadow.zaps"), 0u);  // no shadow page goes
  EXPECT_EQ(stat(m, "host.swap.outs"), 1u);
  EXPECT_EQ(stat(m, "vm0.shootdowns"), 1u);
  EXPECT_EQ(stat(m, "tlb.shootdowns"), 1u);
  EXPECT_EQ(m.shadow_translate_debug(a), std::nullopt);
  EXPECT_EQ(m.translate_debug(a), std::nullopt);  // the VMM page is not resident
  EXPECT_TRUE(m.audit(0).empty());
  EXPECT_EQ(m.audit_host(), "");
  EventResult h = m.take_host_flush();
  EXPECT_EQ(h.flush, TlbFlush::all());
  EXPECT_EQ(h.cycles, Cycles(kShootdown));
  EXPECT_EQ(h.exits, 0u);
  EXPECT_EQ(m.take_host_flush().cycles, Cycles());  // taken once

  // 2. The next touch: the walk finds no leaf; KVM's walk finds the guest entry, the data
  // page refaults (read back from swap) and the leaf is made again.
  TouchResult t = m.touch(a, AccessKind::kRead);
  expect_truth(m, t, a);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(t.guest_faults, 0u);
  EXPECT_EQ(t.host_faults, 1u);
  EXPECT_EQ(t.cycles, Cycles(4 * kRef + kExit + kFaultHandling + kFault4k + kSwapIn + 4 * kRef));
  EXPECT_EQ(stat(m, "host.refaults"), 1u);
  EXPECT_EQ(stat(m, "host.swap.ins"), 1u);
  EXPECT_EQ(stat(m, "vm0.refaults"), 1u);

  // 3. Paged out again: the leaf is read-only and clean, and the swap copy still valid:
  // dropped without a write.
  EXPECT_EQ(page_out(m, kFirstData), 1u);
  EXPECT_EQ(stat(m, "host.reclaim.dropped_clean"), 1u);
  EXPECT_EQ(stat(m, "host.swap.outs"), 1u);
  m.take_host_flush();

  // 4. A store: refault 2; the guest entry gets D, the leaf R/W and D.
  t = m.touch(a, AccessKind::kWrite);
  expect_truth(m, t, a);
  EXPECT_TRUE(t.translation.writable);
  EXPECT_EQ(stat(m, "host.refaults"), 2u);
  EXPECT_EQ(stat(m, "host.swap.ins"), 2u);

  // 5. Paged out: the zapped leaf was writable and dirty, so the page is written although
  // its swap copy (kept since the swap-in) was valid before the store.
  EXPECT_EQ(page_out(m, kFirstData), 1u);
  EXPECT_EQ(stat(m, "host.swap.outs"), 2u);
  EXPECT_EQ(stat(m, "host.reclaim.dropped_clean"), 1u);
  EXPECT_EQ(stat(m, "shadow.rmap_zaps"), 3u);
  EXPECT_EQ(stat(m, "vm0.shootdowns"), 3u);
  EXPECT_EQ(stat(m, "vm0.shootdown_cycles"), 3 * kShootdown);
  EXPECT_EQ(m.host_mm().audit_accounting(), "");
}

TEST(ShadowReclaim, AShootdownDuringATouchIsChargedAndFlushesEverything) {
  ShadowMachine m(params());
  const Gva a(kBase);
  const Gva b(kBase + 4 * KiB);
  m.touch(a, AccessKind::kRead);
  m.touch(b, AccessKind::kRead);  // data frame 5G - 8K
  // a's page goes out; the host's flush is left for the next touch to take.
  page_out(m, kFirstData);
  const TouchResult t = m.touch(b, AccessKind::kRead);
  // b's leaf is intact: one walk; the shootdown's cycles and flush come with it.
  EXPECT_EQ(t.walks, 1u);
  EXPECT_EQ(t.shadow_faults, 0u);
  EXPECT_EQ(t.cycles, Cycles(4 * kRef + kShootdown));
  EXPECT_EQ(t.flush, TlbFlush::all());
  EXPECT_EQ(m.take_host_flush().flush, TlbFlush::none());
}

// ---- Guest page-table pages under pressure.

TEST(ShadowReclaim, AGuestPageTablePagedOutKeepsItsMappingsAndComesBackWithThem) {
  ShadowMachine m(params(WpPolicy::kEmulate));
  const Gva a(kBase);
  m.touch(a, AccessKind::kRead);
  const std::uint64_t pte0 = guest_entry(m, kFirstPt);
  ASSERT_NE(pte0 & paging::pte::kPresent, 0u);
  const std::optional<Translation> before = m.translate_debug(a);
  const std::optional<Translation> shadow_before = m.shadow_translate_debug(a);
  ASSERT_TRUE(before.has_value());
  ASSERT_TRUE(shadow_before.has_value());

  // The PT's VMM page paged out: it holds entries (contents), so it is written to swap.
  // No shadow leaf maps its gfn: nothing zapped, no shootdown.
  EXPECT_EQ(page_out(m, kFirstPt), 1u);
  EXPECT_FALSE(m.vmm().resident(kFirstPt).has_value());
  EXPECT_EQ(stat(m, "host.swap.outs"), 1u);
  EXPECT_EQ(stat(m, "vm0.reclaimed"), 1u);
  EXPECT_EQ(stat(m, "shadow.rmap_zaps"), 0u);
  const EventResult h = m.take_host_flush();
  EXPECT_EQ(h.flush, TlbFlush::none());
  EXPECT_EQ(h.cycles, Cycles());
  // KVM keeps the shadow page of the table, and its leaf: the truth is unchanged (read from
  // the guest table as it will come back), and nothing faulted to find it.
  EXPECT_EQ(stat(m, "shadow.zaps"), 0u);
  expect_same(m.shadow_translate_debug(a), shadow_before);
  expect_same(m.translate_debug(a), before);
  EXPECT_EQ(stat(m, "host.refaults"), 0u);
  EXPECT_TRUE(m.audit(0).empty());
  EXPECT_EQ(m.audit_host(), "");
  // The hit path reads no guest table: one walk.
  TouchResult t = m.touch(a, AccessKind::kRead);
  EXPECT_EQ(t.walks, 1u);
  EXPECT_EQ(t.cycles, Cycles(4 * kRef));
  EXPECT_EQ(stat(m, "host.refaults"), 0u);

  // A new page under the same PT: KVM's walk reads the PT's entry 1, so the PT refaults,
  // read back from swap with its entries. Walk 1 (4 references: the shadow PT's entry 1
  // is empty) -> fault, reflected: exit + handling + the PT's host fault + the swap-in.
  // The guest's fault: its 4 KiB fault, the PT entry stored (the PT is shadowed: an
  // emulated write). Walk 2 (4 references) -> the fixing fault: exit + handling + the data
  // page's host fault. Walk 3: 4 references.
  const Gva b(kBase + 4 * KiB);
  t = m.touch(b, AccessKind::kRead);
  expect_truth(m, t, b);
  EXPECT_EQ(t.shadow_faults, 2u);
  EXPECT_EQ(t.guest_faults, 1u);
  EXPECT_EQ(t.guest_exits, 1u);
  EXPECT_EQ(t.host_faults, 2u);
  EXPECT_EQ(t.cycles,
            Cycles(12 * kRef + (kExit + kFaultHandling + kFault4k + kSwapIn) +
                   (kFault4k + kExit + kWpEmulation) + (kExit + kFaultHandling + kFault4k)));
  EXPECT_EQ(stat(m, "host.refaults"), 1u);
  EXPECT_EQ(stat(m, "host.swap.ins"), 1u);
  EXPECT_EQ(guest_entry(m, kFirstPt), pte0);
  expect_same(m.translate_debug(a), before);
  expect_same(m.shadow_translate_debug(a), shadow_before);
  EXPECT_TRUE(m.audit(0).empty());
  EXPECT_EQ(m.audit_host(), "");
}

TEST(ShadowReclaim, TheGuestKernelsStoreToAPagedOutTableRefaultsItWithItsEntries) {
  ShadowMachine m(params(WpPolicy::kEmulate));
  const Gva a(kBase);
  m.touch(a, AccessKind::kRead);  // 4 kernel faults: the root, PDPT, PD and PT zeroed
  const std::optional<Translation> before = m.translate_debug(a);
  page_out(m, kFirstPt);
  // `!ptewrite remap` of a: the guest kernel walks its tables to the PT (a kernel fault:
  // the PT refaults from swap) and stores a fresh frame into entry 0 (emulated: the PT is
  // shadowed), which zaps a's leaf. 2 exits.
  const EventResult r = m.pte_write(a, PteOp::kRemap, 0);
  EXPECT_EQ(r.exits, 2u);
  EXPECT_EQ(stat(m, "shadow.kernel_faults"), 4u + 1u);
  EXPECT_EQ(stat(m, "host.refaults"), 1u);
  EXPECT_EQ(stat(m, "host.swap.ins"), 1u);
  EXPECT_EQ(r.cycles,
            Cycles((kExit + kFaultHandling + kFault4k + kSwapIn) + (kExit + kWpEmulation)));
  EXPECT_EQ(r.flush, TlbFlush::all());
  EXPECT_EQ(m.shadow_translate_debug(a), std::nullopt);
  // The new frame (the guest's second data frame, 5G - 8K) is not resident yet.
  EXPECT_EQ(m.translate_debug(a), std::nullopt);
  const TouchResult t = m.touch(a, AccessKind::kRead);
  expect_truth(m, t, a);
  EXPECT_NE(t.translation.page_base, before->page_base);
  EXPECT_EQ(m.guest_os().lookup(0, a)->page_base, Gpa(5 * GiB - 8 * KiB));
  EXPECT_TRUE(m.audit(0).empty());
}

TEST(ShadowReclaim, AnUnsyncPageWhoseGuestTableIsPagedOutIsZappedAtTheSync) {
  ShadowMachine m(params(WpPolicy::kUnsync));
  const Gva a(kBase);
  m.touch(a, AccessKind::kRead);
  // The guest clears a's PTE: its first store to the PT (shadowed as a last-level table
  // only) unsyncs the shadow PT (one exit); the stale leaf stays until a sync point.
  EXPECT_EQ(m.pte_write(a, PteOp::kUnmap, 0).exits, 1u);
  EXPECT_EQ(stat(m, "shadow.unsync"), 1u);
  // The PT's page goes out; no leaf maps its gfn.
  EXPECT_EQ(page_out(m, kFirstPt), 1u);
  EXPECT_EQ(m.take_host_flush().flush, TlbFlush::none());
  // The CR3 write syncs the unsync PT. KVM reads its guest entries atomically
  // (kvm_vcpu_read_guest_atomic, under the MMU lock): the page is not resident, the read
  // fails and kvm_sync_page zaps the shadow page. Exit + CR3 write + the sync.
  const EventResult r = m.cr3_write(0);
  EXPECT_EQ(r.exits, 1u);
  EXPECT_EQ(r.cycles, Cycles(kExit + 1500 + 5000));
  EXPECT_EQ(r.flush, TlbFlush::all());
  EXPECT_EQ(stat(m, "shadow.sync"), 1u);
  EXPECT_EQ(stat(m, "shadow.zaps"), 1u);
  EXPECT_EQ(stat(m, "host.refaults"), 0u);  // nothing faulted the PT back
  EXPECT_EQ(m.shadow_translate_debug(a), std::nullopt);
  EXPECT_EQ(m.translate_debug(a), std::nullopt);  // the guest's PTE is clear
  EXPECT_TRUE(m.audit(0).empty());
  EXPECT_EQ(m.audit_host(), "");
  // a again: walk 1 stops at the shadow PD's empty entry (3 references) -> KVM's walk
  // refaults the PT (swap-in), finds the entry clear: the guest's fault, which stores the
  // new PTE without an exit (the PT has no shadow page any more). Walk 2 (3 references) ->
  // the fixing fault makes a new shadow PT and the leaf. Walk 3: 4 references.
  const std::uint64_t created = stat(m, "shadow.pages_created");
  const TouchResult t = m.touch(a, AccessKind::kRead);
  expect_truth(m, t, a);
  EXPECT_EQ(t.shadow_faults, 2u);
  EXPECT_EQ(t.guest_faults, 1u);
  EXPECT_EQ(t.guest_exits, 0u);
  EXPECT_EQ(stat(m, "shadow.pages_created"), created + 1);
  EXPECT_EQ(stat(m, "host.refaults"), 1u);
  EXPECT_EQ(stat(m, "host.swap.ins"), 1u);
  EXPECT_TRUE(m.audit(0).empty());
}

// ---- A small host: the guest's working set does not fit.

class ShadowSmallHost : public ::testing::TestWithParam<WpPolicy> {};

TEST_P(ShadowSmallHost, CyclicTouchesEvictRefaultAndSwapInAndEveryTranslationIsTheTruth) {
  ShadowMachineParams p = params(GetParam());
  p.vm.memory = {64 * MiB};  // slots [0, 640K) and [1M, 64M)
  p.host.memory = {4 * MiB};
  p.reclaim.watermarks.min = {128 * KiB};
  p.reclaim.watermarks.low = {256 * KiB};
  p.reclaim.watermarks.high = {512 * KiB};
  p.reclaim.swap = {64 * MiB};
  p.walker.pwc.enabled = true;  // their flushes too
  p.shadow.prefetch = true;
  ShadowMachine m(p);
  // 1024 pages (4 MiB) of GVAs: 2 guest PTs, a PD, a PDPT, the root. The host manages
  // 4 MiB - 1 MiB = 768 frames, so they cannot all be resident at once.
  constexpr std::uint64_t kPages = 1024;
  constexpr std::uint64_t kFrames = (4 * MiB - 1 * MiB) / (4 * KiB);
  Cycles touch_cycles;
  Cycles walk_cycles;
  for (unsigned pass = 0; pass < 3; ++pass) {
    for (std::uint64_t i = 0; i < kPages; ++i) {
      const Gva gva(kBase + i * 4 * KiB);
      const TouchResult t = m.touch(gva, pass == 1 ? AccessKind::kWrite : AccessKind::kRead);
      touch_cycles += t.cycles;
      walk_cycles += t.walk_cycles;
      ASSERT_NO_FATAL_FAILURE(expect_truth(m, t, gva)) << "pass " << pass << " page " << i;
      const std::vector<ShadowMmu::Mismatch> bad = m.audit(0);
      ASSERT_TRUE(bad.empty()) << "pass " << pass << " page " << i << ": " << std::hex
                               << bad.front().gva.value() << " spte " << bad.front().spte;
      ASSERT_EQ(m.audit_host(), "") << "pass " << pass << " page " << i;
      ASSERT_EQ(m.host_mm().audit_accounting(), "") << "pass " << pass << " page " << i;
    }
    if (pass == 0) {
      // At most kFrames of the 1024 data pages fit: at least 1024 - 768 were evicted.
      EXPECT_GE(stat(m, "host.reclaim.reclaimed"), kPages - kFrames);
    }
    if (pass == 1) {
      // Each page not resident when pass 2 began was evicted after its touch in pass 1 and
      // stays out until touched: at least 1024 - 768 refault in pass 2.
      EXPECT_GE(stat(m, "host.refaults"), kPages - kFrames);
    }
  }
  const std::uint64_t reclaimed = stat(m, "host.reclaim.reclaimed");
  const std::uint64_t refaults = stat(m, "host.refaults");
  EXPECT_GT(stat(m, "host.reclaim.kswapd_wakeups"), 0u);
  // Every evicted page has a swap entry (written, or dropped clean with a valid copy): each
  // refault of a 4 KiB page is one swap-in.
  EXPECT_EQ(stat(m, "host.swap.ins"), refaults);
  // One invalidation per evicted 4 KiB page, all of this VM.
  EXPECT_EQ(stat(m, "mmu_notifier.invalidate_range"), reclaimed);
  EXPECT_EQ(stat(m, "vm0.reclaimed"), reclaimed);
  // Each guest page is mapped at one GVA by one shadow leaf at most: an invalidation zaps
  // 0 or 1 leaves, and each zapping one shoots the one vCPU down.
  const std::uint64_t zaps = stat(m, "shadow.rmap_zaps");
  EXPECT_GT(zaps, 0u);
  EXPECT_LE(zaps, reclaimed);
  EXPECT_EQ(stat(m, "vm0.shootdowns"), zaps);
  EXPECT_EQ(stat(m, "tlb.shootdowns"), zaps);
  EXPECT_EQ(stat(m, "vm0.shootdown_cycles"), zaps * kShootdown);
  // Guest table pages went out too (no leaf maps them, so they are never young) and came
  // back with their entries: every translation above was the truth.
  EXPECT_GT(reclaimed - zaps, 0u);
  // Every cycle is a walk's, the guest kernel's, an exit's (host faults, swap-ins and direct
  // reclaim inside them) or a shootdown's.
  EXPECT_EQ(touch_cycles.count(), walk_cycles.count() + stat(m, "guest.cycles") +
                                      stat(m, "vmexits.cycles") + stat(m, "vm0.shootdown_cycles"));
}

INSTANTIATE_TEST_SUITE_P(Policies, ShadowSmallHost,
                         ::testing::Values(WpPolicy::kEmulate, WpPolicy::kUnsync),
                         [](const ::testing::TestParamInfo<WpPolicy>& i) {
                           return i.param == WpPolicy::kEmulate ? std::string("emulate")
                                                                : std::string("unsync");
                         });

// ---- A random mix under pressure.

struct PressureCase {
  WpPolicy policy;
  os::Thp guest_thp;
  os::Thp host_thp;
  std::uint64_t host_bytes;
  const char* name;
};

class ShadowPressureMix : public ::testing::TestWithParam<PressureCase> {};

// RandomMix's guest (shadow_machine_test.cc: 3 address spaces, loads and stores, PTE
// changes followed by INVLPG, CR3 switches, teardowns) on a host too small for it, with
// host events between: MADV_PAGEOUT or MADV_COLD of a random guest page (data or page
// table), or of the host page holding it. After every touch its translation is the truth; after
// every operation no shadow leaf outside an unsync page disagrees with the truth in any address
// space, none maps a free host frame, the rmap holds exactly the present leaves, and the host's
// frames add up.
TEST_P(ShadowPressureMix, EveryTouchIsTheTruthAndNoLeafOutlivesItsFrame) {
  const PressureCase c = GetParam();
  ShadowMachineParams p = params(c.policy);
  p.vm.memory = {1 * GiB};
  p.host.memory = {c.host_bytes};
  p.host.thp = c.host_thp;
  p.guest.thp = c.guest_thp;
  p.reclaim.watermarks.min = {64 * KiB};
  p.reclaim.watermarks.low = {128 * KiB};
  p.reclaim.watermarks.high = {256 * KiB};
  p.reclaim.swap = {4 * GiB};  // remapped 2 MiB guest pages leave their old frames swapped
  p.shadow.prefetch = true;
  p.walker.pwc.enabled = true;
  ShadowMachine m(p);
  std::uint64_t x = 0x2545'f491'4f6c'dd1d;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::uint16_t pcid = 0;
  auto random_gva = [&] {
    const std::uint64_t region = next() % 4;
    const std::uint64_t page = next() % 32;
    return Gva(kBase + pcid * 64 * GiB + region * 1 * GiB + page * 4 * KiB + next() % 4096);
  };
  unsigned touches = 0;
  for (int op = 0; op < 3000; ++op) {
    const std::uint64_t dice = next() % 100;
    if (dice < 80) {
      const Gva gva = random_gva();
      const AccessKind kind = next() % 3 == 0 ? AccessKind::kWrite : AccessKind::kRead;
      const TouchResult t = m.touch(gva, kind, pcid);
      ASSERT_NO_FATAL_FAILURE(expect_truth(m, t, gva, pcid)) << "op " << op;
      ++touches;
    } else if (dice < 86) {
      const Gva gva = random_gva();
      m.pte_write(gva, next() % 2 == 0 ? PteOp::kUnmap : PteOp::kRemap, pcid);
      m.invlpg(gva, pcid);
    } else if (dice < 92) {
      pcid = static_cast<std::uint16_t>(next() % 3);
      m.cr3_write(pcid);
      ASSERT_TRUE(m.audit(pcid).empty()) << "op " << op;  // a sync point
    } else if (dice < 93) {
      m.exit_address_space(pcid);
      m.cr3_write(pcid);
    } else {
      // A page of guest RAM [1M, 1G): the guest's tables ascend from 1M, its data descend
      // from 1G, both reached by a draw in [1M, 1M + 16M) or [1G - 16M, 1G).
      const std::uint64_t span = 16 * MiB / (4 * KiB);
      const std::uint64_t page = next() % span;
      const Gpa gpa(next() % 2 == 0 ? 1 * MiB + page * 4 * KiB : 1 * GiB - (page + 1) * 4 * KiB);
      // Its 4 KiB, or (every other time, by the operation's parity: no draw) the whole
      // host page holding it: on a host of huge pages, advice on part of one splits it
      // (VmmMemory::madvise), advice on all of it acts on it whole.
      const Hva h = hva_of(m, gpa);
      const std::uint64_t host_page = page_bytes(os::thp_page_size(c.host_thp));
      const Hva b = op % 2 == 1 ? Hva(h.value() & ~(host_page - 1)) : h;
      const Hva e = op % 2 == 1 ? b + host_page : h + 4 * KiB;
      m.vmm().memory().madvise(next() % 2 == 0 ? Advice::kPageout : Advice::kCold, b, e);
      m.take_host_flush();
    }
    if (dice < 80 && touches % 4 != 0) {
      continue;  // the full audits after every 4th touch and every other operation
    }
    for (std::uint16_t q = 0; q < 3; ++q) {
      const auto bad = m.audit(q);
      ASSERT_TRUE(bad.empty()) << "op " << op << " pcid " << q << ": " << bad.size()
                               << " leaves disagree, first at gva " << std::hex
                               << bad.front().gva.value();
    }
    ASSERT_EQ(m.audit_host(), "") << "op " << op;
    ASSERT_EQ(m.host_mm().audit_accounting(), "") << "op " << op;
  }
  EXPECT_GT(touches, 2000u);
  // Enough happened for the test to mean something.
  EXPECT_GT(stat(m, "host.reclaim.reclaimed"), 100u);
  EXPECT_GT(stat(m, "host.refaults"), 10u);
  EXPECT_GT(stat(m, "shadow.rmap_zaps"), 50u);
  EXPECT_GT(stat(m, "shadow.rmap_aged"), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Configurations, ShadowPressureMix,
    ::testing::Values(
        PressureCase{WpPolicy::kUnsync, os::Thp::kNever, os::Thp::kNever, 2 * MiB, "unsync_4k"},
        PressureCase{WpPolicy::kEmulate, os::Thp::kNever, os::Thp::kNever, 2 * MiB, "emulate_4k"},
        PressureCase{WpPolicy::kUnsync, os::Thp::k2M, os::Thp::k2M, 24 * MiB, "unsync_2m_2m"},
        PressureCase{WpPolicy::kEmulate, os::Thp::kNever, os::Thp::k2M, 8 * MiB,
                     "emulate_guest4k_host2m"}),
    [](const ::testing::TestParamInfo<PressureCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace pagesim::shadow
