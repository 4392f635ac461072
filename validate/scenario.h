// A validation scenario: a page-touch pattern the guest replays in passes, with host and
// guest events between the first pass and the next (madvise, memslot delete/re-add, guest
// PTE rewrites followed by INVLPG or a CR3 reload, a switch to a second CR3, accesses into
// the memslot hole). Scenarios are parameters (`--pages --pattern ...`); presets name
// documented combinations (presets(), docs/validation.md).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/address.h"
#include "validate/payload.h"
#include "validate/trace_program.h"
#include "validate/vmm.h"

namespace pagesim::validate {

enum class Pattern { kSeq, kRandom, kStride2M };
enum class GuestPages { k4K, k2M };
enum class Madvise { kDontneed, kFree, kPageout, kRemove };
enum class PteRewrite { kNone, kInvlpg, kCr3 };

struct ReclaimAction {
  Madvise action;
  std::uint64_t pages;  // the first `pages` pages touched (in address order)
};

struct Scenario {
  std::string name = "custom";
  std::string description;
  std::uint64_t pages = 256;
  Pattern pattern = Pattern::kSeq;
  Op op = Op::kRead;  // kRead, kWrite or kReadWrite
  GuestPages guest_pages = GuestPages::k4K;
  bool host_thp = false;
  HostMemory::Kind backing = HostMemory::Kind::kAnon;
  std::vector<ReclaimAction> reclaim;  // after pass 1
  bool memslot_readd = false;          // after pass 1: delete the data slot and add it again
  PteRewrite pte_rewrite = PteRewrite::kNone;
  std::uint64_t rewrite_pages = 0;  // after pass 1: the guest points these pages elsewhere
  bool two_cr3 = false;             // pass 2 under a second CR3, pass 3 back under the first
  std::uint64_t hole_pages = 0;     // after pass 1: loads from pages in the hole, twice each
  int passes = 2;
  std::uint64_t seed = 1;
  // --vcpus 2: the VM has two vCPUs, each run by a thread of its own, one at a time (the VMM
  // runs a phase on one vCPU while the other waits outside KVM_RUN): pass 1 on vCPU 0 then
  // vCPU 1, the host's events, a PTE rewrite on vCPU 0, then on vCPU 1 a CR3 reload (with a
  // rewrite) and each later pass on vCPU 1 then vCPU 0 (phases_of). docs/validation.md,
  // "Two vCPUs".
  int vcpus = 1;
  // --trace FILE: the passes replay this trace (trace_program.h) instead of a pattern;
  // pages, pattern, op, seed, PTE rewrites, two CR3s and the hole do not apply.
  std::shared_ptr<const TraceProgram> trace;
};

const char* to_string(Pattern p);
const char* to_string(Madvise m);
const char* to_string(PteRewrite r);
const char* op_name(Op op);
std::optional<Pattern> parse_pattern(const std::string& s);
std::optional<Madvise> parse_madvise(const std::string& s);
// "ACTION:K" (dontneed:64).
std::optional<ReclaimAction> parse_reclaim(const std::string& s);
// One line: the parameters that reproduce it (`--pages 256 --pattern seq ...`).
std::string describe_options(const Scenario& s);
// Throws std::invalid_argument naming the parameter when a combination is impossible
// (pages past max_pages(s) included).
void check(const Scenario& s);

// The largest --pages for s's other parameters (s.pages ignored; rewrite and hole counts as
// given). The bound is the VMM's guest-physical layout: slot 1 (the command list, two words
// per page, and the pool of guest page-table pages, one page per data page) must end below
// the data slot at 1 GiB; stride2m over 2 MiB guest pages takes 2 MiB of the data slot per
// page and stops at 512 (1 GiB). docs/validation.md, "Sampling".
std::uint64_t max_pages(const Scenario& s);

// Draws one scenario from the whole parameter space (every option and their combinations,
// --pages from 1 to max_pages), valid by check(); `state` is a splitmix64 state that the
// draw advances, so a seed gives the same sequence of scenarios on every host.
Scenario draw_scenario(std::uint64_t& state);

// The guest-virtual layout of the data.
inline constexpr std::uint64_t kDataGva = 0x7f0000000000ull;
inline constexpr std::uint64_t kDataGpa = 0x40000000ull;  // slot 2, 1 GiB
inline constexpr std::uint64_t kHoleGva = 0x500000000000ull;
inline constexpr std::uint64_t kDummyGva = 0x600000000000ull;  // mapped nowhere
inline constexpr std::uint32_t kDataSlot = 2;

// The pages a pass touches, in order: GVAs (page-aligned).
std::vector<Gva> touch_order(const Scenario& s);
// The data pages touched, in address order, each with its GPA.
struct DataPage {
  Gva gva;
  Gpa gpa;
};
std::vector<DataPage> data_pages(const Scenario& s);
// Bytes of the data slot: the touched pages' GPA range plus the spare pages PTE rewrites
// point to.
std::uint64_t data_slot_bytes(const Scenario& s);
// Bytes of the command-list area at the start of slot 1, and of slot 1 (the list, then the
// pool of guest page-table pages: at most one table per data page per tree, the tables
// above them and the identity map of slots 0 and 1, with room to spare).
std::uint64_t list_bytes(const Scenario& s);
std::uint64_t sys_slot_bytes(const Scenario& s);
// GPA of the spare page that rewrite i points to (with a trace: remap i of a pass, spare
// frames numbered across the passes).
Gpa spare_gpa(const Scenario& s, std::uint64_t i);
// With a trace: the GPA of trace page `page` (TraceProgram::pages()).
Gpa trace_page_gpa(const Scenario& s, std::uint64_t page);
// The data pages: the trace's pages or --pages (for reclaim's K).
std::uint64_t data_page_count(const Scenario& s);

// The documented presets (`--scenario NAME`, `--all`).
const std::vector<Scenario>& presets();
// The presets with two vCPUs (`--scenario NAME`; not in `--all`: docs/validation.md,
// "Two vCPUs").
const std::vector<Scenario>& two_vcpu_presets();
const Scenario* find_preset(const std::string& name);

}  // namespace pagesim::validate
