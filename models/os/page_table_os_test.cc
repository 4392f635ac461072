// The generalised kernel (page_table_os.h): the host and guest instances, and several
// instances in one statistics tree. lookup() against the walker and NativeOs's own
// behaviour as the walker sees it are tested a level up, beside the native machine
// (models/machine/page_table_os_lookup_test.cc, native_os_test.cc): a test of the OS that
// uses the walker depends on both, and the OS's folder stays below the walker's.
#include "models/os/page_table_os.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/stats/stats.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/physical_memory.h"
#include "models/paging/pte.h"

namespace pagesim::os {
namespace {

namespace pte = paging::pte;

constexpr std::uint64_t k4K = 4 * kKiB;
constexpr std::uint64_t kFlags = pte::kPresent | pte::kRw | pte::kUser;

// The value of the statistic at `path` below `root`; fails the test when there is none.
std::uint64_t stat(const stats::Group& root, const std::string& path) {
  for (const stats::Row& row : stats::collect(root)) {
    if (row.path == path) {
      return std::get<std::uint64_t>(row.value);
    }
  }
  ADD_FAILURE() << "no statistic " << path;
  return 0;
}

// ---- The concepts: what may instantiate the template, and what may not.

static_assert(PageTableMemory<mem::PhysicalMemory, Hpa>);
static_assert(!PageTableMemory<mem::PhysicalMemory, Gpa>);  // its addresses are HPAs only
static_assert(FrameSource<mem::FrameAllocator, Hpa>);
static_assert(FrameSource<mem::GuestFrameAllocator, Gpa>);
static_assert(!FrameSource<mem::FrameAllocator, Gpa>);  // hands out HPAs, not GPAs
static_assert(VirtualAddress<Gva> && VirtualAddress<Hva>);
static_assert(!VirtualAddress<Gpa> && !PhysicalAddress<Hva>);

template <class Va, class Pa, class Memory, class Frames>
concept Instantiable = requires {
  typename PageTableOs<Va, Pa, Memory, Frames>;
};
static_assert(Instantiable<Gva, Hpa, mem::PhysicalMemory, mem::FrameAllocator>);
static_assert(Instantiable<Hva, Hpa, mem::PhysicalMemory, mem::FrameAllocator>);
// Guest tables in host memory, guest frames from the host allocator, a physical space
// translated as if virtual: none compiles.
static_assert(!Instantiable<Gva, Gpa, mem::PhysicalMemory, mem::GuestFrameAllocator>);
static_assert(!Instantiable<Gva, Gpa, mem::PhysicalMemory, mem::FrameAllocator>);
static_assert(!Instantiable<Gpa, Hpa, mem::PhysicalMemory, mem::FrameAllocator>);

// ---- HostOs: the VMM process's page table, HVA -> HPA, with THP-sized pages.

// Where the VMM's guest RAM block lies in its address space (QEMU mmaps it 2 MiB aligned
// so that THP can back it).
constexpr std::uint64_t kRamBlockHva = 0x7f00'0000'0000;

TEST(HostOs, MapsHvasWith2MiBPagesOnFirstTouch) {
  constexpr std::uint64_t kHostMemory = 1 * kGiB;
  mem::PhysicalMemory memory(kHostMemory);
  mem::FrameAllocator frames(kHostMemory, 1 * kMiB);
  stats::Group root(nullptr, "");
  HostOs host(OsParams{.thp = Thp::k2M}, 4, memory, frames, &root, "host.os");

  // Three touches in two 2 MiB regions of the RAM block: two faults.
  const Hva first(kRamBlockHva + 0x1234);
  const Hva same_page(kRamBlockHva + 2 * kMiB - 8);
  const Hva second(kRamBlockHva + 2 * kMiB + 0x5678);
  EXPECT_FALSE(host.is_mapped(0, first));
  host.handle_page_fault(0, first, AccessKind::kWrite);
  EXPECT_TRUE(host.is_mapped(0, same_page));
  EXPECT_FALSE(host.is_mapped(0, second));
  host.handle_page_fault(0, second, AccessKind::kRead);

  // Data frames descend from the top of host memory, 2 MiB aligned: 1G - 2M, then 1G - 4M.
  const auto a = host.lookup(0, first);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, (HostOs::Mapping{Hpa(kHostMemory - 2 * kMiB), PageSize::k2M}));
  EXPECT_EQ(a->pa_of(first), Hpa(kHostMemory - 2 * kMiB + 0x1234));
  EXPECT_EQ(host.lookup(0, same_page)->pa_of(same_page), Hpa(kHostMemory - 8));
  EXPECT_EQ(host.lookup(0, second)->pa_of(second), Hpa(kHostMemory - 4 * kMiB + 0x5678));

  // The tables: root (PML4) 1M, PDPT 1M + 4K, PD 1M + 8K; the PD entry is a 2 MiB leaf.
  std::uint64_t table = 1 * kMiB;
  for (unsigned level = pte::kPml4; level > pte::kPd; --level) {
    const std::uint64_t raw = memory.read_u64(Hpa(table | pte::entry_offset(first.value(), level)));
    EXPECT_EQ(raw & ~pte::kAddressMask, kFlags);
    table = raw & pte::kAddressMask;
  }
  EXPECT_EQ(table, 1 * kMiB + 2 * k4K);
  EXPECT_EQ(memory.read_u64(Hpa(table | pte::entry_offset(first.value(), pte::kPd))),
            (kHostMemory - 2 * kMiB) | kFlags | pte::kPs);

  EXPECT_EQ(stat(root, "host.os.page_faults"), 2u);
  EXPECT_EQ(stat(root, "host.os.mapped_pages_2m"), 2u);
  EXPECT_EQ(stat(root, "host.os.page_table_pages"), 3u);
  EXPECT_EQ(stat(root, "host.os.cycles"), 2 * host.fault_latency(PageSize::k2M).count());
}

TEST(HostOs, ASplitHugePageKeepsItsFramesAndLaterFaultsMapSmallPages) {
  constexpr std::uint64_t kHostMemory = 1 * kGiB;
  mem::PhysicalMemory memory(kHostMemory);
  mem::FrameAllocator frames(kHostMemory, 1 * kMiB);
  stats::Group root(nullptr, "");
  HostOs host(OsParams{.thp = Thp::k2M}, 4, memory, frames, &root, "host.os");
  host.enable_huge_page_splitting();
  const Hva page(kRamBlockHva);
  host.handle_page_fault(0, page, AccessKind::kWrite);
  EXPECT_FALSE(host.split_huge(0, Hva(kRamBlockHva + 2 * kMiB)));  // not mapped
  ASSERT_TRUE(host.split_huge(0, page));
  EXPECT_FALSE(host.split_huge(0, page));  // no 2 MiB leaf any more
  // The same frames, now 4 KiB each: piece i at 1G - 2M + i * 4K; a fourth table (the PT
  // at 1M + 12K) holds them.
  for (std::uint64_t i : {0, 1, 511}) {
    EXPECT_EQ(host.lookup(0, page + i * k4K),
              (HostOs::Mapping{Hpa(kHostMemory - 2 * kMiB + i * k4K), PageSize::k4K}));
  }
  EXPECT_EQ(stat(root, "host.os.page_table_pages"), 4u);
  // A piece unmapped (reclaimed) faults back as a 4 KiB page in the split range.
  host.unmap(0, page + 5 * k4K);
  frames.split_in_use(Hpa(kHostMemory - 2 * kMiB));
  frames.free(Hpa(kHostMemory - 2 * kMiB + 5 * k4K), PageSize::k4K);
  EXPECT_EQ(host.handle_page_fault(0, page + 5 * k4K, AccessKind::kRead),
            host.fault_latency(PageSize::k4K));
  EXPECT_EQ(host.lookup(0, page + 5 * k4K)->size, PageSize::k4K);
  EXPECT_EQ(stat(root, "host.os.mapped_pages_4k"), 1u);
  EXPECT_EQ(stat(root, "host.os.page_table_pages"), 4u);
}

TEST(HostOs, AFaultWithNoFree2MiBFrameFallsBackToA4KiBPage) {
  // 8 MiB, first_byte 2M: tables ascend from 2M, 2 MiB data frames 6M and 4M (2M holds
  // the tables). Take both, free two 4 KiB pieces of 4M.
  constexpr std::uint64_t kHostMemory = 8 * kMiB;
  mem::PhysicalMemory memory(kHostMemory);
  mem::FrameAllocator frames(kHostMemory, 2 * kMiB);
  stats::Group root(nullptr, "");
  HostOs host(OsParams{.thp = Thp::k2M}, 4, memory, frames, &root, "host.os");
  host.enable_huge_page_splitting();
  host.handle_page_fault(0, Hva(kRamBlockHva), AccessKind::kWrite);  // tables + 6M
  EXPECT_EQ(frames.allocate(PageSize::k2M), Hpa(4 * kMiB));
  frames.split_in_use(Hpa(4 * kMiB));
  frames.free(Hpa(4 * kMiB + 256 * k4K), PageSize::k4K);
  frames.free(Hpa(4 * kMiB + 257 * k4K), PageSize::k4K);
  // The next 2 MiB region: no 2 MiB frame, so a PT (a freed frame) and a 4 KiB page.
  const Hva next(kRamBlockHva + 2 * kMiB);
  EXPECT_EQ(host.handle_page_fault(0, next, AccessKind::kRead), host.fault_latency(PageSize::k4K));
  EXPECT_EQ(host.lookup(0, next)->size, PageSize::k4K);
  EXPECT_EQ(stat(root, "host.os.thp_fallbacks"), 1u);
  EXPECT_EQ(stat(root, "host.os.mapped_pages_4k"), 1u);
  EXPECT_FALSE(host.is_mapped(0, next + k4K));
}

TEST(HostOs, AHugeFaultWhereSmallerPagesSitMapsTheLargestPageWhoseSlotIsEmpty) {
  // thp = 1g, but a 4 KiB page (a shmem page, handle_small_page_fault) already sits in the
  // 1 GiB region: its PUD holds a table, so a fault elsewhere in the region cannot map 1 GiB
  // (a huge fault needs pud_none). It maps the largest page whose slot is empty: 2 MiB in
  // an empty PMD of another 2 MiB range, and 4 KiB beside the shmem page in its own range.
  constexpr std::uint64_t kHostMemory = 4 * kGiB;
  mem::PhysicalMemory memory(kHostMemory, 0);
  mem::FrameAllocator frames(kHostMemory, 1 * kMiB);
  stats::Group root(nullptr, "");
  HostOs host(OsParams{.thp = Thp::k1G}, 4, memory, frames, &root, "host.os");
  host.enable_huge_page_splitting();
  const Hva region(kRamBlockHva);
  host.handle_small_page_fault(0, region, std::nullopt);
  host.handle_page_fault(0, region + 4 * kMiB, AccessKind::kWrite);
  EXPECT_EQ(host.lookup(0, region + 4 * kMiB)->size, PageSize::k2M);
  host.handle_page_fault(0, region + k4K, AccessKind::kWrite);
  EXPECT_EQ(host.lookup(0, region + k4K)->size, PageSize::k4K);
  EXPECT_EQ(stat(root, "host.os.mapped_pages_1g"), 0u);
  EXPECT_EQ(stat(root, "host.os.mapped_pages_2m"), 1u);
  EXPECT_EQ(stat(root, "host.os.mapped_pages_4k"), 2u);
}

TEST(HostOs, FaultMessagesNameTheInstanceAndTheSpace) {
  mem::PhysicalMemory memory(64 * kMiB);
  mem::FrameAllocator frames(64 * kMiB, 1 * kMiB);
  HostOs host(OsParams{}, 4, memory, frames, nullptr, "host.os");
  host.handle_page_fault(0, Hva(kRamBlockHva), AccessKind::kRead);
  try {
    host.handle_page_fault(0, Hva(kRamBlockHva), AccessKind::kRead);
    FAIL() << "a second fault on a mapped page must throw";
  } catch (const std::logic_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "host.os: fault on hva 0x7f0000000000 in asid 0, already mapped");
  }
  EXPECT_THROW(HostOs(OsParams{}, 3, memory, frames, nullptr, "host.os"), std::invalid_argument);
}

// ---- Several instances in one statistics tree.

TEST(PageTableOs, InstancesWithDifferentNamesCoexistInOneStatsTree) {
  // A native kernel and a host kernel on one machine's memory and frames, each with its own
  // statistics; the native instance keeps its step-1 names (os.*).
  mem::PhysicalMemory memory(1 * kGiB);
  mem::FrameAllocator frames(1 * kGiB, 1 * kMiB);
  stats::Group root(nullptr, "");
  NativeOs native(OsParams{}, 4, memory, frames, &root);  // "os" by default
  HostOs host(OsParams{.thp = Thp::k2M}, 5, memory, frames, &root, "host.os");

  for (std::uint64_t i = 0; i < 3; ++i) {
    native.handle_page_fault(0, Gva(0x40'0000 + i * k4K), AccessKind::kRead);
  }
  host.handle_page_fault(0, Hva(kRamBlockHva), AccessKind::kWrite);

  // Native, first: root + PDPT + PD + PT (frames 1M .. 1M + 12K), data 1G - 4K, -8K, -12K.
  // Host, then: 5-level, 2 MiB pages: root + PML4 + PDPT + PD (1M + 16K .. 1M + 28K); its
  // data frame is the highest 2 MiB frame below 1G - 12K: 1G - 4M.
  EXPECT_EQ(native.lookup(0, Gva(0x40'2000))->page_base, Hpa(1 * kGiB - 3 * k4K));
  EXPECT_EQ(host.lookup(0, Hva(kRamBlockHva))->page_base, Hpa(1 * kGiB - 4 * kMiB));
  EXPECT_EQ(host.address_space_root(0), Hpa(1 * kMiB + 4 * k4K));
  // The two address spaces are separate: neither maps the other's address.
  EXPECT_FALSE(native.is_mapped(0, Gva(kRamBlockHva)));
  EXPECT_FALSE(host.is_mapped(0, Hva(0x40'0000)));

  for (const char* name : {"page_faults", "page_table_pages", "mapped_pages_4k", "mapped_pages_2m",
                           "mapped_pages_1g", "cycles"}) {
    SCOPED_TRACE(name);
    // stat() fails the test when a name is missing.
    stat(root, std::string("os.") + name);
    stat(root, std::string("host.os.") + name);
  }
  EXPECT_EQ(stat(root, "os.page_faults"), 3u);
  EXPECT_EQ(stat(root, "os.mapped_pages_4k"), 3u);
  EXPECT_EQ(stat(root, "os.page_table_pages"), 4u);
  EXPECT_EQ(stat(root, "host.os.page_faults"), 1u);
  EXPECT_EQ(stat(root, "host.os.mapped_pages_4k"), 0u);
  EXPECT_EQ(stat(root, "host.os.mapped_pages_2m"), 1u);
  EXPECT_EQ(stat(root, "host.os.page_table_pages"), 4u);

  // Why the name is an argument: two instances under one name collide.
  NativeOs clash(OsParams{}, 4, memory, frames, &root);
  EXPECT_THROW(stats::collect(root), std::logic_error);
}

// ---- A GuestOs-shaped instance: tables in guest-physical memory, frames from guest RAM.

// A TEST-ONLY stand-in for models/host's GuestPhysicalMemory until that exists: guest
// physical memory as one block of host memory at a fixed HPA (GPA g is HPA kGuestBase + g,
// as if one memslot were backed by contiguous, already-faulted host pages), addressed by
// Gpa. The real one translates each GPA through the EPT (and may take EPT violations).
class TestGuestMemory {
 public:
  static constexpr std::uint64_t kGuestBase = 64 * kMiB;
  TestGuestMemory(mem::PhysicalMemory& host, std::uint64_t guest_bytes)
      : m_host(host), m_guest_bytes(guest_bytes) {}

  std::uint64_t read_u64(Gpa gpa) { return m_host.read_u64(to_hpa(gpa)); }
  void write_u64(Gpa gpa, std::uint64_t value) { m_host.write_u64(to_hpa(gpa), value); }
  void zero_frame(Gpa frame_base) { m_host.zero_frame(to_hpa(frame_base)); }

  Hpa to_hpa(Gpa gpa) const {
    EXPECT_LT(gpa.value(), m_guest_bytes) << "GPA outside the test guest";
    return Hpa(kGuestBase + gpa.value());
  }

 private:
  mem::PhysicalMemory& m_host;
  std::uint64_t m_guest_bytes;
};

using TestGuestOs = PageTableOs<Gva, Gpa, TestGuestMemory, mem::GuestFrameAllocator>;

TEST(GuestOs, MapsGuestPagesIntoGuestPhysicalFrames) {
  // Guest RAM with a VGA-like hole and a PCI-like hole: [0, 640K), [1M, 16M), [32M, 36M).
  mem::PhysicalMemory host(128 * kMiB);
  TestGuestMemory guest_memory(host, 36 * kMiB);
  mem::GuestFrameAllocator guest_frames(
      {{0, 640 * kKiB}, {1 * kMiB, 16 * kMiB}, {32 * kMiB, 36 * kMiB}}, 1 * kMiB);
  stats::Group root(nullptr, "");
  TestGuestOs guest(OsParams{.thp = Thp::k2M}, 4, guest_memory, guest_frames, &root, "guest");

  // Three 2 MiB guest pages. Tables: root GPA 1M, PDPT 1M + 4K, PD 1M + 8K. Data, 2 MiB
  // frames from the top of the highest range [32M, 36M): 34M, 32M; the third would start
  // in the hole (30M < 32M), so it is the top of [1M, 16M): 14M.
  const Gva va(0x0000'5555'0000'0000);
  for (std::uint64_t i = 0; i < 3; ++i) {
    guest.handle_page_fault(0, va + i * 2 * kMiB, AccessKind::kWrite);
  }
  EXPECT_EQ(guest.address_space_root(0), Gpa(1 * kMiB));
  EXPECT_EQ(guest.lookup(0, va), (TestGuestOs::Mapping{Gpa(34 * kMiB), PageSize::k2M}));
  EXPECT_EQ(guest.lookup(0, va + 2 * kMiB)->page_base, Gpa(32 * kMiB));
  EXPECT_EQ(guest.lookup(0, va + 4 * kMiB + 0x123)->pa_of(va + 4 * kMiB + 0x123),
            Gpa(14 * kMiB + 0x123));
  EXPECT_FALSE(guest.is_mapped(0, va + 6 * kMiB));

  // The guest's root entry lives in host memory at kGuestBase + its GPA and holds the GPA of
  // the next guest table, in the ordinary x86 format.
  const std::uint64_t pml4e =
      host.read_u64(Hpa(TestGuestMemory::kGuestBase + 1 * kMiB + pte::entry_offset(va.value(), 4)));
  EXPECT_EQ(pml4e, (1 * kMiB + k4K) | kFlags);

  EXPECT_EQ(stat(root, "guest.page_faults"), 3u);
  EXPECT_EQ(stat(root, "guest.mapped_pages_2m"), 3u);
  EXPECT_EQ(stat(root, "guest.page_table_pages"), 3u);

  // Guest RAM runs out: the next 2 MiB frame, 12M, then ... down to 2M; [1M, 2M) cannot
  // hold one above the table frames (1M .. 1M + 12K): out of memory.
  for (std::uint64_t i = 3; i < 3 + 6; ++i) {  // 12M, 10M, 8M, 6M, 4M, 2M
    guest.handle_page_fault(0, va + i * 2 * kMiB, AccessKind::kWrite);
  }
  EXPECT_EQ(guest.lookup(0, va + 8 * 2 * kMiB)->page_base, Gpa(2 * kMiB));
  EXPECT_THROW(guest.handle_page_fault(0, va + 9 * 2 * kMiB, AccessKind::kWrite), mem::OutOfMemory);
}

// ---- The guest kernel's own changes: unmap, remap, destroy_address_space.

// Host memory that records every entry write, in order (what shadow paging's write
// protection sees).
class RecordingMemory {
 public:
  explicit RecordingMemory(mem::PhysicalMemory& memory) : m_memory(memory) {}
  std::uint64_t read_u64(Hpa hpa) { return m_memory.read_u64(hpa); }
  void write_u64(Hpa hpa, std::uint64_t value) {
    writes.push_back({hpa, value});
    m_memory.write_u64(hpa, value);
  }
  void zero_frame(Hpa frame_base) { m_memory.zero_frame(frame_base); }

  struct Write {
    Hpa entry;
    std::uint64_t value;
    bool operator==(const Write&) const = default;
  };
  std::vector<Write> writes;

 private:
  mem::PhysicalMemory& m_memory;
};

using RecordingOs = PageTableOs<Gva, Hpa, RecordingMemory, mem::FrameAllocator>;

struct RecordingMachine {
  static constexpr std::uint64_t kMemory = 4 * kGiB;
  explicit RecordingMachine(Thp thp = Thp::kNever)
      : memory(kMemory),
        recording(memory),
        frames(kMemory, 1 * kMiB),
        os(OsParams{.thp = thp}, 4, recording, frames, &root) {}
  // The entry for `va` in the table at `table_base` of `level`.
  static Hpa entry(std::uint64_t table_base, std::uint64_t va, unsigned level) {
    return Hpa(table_base | pte::entry_offset(va, level));
  }
  stats::Group root{nullptr, ""};
  mem::PhysicalMemory memory;
  RecordingMemory recording;
  mem::FrameAllocator frames;
  RecordingOs os;
};

// Tables of the first fault (page_table_os.h's frame order): PML4 1M, PDPT 1M + 4K,
// PD 1M + 8K, PT 1M + 12K; data frames descend from 4G.
constexpr std::uint64_t kPml4 = 1 * kMiB;
constexpr std::uint64_t kPdpt = kPml4 + k4K;
constexpr std::uint64_t kPd = kPml4 + 2 * k4K;
constexpr std::uint64_t kPt = kPml4 + 3 * k4K;

TEST(PageTableOsUnmap, ClearsTheLeafWithOneWriteAndLeavesTheTables) {
  RecordingMachine m;
  const Gva a(0x40'0000'0000);
  const Gva b = a + k4K;
  m.os.handle_page_fault(0, a, AccessKind::kWrite);  // data 4G - 4K
  m.os.handle_page_fault(0, b, AccessKind::kWrite);  // data 4G - 8K
  m.recording.writes.clear();

  EXPECT_EQ(m.os.unmap(0, a), (RecordingOs::Mapping{Hpa(4 * kGiB - k4K), PageSize::k4K}));
  // One write: 0 into a's PTE (PT at 1M + 12K).
  EXPECT_EQ(m.recording.writes,
            (std::vector<RecordingMemory::Write>{{RecordingMachine::entry(kPt, a.value(), 1), 0}}));
  EXPECT_FALSE(m.os.is_mapped(0, a));
  EXPECT_EQ(m.os.lookup(0, b)->page_base, Hpa(4 * kGiB - 2 * k4K));

  // Not mapped (any more, or never, or no such address space): nothing written.
  EXPECT_EQ(m.os.unmap(0, a), std::nullopt);
  EXPECT_EQ(m.os.unmap(0, Gva(0x1234'0000'0000)), std::nullopt);
  EXPECT_EQ(m.os.unmap(9, a), std::nullopt);
  EXPECT_EQ(m.recording.writes.size(), 1u);
  // The tables stayed: a new fault on a needs only its data frame (4G - 12K).
  m.os.handle_page_fault(0, a, AccessKind::kRead);
  EXPECT_EQ(m.os.lookup(0, a)->page_base, Hpa(4 * kGiB - 3 * k4K));
  EXPECT_EQ(m.os.stats().page_table_pages.value(), 4u);
}

TEST(PageTableOsRemap, PointsTheLeafAtAFreshFrameOfTheSameSize) {
  for (const Thp thp : {Thp::kNever, Thp::k2M}) {
    RecordingMachine m(thp);
    const PageSize size = thp_page_size(thp);
    const std::uint64_t bytes = page_bytes(size);
    const Gva va(0x40'0000'0000 + 0x1234);
    m.os.handle_page_fault(0, va, AccessKind::kRead);  // data: the top frame, 4G - bytes
    m.recording.writes.clear();

    // The next data frame down: 4G - 2 * bytes; one write with a first touch's flags.
    const auto remapped = m.os.remap(0, va);
    ASSERT_TRUE(remapped.has_value());
    EXPECT_EQ(*remapped, (RecordingOs::Mapping{Hpa(4 * kGiB - 2 * bytes), size}));
    const unsigned level = leaf_level(size);
    const std::uint64_t table = size == PageSize::k4K ? kPt : kPd;
    const std::uint64_t leaf =
        (4 * kGiB - 2 * bytes) | kFlags | (size == PageSize::k4K ? 0 : pte::kPs);
    EXPECT_EQ(m.recording.writes, (std::vector<RecordingMemory::Write>{
                                      {RecordingMachine::entry(table, va.value(), level), leaf}}));
    EXPECT_EQ(m.os.lookup(0, va), remapped);

    // Nothing mapped there: nothing allocated, nothing written.
    const std::uint64_t allocated = m.frames.allocated_bytes();
    EXPECT_EQ(m.os.remap(0, va + 64 * kGiB), std::nullopt);
    EXPECT_EQ(m.frames.allocated_bytes(), allocated);
    EXPECT_EQ(m.recording.writes.size(), 1u);
  }
}

TEST(PageTableOsDestroy, ClearsLeavesThenTableEntriesBottomUpAndForgetsTheRoot) {
  RecordingMachine m;
  // Two pages in one PT, a third 2 MiB further (a second PT under the same PD). Tables in
  // frame order: PML4 1M, PDPT 1M+4K, PD 1M+8K, PT1 1M+12K, PT2 1M+16K.
  const Gva a(0x40'0000'0000);
  const Gva b = a + k4K;
  const Gva c = a + 2 * kMiB;
  for (const Gva va : {a, b, c}) {
    m.os.handle_page_fault(0, va, AccessKind::kWrite);
  }
  const std::uint64_t pt2 = kPml4 + 4 * k4K;
  m.recording.writes.clear();

  const std::vector<Hpa> tables = m.os.destroy_address_space(0);
  EXPECT_EQ(tables, (std::vector<Hpa>{Hpa(kPml4), Hpa(kPdpt), Hpa(kPd), Hpa(kPt), Hpa(pt2)}));
  using E = RecordingMachine;
  // Pass 1 (unmap_vmas): the 3 leaves in address order. Pass 2 (free_pgtables): PD entries
  // of PT1 and PT2, then the PDPT entry of the PD, then the PML4 entry of the PDPT: 7.
  EXPECT_EQ(m.recording.writes, (std::vector<RecordingMemory::Write>{
                                    {E::entry(kPt, a.value(), 1), 0},
                                    {E::entry(kPt, b.value(), 1), 0},
                                    {E::entry(pt2, c.value(), 1), 0},
                                    {E::entry(kPd, a.value(), 2), 0},
                                    {E::entry(kPd, c.value(), 2), 0},
                                    {E::entry(kPdpt, a.value(), 3), 0},
                                    {E::entry(kPml4, a.value(), 4), 0},
                                }));
  EXPECT_FALSE(m.os.is_mapped(0, a));
  // Every table is empty again.
  for (const Hpa t : tables) {
    for (unsigned i = 0; i < pte::kEntriesPerTable; ++i) {
      ASSERT_EQ(m.memory.read_u64(Hpa(t.value() + 8 * i)), 0u);
    }
  }
  // No root any more: a second destroy writes nothing; the next use is a fresh address
  // space whose root is the next table frame, 1M + 20K.
  EXPECT_TRUE(m.os.destroy_address_space(0).empty());
  EXPECT_EQ(m.recording.writes.size(), 7u);
  EXPECT_EQ(m.os.address_space_root(0), Hpa(kPml4 + 5 * k4K));
}

TEST(PageTableOsDestroy, HugeLeavesAreClearedInTheFirstPass) {
  RecordingMachine m(Thp::k2M);
  // Two 2 MiB pages: tables PML4, PDPT, PD; leaves in the PD.
  const Gva a(0x40'0000'0000);
  m.os.handle_page_fault(0, a, AccessKind::kRead);
  m.os.handle_page_fault(0, a + 2 * kMiB, AccessKind::kRead);
  m.recording.writes.clear();
  EXPECT_EQ(m.os.destroy_address_space(0), (std::vector<Hpa>{Hpa(kPml4), Hpa(kPdpt), Hpa(kPd)}));
  using E = RecordingMachine;
  EXPECT_EQ(m.recording.writes, (std::vector<RecordingMemory::Write>{
                                    {E::entry(kPd, a.value(), 2), 0},
                                    {E::entry(kPd, a.value() + 2 * kMiB, 2), 0},
                                    {E::entry(kPdpt, a.value(), 3), 0},
                                    {E::entry(kPml4, a.value(), 4), 0},
                                }));
}

}  // namespace
}  // namespace pagesim::os
