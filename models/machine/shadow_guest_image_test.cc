// ShadowMachine over a guest image (tables built by the test, as pagesim-validate's VMM
// builds them): the shared zero page and its copy on write, guest tables the guest maps as
// data (unsync, write protection, emulated stores), KVM's prev_roots and spurious faults.
// Every count is derived in a comment from the KVM function it follows.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <variant>

#include "models/machine/shadow_machine.h"
#include "models/machine/shadow_test_util.h"
#include "models/paging/pte.h"

namespace pagesim::shadow {
namespace {

namespace pte = paging::pte;

constexpr std::uint64_t k4K = 4096;
constexpr std::uint64_t k2M = 2 << 20;
constexpr std::uint64_t kGiB = 1ull << 30;
// Present, writable, user, accessed, dirty: how the image maps everything.
constexpr std::uint64_t kFlags =
    pte::kPresent | pte::kRw | pte::kUser | pte::kAccessed | pte::kDirty;

// The image's tables, at 256 MiB (below the guest kernel model's own frames, never used).
constexpr std::uint64_t kRoot = 0x1000'0000;
constexpr std::uint64_t kPdpt = kRoot + k4K;
constexpr std::uint64_t kPd = kRoot + 2 * k4K;
constexpr std::uint64_t kPt = kRoot + 3 * k4K;     // maps [kData, kData + 2M)
constexpr std::uint64_t kPt2 = kRoot + 4 * k4K;    // maps [kData + 2M, kData + 4M)
constexpr std::uint64_t kRoot2 = kRoot + 5 * k4K;  // a second address space, same PDPT
constexpr std::uint64_t kFrames = 0x1010'0000;     // data frames
constexpr std::uint64_t kData = kGiB;              // GVA of PT's first page

ShadowMachineParams params(bool zero_page) {
  // The wp policy's default (the guest image writes no table while it runs).
  ShadowMachineParams p = shadow_test::small_machine(ShadowMachineParams{}.shadow.wp_policy);
  p.reclaim.zero_page = zero_page;
  p.reclaim.swap = {0};
  return p;
}

using shadow_test::stat;

void put(ShadowMachine& m, std::uint64_t table, unsigned index, std::uint64_t value) {
  std::array<std::uint8_t, 8> bytes;
  std::memcpy(bytes.data(), &value, 8);
  m.load_guest_memory(Gpa(table + 8 * index), bytes);
}

// The image: GVA kData + i * 4K -> frame kFrames + i * 4K for i < 8 (through kPt); index
// 8 -> kPt itself, 9 -> kPd, 10 -> kPt2; GVA kData + 2M -> kPt2's own frame (through kPt2);
// address space 0 on kRoot, 1 on kRoot2 (sharing kPdpt).
void build_image(ShadowMachine& m) {
  const std::uint64_t va = kData;
  put(m, kRoot, pte::table_index(va, 4), kPdpt | kFlags);
  put(m, kRoot2, pte::table_index(va, 4), kPdpt | kFlags);
  put(m, kPdpt, pte::table_index(va, 3), kPd | kFlags);
  put(m, kPd, pte::table_index(va, 2), kPt | kFlags);
  put(m, kPd, pte::table_index(va + k2M, 2), kPt2 | kFlags);
  for (unsigned i = 0; i < 8; ++i) {
    put(m, kPt, i, (kFrames + i * k4K) | kFlags);
  }
  put(m, kPt, 8, kPt | kFlags);
  put(m, kPt, 9, kPd | kFlags);
  put(m, kPt, 10, kPt2 | kFlags);
  put(m, kPt2, 0, kPt2 | kFlags);
  m.adopt_address_space(0, Gpa(kRoot));
  m.adopt_address_space(1, Gpa(kRoot2));
}

TEST(ShadowGuestImage, ZeroPageThenCopyOnWriteRetriesTheFault) {
  ShadowMachine m(params(true));
  build_image(m);
  const Gva a(kData);  // frame kFrames: never written by the VMM
  const TouchResult r = m.touch(a, AccessKind::kRead, 0);
  ASSERT_EQ(r.outcome, TouchResult::Outcome::kOk);
  // do_anonymous_page: the read maps the shared zero page, read-only for KVM.
  EXPECT_EQ(r.translation.page_base, m.vmm().memory().zero_page());
  EXPECT_FALSE(r.translation.writable);
  EXPECT_EQ(stat(m, "vm0.zero_page_faults"), 1u);
  EXPECT_TRUE(m.audit(0).empty());

  const std::uint64_t faults = stat(m, "shadow.page_faults");
  const std::uint64_t fixed = stat(m, "shadow.pf_fixed");
  const std::uint64_t host_faults = stat(m, "host.page_faults");
  const TouchResult w = m.touch(a, AccessKind::kWrite, 0);
  ASSERT_EQ(w.outcome, TouchResult::Outcome::kOk);
  EXPECT_TRUE(w.translation.writable);
  EXPECT_NE(w.translation.page_base, m.vmm().memory().zero_page());
  // The store faults (read-only leaf); KVM's GUP with FOLL_WRITE copies the zero page
  // (wp_page_copy: one host fault allocating the copy), whose invalidation zaps the leaf and
  // races the fault: RET_PF_RETRY, and the retried fault installs the leaf. Two faults, one
  // fixed.
  EXPECT_EQ(stat(m, "shadow.page_faults") - faults, 2u);
  EXPECT_EQ(stat(m, "shadow.fault_retries"), 1u);
  EXPECT_EQ(stat(m, "shadow.pf_fixed") - fixed, 1u);
  EXPECT_EQ(stat(m, "host.page_faults") - host_faults, 1u);
  EXPECT_EQ(stat(m, "vm0.zero_page_cows"), 1u);
  EXPECT_EQ(stat(m, "shadow.rmap_zaps"), 1u);  // the read-only leaf over the zero page
  EXPECT_TRUE(w.flush == TlbFlush::all());
  EXPECT_TRUE(m.audit(0).empty());
  EXPECT_EQ(m.audit_host(), "");
}

TEST(ShadowGuestImage, WithoutTheZeroPageAReadAllocates) {
  ShadowMachine m(params(false));
  build_image(m);
  const std::uint64_t host_faults = stat(m, "host.page_faults");
  const TouchResult r = m.touch(Gva(kData), AccessKind::kRead, 0);
  EXPECT_TRUE(r.translation.writable);
  EXPECT_EQ(stat(m, "host.page_faults") - host_faults, 1u);
  const std::uint64_t faults = stat(m, "shadow.page_faults");
  m.touch(Gva(kData), AccessKind::kWrite, 0);
  EXPECT_EQ(stat(m, "shadow.page_faults"), faults);  // the leaf was writable already
}

TEST(ShadowGuestImage, ALastLevelTableMappedAsDataGoesUnsyncAndSyncsAtCr3) {
  ShadowMachine m(params(true));
  build_image(m);
  const Gva data(kData);
  const Gva pt_as_data(kData + 8 * k4K);  // maps kPt
  m.touch(data, AccessKind::kWrite, 0);
  // The first fault made the root, PDPT, PD and PT shadow pages.
  EXPECT_EQ(stat(m, "shadow.pages_created"), 4u);
  // A leaf for kPt's gfn, which a last-level shadow page shadows: mmu_try_to_unsync_pages
  // unsyncs that page (one) and the leaf is writable.
  const TouchResult w = m.touch(pt_as_data, AccessKind::kWrite, 0);
  ASSERT_EQ(w.outcome, TouchResult::Outcome::kOk);
  EXPECT_TRUE(w.translation.writable);
  EXPECT_EQ(stat(m, "shadow.unsync"), 1u);
  EXPECT_EQ(m.mmu().unsync_pages(), 1u);
  // The guest points PTE 0 at another frame through that mapping: no exit.
  const std::uint64_t exits = stat(m, "vmexits.total");
  m.guest_store_u64(Gva(kData + 8 * k4K), (kFrames + 100 * k4K) | kFlags, 0);
  EXPECT_EQ(stat(m, "vmexits.total"), exits);
  // The same CR3 again: kvm_mmu_sync_roots syncs the unsync page (one sync), dropping the
  // leaf whose guest PTE changed; the same root needs no lookup (no kvm_mmu_get_page).
  const std::uint64_t lookups = stat(m, "shadow.get_page");
  m.cr3_write(0);
  EXPECT_EQ(stat(m, "shadow.sync"), 1u);
  EXPECT_EQ(stat(m, "shadow.get_page"), lookups);
  EXPECT_EQ(m.mmu().unsync_pages(), 0u);
  const TouchResult again = m.touch(data, AccessKind::kRead, 0);
  EXPECT_EQ(again.shadow_faults, 1u);
  EXPECT_TRUE(m.audit(0).empty());
}

TEST(ShadowGuestImage, AnUnsyncPageZappedIsUnlinkedNotSynced) {
  ShadowMachine m(params(true));
  build_image(m);
  m.touch(Gva(kData), AccessKind::kWrite, 0);
  m.touch(Gva(kData + 8 * k4K), AccessKind::kWrite, 0);  // kPt's shadow page goes unsync
  ASSERT_EQ(m.mmu().unsync_pages(), 1u);
  // Every page zapped (kvm_mmu_zap_all): __kvm_mmu_prepare_zap_page unlinks the unsync one
  // (kvm_unlink_unsync_page, the event kvmmmu:kvm_mmu_sync_page counts) without syncing it.
  m.mmu().zap_all();
  EXPECT_EQ(stat(m, "shadow.unsync_zapped"), 1u);
  EXPECT_EQ(stat(m, "shadow.sync"), 0u);
  EXPECT_EQ(m.mmu().unsync_pages(), 0u);
}

TEST(ShadowGuestImage, InvlpgOfARemappedEntryDropsItsLeafAndPrefetchesNothing) {
  ShadowMachineParams p = params(true);
  p.shadow.prefetch = true;  // even so: INVLPG makes no leaf
  ShadowMachine m(p);
  build_image(m);
  m.touch(Gva(kData), AccessKind::kWrite, 0);
  m.touch(Gva(kData + k4K), AccessKind::kWrite, 0);      // kFrames + 4K resident now
  m.touch(Gva(kData + 8 * k4K), AccessKind::kWrite, 0);  // kPt's shadow page goes unsync
  ASSERT_EQ(m.mmu().unsync_pages(), 1u);
  // PTE 0 now maps the frame PTE 1 maps, through the unsync table: no exit.
  m.guest_store_u64(Gva(kData + 8 * k4K), (kFrames + k4K) | kFlags, 0);
  const std::uint64_t set = stat(m, "shadow.sptes_set");
  const std::uint64_t flushes = stat(m, "shadow.flush_requests");
  // INVLPG kData: __kvm_mmu_invalidate_addr -> kvm_sync_spte (Linux 6.4 on; the old
  // FNAME(invlpg) re-made the leaf from the guest entry): the gfn changed, so the leaf is
  // dropped (drop_spte), one flush request, and no SPTE is set, though the new frame is
  // resident.
  m.invlpg(Gva(kData), 0);
  EXPECT_EQ(stat(m, "shadow.invlpg_syncs"), 1u);
  EXPECT_EQ(stat(m, "shadow.sptes_set"), set);
  EXPECT_EQ(stat(m, "shadow.flush_requests"), flushes + 1);
  EXPECT_EQ(m.shadow_translate_debug(Gva(kData)), std::nullopt);
  // The next access faults once and maps the new frame.
  const TouchResult t = m.touch(Gva(kData), AccessKind::kRead, 0);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(t.translation.hpa_of(kData),
            m.touch(Gva(kData + k4K), AccessKind::kRead, 0).translation.hpa_of(kData + k4K));
}

TEST(ShadowGuestImage, AStoreToAnUpperLevelTableIsEmulated) {
  ShadowMachine m(params(true));
  build_image(m);
  m.touch(Gva(kData), AccessKind::kWrite, 0);
  // kPd is shadowed at level 2: KVM write-tracks it (account_shadowed), the leaf mapping it
  // stays read-only, and the store is emulated (RET_PF_EMULATE): one wp_write exit.
  const TouchResult w = m.touch(Gva(kData + 9 * k4K), AccessKind::kWrite, 0);
  EXPECT_EQ(w.outcome, TouchResult::Outcome::kMmio);
  EXPECT_EQ(stat(m, "shadow.wp_writes"), 1u);
  EXPECT_EQ(stat(m, "vmexits.wp_write"), 1u);
  EXPECT_EQ(stat(m, "shadow.unsync"), 0u);
  EXPECT_THROW(m.guest_store_u64(Gva(kData + 9 * k4K), 0, 0), std::runtime_error);
}

TEST(ShadowGuestImage, ANewShadowPageWriteProtectsTheLeavesMappingItsTable) {
  ShadowMachine m(params(true));
  build_image(m);
  const Gva pt2_as_data(kData + 10 * k4K);  // through kPt, maps kPt2's frame
  // Nothing shadows kPt2 yet: an ordinary writable leaf.
  EXPECT_TRUE(m.touch(pt2_as_data, AccessKind::kWrite, 0).translation.writable);
  // A walk through kPt2 makes its shadow page: account_shadowed write-protects the gfn
  // (rmap_write_protect): the one leaf mapping it loses R/W, and every TLB entry goes.
  const TouchResult t = m.touch(Gva(kData + k2M), AccessKind::kRead, 0);
  EXPECT_EQ(stat(m, "shadow.write_protected"), 1u);
  EXPECT_TRUE(t.flush == TlbFlush::all());
  EXPECT_FALSE(m.shadow_translate_debug(pt2_as_data)->writable);
  // The next store faults, and kPt2 being shadowed only as a last-level table, its shadow
  // page goes unsync and the leaf is writable again (mmu_try_to_unsync_pages).
  const TouchResult w = m.touch(pt2_as_data, AccessKind::kWrite, 0);
  EXPECT_EQ(w.shadow_faults, 1u);
  EXPECT_TRUE(w.translation.writable);
  EXPECT_EQ(stat(m, "shadow.unsync"), 1u);
}

TEST(ShadowGuestImage, PrevRootsSpareTheLookupAndAFaultThroughAMissingLinkIsSpurious) {
  ShadowMachine m(params(true));
  build_image(m);
  m.touch(Gva(kData), AccessKind::kWrite, 0);
  const std::uint64_t lookups = stat(m, "shadow.get_page");
  // A new CR3: kvm_mmu_new_pgd finds no cached root and looks it up (created).
  m.cr3_write(1);
  EXPECT_EQ(stat(m, "shadow.get_page") - lookups, 1u);
  // The new root shares kPdpt: the fault for kData links the PDPT shadow page (a lookup
  // that finds it) and finds the leaf in place below: RET_PF_SPURIOUS, not fixed.
  const std::uint64_t fixed = stat(m, "shadow.pf_fixed");
  const TouchResult t = m.touch(Gva(kData), AccessKind::kWrite, 1);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(stat(m, "shadow.pf_spurious"), 1u);
  EXPECT_EQ(stat(m, "shadow.pf_fixed"), fixed);
  EXPECT_EQ(stat(m, "shadow.get_page") - lookups, 2u);
  // Back to the first CR3, one of the previous roots: fast_pgd_switch, no lookup.
  m.cr3_write(0);
  EXPECT_EQ(stat(m, "shadow.get_page") - lookups, 2u);
  EXPECT_TRUE(m.audit(0).empty());
  EXPECT_TRUE(m.audit(1).empty());
}

TEST(ShadowGuestImage, ACr3ReloadSyncsUnsyncPagesInRoundsOfSixteenWithAFlushEach) {
  ShadowMachine m(params(false));
  // Its own image: kRoot -> kPdpt -> kPd; PD entry i (i < 20) -> PT_i, whose entry 0 maps
  // GVA kData + i * 2M; PD entry 100 -> a window PT whose entry i maps PT_i's own page.
  constexpr unsigned kTables = 20;
  constexpr std::uint64_t kWindowPt = kRoot + 3 * k4K;
  auto pt = [](unsigned i) { return kRoot + (4 + i) * k4K; };
  const std::uint64_t window = kData + 100 * k2M;
  put(m, kRoot, pte::table_index(kData, 4), kPdpt | kFlags);
  put(m, kPdpt, pte::table_index(kData, 3), kPd | kFlags);
  put(m, kPd, 100, kWindowPt | kFlags);
  for (unsigned i = 0; i < kTables; ++i) {
    put(m, kPd, i, pt(i) | kFlags);
    put(m, pt(i), 0, (kFrames + i * k4K) | kFlags);
    put(m, kWindowPt, i, pt(i) | kFlags);
  }
  m.adopt_address_space(0, Gpa(kRoot));
  for (unsigned i = 0; i < kTables; ++i) {
    ASSERT_EQ(m.touch(Gva(kData + i * k2M), AccessKind::kRead, 0).outcome,
              TouchResult::Outcome::kOk);
  }
  // The guest points each PT_i's entry 0 at another frame, through the window: the first
  // store to PT_i faults and unsyncs its shadow page (mmu_try_to_unsync_pages), leaving a
  // writable leaf on PT_i's gfn.
  for (unsigned i = 0; i < kTables; ++i) {
    m.guest_store_u64(Gva(window + i * k4K), (kFrames + (64 + i) * k4K) | kFlags, 0);
  }
  ASSERT_EQ(m.mmu().unsync_pages(), kTables);
  const std::uint64_t flushes = stat(m, "shadow.flush_requests");
  const std::uint64_t syncs = stat(m, "shadow.sync");
  m.cr3_write(0);
  // kvm_mmu_sync_roots -> mmu_sync_children: mmu_unsync_walk fills KVM_PAGE_ARRAY_NR (16)
  // entries: root, PDPT, PD and 13 unsync PTs, then root, PDPT, PD and the other 7. Each
  // round write-protects its PTs' gfns (a leaf loses R/W: one flush,
  // kvm_mmu_remote_flush_or_zap) and syncs them (entry 0 maps another gfn: dropped, a
  // flush due); the last round's is done after the loop: 2 + 1 = 3 flush requests, where
  // one flush per write protection and one per sync would make 40.
  EXPECT_EQ(stat(m, "shadow.sync") - syncs, kTables);
  EXPECT_EQ(stat(m, "shadow.flush_requests") - flushes, 3u);
  EXPECT_EQ(m.mmu().unsync_pages(), 0u);
  EXPECT_TRUE(m.audit(0).empty());
  // Each page refaults onto its new frame.
  const TouchResult t = m.touch(Gva(kData), AccessKind::kRead, 0);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(t.translation.page_base, m.translate_debug(Gva(kData), 0)->page_base);
}

TEST(ShadowGuestImage, LoadAndAdoptErrors) {
  ShadowMachine m(params(true));
  std::array<std::uint8_t, 4> four{};
  EXPECT_THROW(m.load_guest_memory(Gpa(kRoot), four), std::invalid_argument);
  std::array<std::uint8_t, 8> eight{};
  EXPECT_THROW(m.load_guest_memory(Gpa(5 * kGiB + 64 * kGiB), eight), std::invalid_argument);
  build_image(m);
  EXPECT_THROW(m.adopt_address_space(0, Gpa(kRoot)), std::logic_error);
  // The image maps nothing at GVA 0: a guest fault in an adopted address space is an error.
  EXPECT_THROW(m.touch(Gva(0), AccessKind::kRead, 0), std::runtime_error);
}

}  // namespace
}  // namespace pagesim::shadow
