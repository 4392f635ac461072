// A pagesim trace as a program for the validation guest (`pagesim-validate --trace FILE`):
// the trace's pages placed in the guest's address spaces and guest-physical memory, and its
// records turned into the guest's steps (loads, stores, instruction fetches, CR3 writes,
// INVLPGs, PTE stores), cut into the phases the report compares.
//
// Placement (docs/validation.md, "Replaying a trace"):
//  - Address spaces: the trace starts in address space 0; `!cr3 A` switches to A. Each
//    address space is a guest page-table tree of its own (tree 0 is the VMM's first CR3);
//    the same virtual page in two address spaces is two pages, as in the simulator.
//  - Virtual addresses: a page keeps its GVA, so that pages share page tables exactly as the
//    trace's do, except in the three 512 GiB regions the VMM uses itself (PML4 entry 0: its
//    identity map of slots 0 and 1; 160: the hole's pages; 192: the address INVLPGs of the
//    baseline go to). A trace region there moves whole to the lowest PML4 entry from 1 up
//    that neither the VMM nor the trace uses, so sharing below the PML4 is kept.
//  - Guest-physical addresses: pages get frames of the data slot in the order the trace
//    first touches them (4 KiB guest pages: page j at kDataGpa + 4 KiB * j; 2 MiB guest
//    pages: the j-th 2 MiB region first touched at kDataGpa + 2 MiB * j, each page at its
//    offset in it), as a guest kernel hands out frames at first touch.
//  - Accesses touch each 4 KiB page their bytes cover, in order: a load or store of 8
//    bytes at the page's start, an instruction fetch at its offset kFetchOffset, where the
//    VMM placed a two-byte `jmp rdx` back to the guest's loop before the guest ran.
//
// Events: `!cr3`, `!invlpg` and `!ptewrite unmap|remap` are the guest's own (a CR3 write and
// an INVLPG in the CPL 0 handler; a store to the PTE through the identity map). An unmapped
// page the trace touches again is mapped again to its frame by a PTE store just before that
// access (the guest has no page-fault handler: the store a kernel's fault handler would
// make, without the #PF); a remap points the PTE at a spare frame of its own. `!vm 0` and
// `!roi` marks change nothing here. Every other event has no counterpart in this guest and
// the trace is refused, naming the record and the reason (EventRefused).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace pagesim::validate {

// The trace cannot be replayed by the validation guest: the message names the record.
class TraceRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class TraceProgram {
 public:
  // Offset of the fetched instruction in a fetched page.
  static constexpr std::uint64_t kFetchOffset = 0x800;
  // Limits: records read, address spaces, commands in one phase (a longer run of accesses
  // is cut into phases of this many steps).
  static constexpr std::uint64_t kMaxRecords = 64ull << 20;
  static constexpr std::size_t kMaxAddressSpaces = 64;
  static constexpr std::uint64_t kMaxPhaseSteps = 4ull << 20;

  struct Page {
    std::uint32_t space;  // address-space index (0: the first tree)
    std::uint64_t gva;    // placed (relocated) GVA, 4 KiB aligned
    bool fetched;         // the trace fetches instructions from it
  };

  struct Step {
    enum class Kind : std::uint8_t { kRead, kWrite, kFetch, kCr3, kInvlpg, kUnmap, kRemap };
    Kind kind;
    // kRead, kWrite, kFetch, kUnmap, kRemap: the page's index; kCr3: the address-space
    // index; kInvlpg: the placed GVA (page aligned).
    std::uint64_t value;
  };

  // A part of the trace replayed as one phase of each pass.
  struct Segment {
    std::string name;   // "trace" (the only one), "acc1", "ev1", "acc2", ... ("acc3.2": a
                        // long run's second part)
    std::string label;  // an event group's events ("cr3,invlpgx2,ptewrite"), else ""
    std::size_t begin;  // steps [begin, end)
    std::size_t end;
    std::uint32_t space;  // the address space current at its start
  };

  // Reads the trace (any format `pagesim replay` reads) and places it. Throws
  // TraceRefused for a trace this guest cannot replay, traces::TraceError for a damaged
  // one.
  static std::shared_ptr<const TraceProgram> load(const std::string& path);

  const std::string& path() const { return m_path; }
  std::uint64_t records() const { return m_records; }
  const std::vector<Page>& pages() const { return m_pages; }
  const std::vector<Step>& steps() const { return m_steps; }
  const std::vector<Segment>& segments() const { return m_segments; }
  std::size_t address_spaces() const { return m_spaces.size(); }
  // The trace's id of address space `space` (the A of `!cr3 A`).
  std::uint64_t space_id(std::size_t space) const { return m_spaces.at(space); }
  // The address space current when the trace ends.
  std::uint32_t final_space() const { return m_final_space; }
  // Remaps in one pass (each takes a spare frame of its own per pass).
  std::uint64_t remaps() const { return m_remaps; }
  // Whether the trace has `!ptewrite` (refused with 2 MiB guest pages).
  bool has_pte_writes() const { return m_pte_writes != 0; }
  // The trace's PML4 entries moved (from, to), for the report.
  const std::vector<std::pair<unsigned, unsigned>>& relocations() const { return m_relocated; }
  // The 2 MiB region of trace page `page` in first-touch order of (address space, 2 MiB
  // virtual region): where 2 MiB guest pages place it (kDataGpa + 2 MiB * region).
  std::uint64_t region(std::uint64_t page) const { return m_region_of_page.at(page); }
  std::uint64_t regions() const { return m_regions; }
  // Guest page-table pages the trace's mappings need over all its trees (roots included),
  // with 4 KiB or 2 MiB guest pages.
  std::uint64_t table_pages(bool huge_guest_pages) const {
    return huge_guest_pages ? m_tables_2m : m_tables_4k;
  }
  // A line about the placement for the report: pages, address spaces, relocations.
  std::string summary() const;

 private:
  class Builder;
  std::string m_path;
  std::uint64_t m_records = 0;
  std::vector<Page> m_pages;
  std::vector<Step> m_steps;
  std::vector<Segment> m_segments;
  std::vector<std::uint64_t> m_spaces;
  std::uint32_t m_final_space = 0;
  std::uint64_t m_remaps = 0;
  std::uint64_t m_pte_writes = 0;
  std::vector<std::pair<unsigned, unsigned>> m_relocated;
  std::vector<std::uint32_t> m_region_of_page;
  std::uint64_t m_regions = 0;
  std::uint64_t m_tables_4k = 0, m_tables_2m = 0;
};

}  // namespace pagesim::validate
