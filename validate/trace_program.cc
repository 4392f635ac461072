#include "validate/trace_program.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <span>
#include <unordered_map>

#include "traces/record.h"
#include "traces/trace_reader.h"

namespace pagesim::validate {

namespace {

constexpr std::uint64_t k4K = 4096;
constexpr unsigned kPml4Shift = 39;

// PML4 entries the VMM uses itself (scenario.h: the identity map, kHoleGva, kDummyGva).
constexpr std::array<unsigned, 3> kReservedPml4 = {0, 0x500000000000ull >> kPml4Shift,
                                                   0x600000000000ull >> kPml4Shift};

// At most this many event groups make phases of their own; a trace with more is compared
// per pass (its events stay in the passes' command lists).
constexpr std::size_t kMaxEventGroups = 32;

bool canonical(std::uint64_t a) {
  const std::uint64_t top = a >> 47;
  return top == 0 || top == 0x1ffff;
}

unsigned pml4_index(std::uint64_t a) { return static_cast<unsigned>((a >> kPml4Shift) & 511); }

std::string record_place(const std::string& path, std::uint64_t index) {
  return path + ": record " + std::to_string(index + 1);
}

}  // namespace

class TraceProgram::Builder {
 public:
  explicit Builder(TraceProgram& p) : m_p(p) { space_of(0); }

  void record(const traces::Record& r, std::uint64_t index) {
    using traces::EventOp;
    if (!r.is_event()) {
      end_group();
      access(r, index);
      return;
    }
    switch (r.op) {
      case EventOp::kCr3:
        event_step(Step{Step::Kind::kCr3, space_of(checked_id(r, index))}, "cr3");
        m_current = static_cast<std::uint32_t>(m_p.m_steps.back().value);
        return;
      case EventOp::kInvlpg:
        if (!canonical(r.address)) refuse(index, r, "the address is not canonical");
        m_invlpg_gvas.push_back(m_p.m_steps.size());
        event_step(Step{Step::Kind::kInvlpg, r.address & ~(k4K - 1)}, "invlpg");
        return;
      case EventOp::kPteUnmap:
      case EventOp::kPteRemap: {
        const bool unmap = r.op == EventOp::kPteUnmap;
        ++m_p.m_pte_writes;
        if (!canonical(r.address)) refuse(index, r, "the address is not canonical");
        const auto it = m_page_index.find(key(m_current, r.address & ~(k4K - 1)));
        // A page the trace has not touched yet in this address space is mapped by nothing
        // there: the PTE write changes nothing (as the simulator's guest kernel).
        if (it == m_page_index.end()) {
          open_group("ptewrite");
          return;
        }
        if (!unmap) ++m_p.m_remaps;
        event_step(Step{unmap ? Step::Kind::kUnmap : Step::Kind::kRemap, it->second}, "ptewrite");
        return;
      }
      case EventOp::kVm:
        if (r.address != 0) {
          refuse(index, r,
                 "the validation VMM runs one VM (only '!vm 0', the trace's default, is "
                 "replayed)");
        }
        return;
      case EventOp::kRoiBegin:
      case EventOp::kRoiEnd:
        open_group("roi");  // a phase boundary, nothing for the guest to do
        return;
      case EventOp::kExit:
        refuse(index, r,
               "the guest would free and rebuild the address space's page tables, which its "
               "VMM builds once before the run");
      case EventOp::kMemslotAdd:
      case EventOp::kMemslotDelete:
      case EventOp::kMemslotMove:
        refuse(index, r,
               "the validation VMM owns the memslot layout: the trace's slots and GPAs are the "
               "simulated VM's, which the validation guest does not reproduce");
      case EventOp::kMadviseDontneed:
      case EventOp::kMadvisePageout:
      case EventOp::kMadviseCold:
        refuse(index, r,
               "its range is an HVA or GPA of the simulated VM, whose guest-physical placement "
               "the validation guest does not reproduce (use --reclaim ACTION:K for host "
               "madvise)");
      case EventOp::kBalloonInflate:
      case EventOp::kBalloonDeflate:
        refuse(index, r,
               "the pages a balloon takes are chosen by the simulated guest kernel's allocator, "
               "which the validation guest does not have");
      default:
        refuse(index, r, "unknown event");
    }
  }

  void finish() {
    end_group();
    m_p.m_final_space = m_current;
    relocate();
    make_segments();
    count_regions_and_tables();
  }

 private:
  // A page (shift 12) or 2 MiB region (shift 21) of an address space: canonical addresses
  // are identified by bits 47 and below (the top bits follow bit 47).
  static std::uint64_t key(std::uint32_t space, std::uint64_t gva, unsigned shift = 12) {
    return (static_cast<std::uint64_t>(space) << 36) ^ ((gva >> shift) & ((1ull << 36) - 1));
  }

  [[noreturn]] void refuse(std::uint64_t index, const traces::Record& r, const std::string& why) {
    throw TraceRefused(record_place(m_p.m_path, index) + ": '!" +
                       std::string(traces::event_name(r.op)) +
                       "' cannot be replayed by the validation guest: " + why);
  }

  std::uint64_t checked_id(const traces::Record& r, std::uint64_t index) {
    if (r.address >= 4096) refuse(index, r, "address-space ids are PCIDs, 0 to 4095");
    return r.address;
  }

  std::uint32_t space_of(std::uint64_t id) {
    for (std::size_t i = 0; i < m_p.m_spaces.size(); ++i) {
      if (m_p.m_spaces[i] == id) return static_cast<std::uint32_t>(i);
    }
    if (m_p.m_spaces.size() == kMaxAddressSpaces) {
      throw TraceRefused(m_p.m_path + ": more than " + std::to_string(kMaxAddressSpaces) +
                         " address spaces (the guest builds a page-table tree for each)");
    }
    m_p.m_spaces.push_back(id);
    return static_cast<std::uint32_t>(m_p.m_spaces.size() - 1);
  }

  void access(const traces::Record& r, std::uint64_t index) {
    const std::uint64_t last = r.address + (r.size - 1);
    if (!canonical(r.address) || !canonical(last) || last < r.address ||
        (r.address >> 47) != (last >> 47)) {
      throw TraceRefused(record_place(m_p.m_path, index) +
                         ": an access to a non-canonical address (the guest would take #GP)");
    }
    Step::Kind kind = Step::Kind::kRead;
    if (r.kind == AccessKind::kWrite) kind = Step::Kind::kWrite;
    if (r.kind == AccessKind::kFetch) kind = Step::Kind::kFetch;
    for (std::uint64_t page = r.address & ~(k4K - 1); page <= last; page += k4K) {
      const auto [it, added] = m_page_index.try_emplace(key(m_current, page), m_p.m_pages.size());
      if (added) {
        m_p.m_pages.push_back(Page{m_current, page, false});
        m_used_pml4.insert(pml4_index(page));
      }
      if (kind == Step::Kind::kFetch) m_p.m_pages[it->second].fetched = true;
      m_p.m_steps.push_back(Step{kind, it->second});
      if (page + k4K < page) break;  // the top page
    }
  }

  void open_group(const char* what) {
    if (!m_in_group) {
      m_in_group = true;
      m_group_begin = m_p.m_steps.size();
      m_group_what.clear();
    }
    ++m_group_what[what];
  }

  void event_step(Step s, const char* what) {
    open_group(what);
    m_p.m_steps.push_back(s);
    if (s.kind == Step::Kind::kInvlpg) m_used_pml4.insert(pml4_index(s.value));
  }

  void end_group() {
    if (!m_in_group) return;
    m_in_group = false;
    std::string label;
    for (const auto& [what, n] : m_group_what) {
      if (!label.empty()) label += ",";
      label += what;
      if (n > 1) label += "x" + std::to_string(n);
    }
    m_groups.push_back(Group{m_group_begin, m_p.m_steps.size(), label});
  }

  // Moves the trace's regions out of the VMM's PML4 entries (see the header).
  void relocate() {
    std::map<unsigned, unsigned> to;
    unsigned next = 1;
    auto free_index = [&] {
      while (next < 256 &&
             (m_used_pml4.contains(next) ||
              std::find(kReservedPml4.begin(), kReservedPml4.end(), next) != kReservedPml4.end())) {
        ++next;
      }
      if (next >= 256) {
        throw TraceRefused(m_p.m_path +
                           ": no free PML4 entry in the lower half to move the trace's region "
                           "off the VMM's own");
      }
      return next++;
    };
    for (unsigned r : kReservedPml4) {
      if (m_used_pml4.contains(r)) {
        to[r] = free_index();
        m_p.m_relocated.emplace_back(r, to[r]);
      }
    }
    if (to.empty()) return;
    auto moved = [&](std::uint64_t gva) -> std::uint64_t {
      const auto it = to.find(pml4_index(gva));
      if (it == to.end() || (gva >> 47) != 0) return gva;
      return (gva & ((1ull << kPml4Shift) - 1)) | (static_cast<std::uint64_t>(it->second) << 39);
    };
    for (Page& p : m_p.m_pages) p.gva = moved(p.gva);
    for (std::size_t i : m_invlpg_gvas) m_p.m_steps[i].value = moved(m_p.m_steps[i].value);
  }

  void count_regions_and_tables() {
    std::unordered_map<std::uint64_t, std::uint32_t> region;
    std::set<std::pair<std::uint32_t, std::uint64_t>> pdpts, pds, pts;
    for (const Page& p : m_p.m_pages) {
      const auto [it, added] =
          region.try_emplace(key(p.space, p.gva, 21), static_cast<std::uint32_t>(region.size()));
      m_p.m_region_of_page.push_back(it->second);
      pdpts.emplace(p.space, p.gva >> 39);
      pds.emplace(p.space, p.gva >> 30);
      pts.emplace(p.space, p.gva >> 21);
    }
    m_p.m_regions = region.size();
    const std::uint64_t upper = m_p.m_spaces.size() + pdpts.size() + pds.size();
    m_p.m_tables_2m = upper;
    m_p.m_tables_4k = upper + pts.size();
  }

  void make_segments() {
    auto& segs = m_p.m_segments;
    const std::size_t n = m_p.m_steps.size();
    struct Cut {
      std::size_t begin, end;
      std::string name, label;
    };
    std::vector<Cut> cuts;
    if (m_groups.size() <= kMaxEventGroups) {
      std::size_t pos = 0, acc = 0, ev = 0;
      auto accesses = [&](std::size_t end) {
        if (end > pos) cuts.push_back(Cut{pos, end, "acc" + std::to_string(++acc)});
        pos = end;
      };
      for (const Group& g : m_groups) {
        accesses(g.begin);
        if (g.end > g.begin) {
          cuts.push_back(Cut{g.begin, g.end, "ev" + std::to_string(++ev), g.label});
        }
        pos = g.end;
      }
      accesses(n);
      if (acc == 1 && cuts.size() == 1) cuts[0].name = "trace";
    } else {
      cuts.push_back(Cut{0, n, "trace"});
    }
    // The address space at each step, and long cuts split.
    std::uint32_t space = 0;
    std::size_t step = 0;
    for (const Cut& c : cuts) {
      const std::size_t parts =
          std::max<std::size_t>(1, (c.end - c.begin + kMaxPhaseSteps - 1) / kMaxPhaseSteps);
      for (std::size_t part = 0; part < parts; ++part) {
        const std::size_t b = c.begin + part * kMaxPhaseSteps;
        const std::size_t e = std::min(c.end, b + kMaxPhaseSteps);
        for (; step < b; ++step) {
          if (m_p.m_steps[step].kind == Step::Kind::kCr3) {
            space = static_cast<std::uint32_t>(m_p.m_steps[step].value);
          }
        }
        segs.push_back(Segment{parts == 1 ? c.name : c.name + "." + std::to_string(part + 1),
                               c.label, b, e, space});
      }
    }
  }

  struct Group {
    std::size_t begin, end;
    std::string label;
  };

  TraceProgram& m_p;
  std::uint32_t m_current = 0;
  std::unordered_map<std::uint64_t, std::uint64_t> m_page_index;
  std::set<unsigned> m_used_pml4;
  std::vector<std::size_t> m_invlpg_gvas;  // steps holding a GVA to relocate
  std::vector<Group> m_groups;
  bool m_in_group = false;
  std::size_t m_group_begin = 0;
  std::map<std::string, std::uint64_t> m_group_what;
};

std::shared_ptr<const TraceProgram> TraceProgram::load(const std::string& path) {
  auto p = std::make_shared<TraceProgram>();
  p->m_path = path;
  Builder b(*p);
  const auto reader = traces::open_trace(path);
  std::array<traces::Record, 4096> batch;
  while (const std::size_t n = reader->read(batch)) {
    for (const traces::Record& r : std::span(batch).first(n)) {
      if (p->m_records == kMaxRecords) {
        throw TraceRefused(path + ": more than " + std::to_string(kMaxRecords) +
                           " records (the guest's command lists and the predictor's replay "
                           "would not fit the time of a validation run)");
      }
      b.record(r, p->m_records++);
    }
  }
  b.finish();
  if (p->m_pages.empty()) {
    throw TraceRefused(path + ": the trace has no access (nothing to replay)");
  }
  return p;
}

std::string TraceProgram::summary() const {
  std::uint64_t fetched = 0;
  for (const Page& p : m_pages) fetched += p.fetched ? 1 : 0;
  std::string s = std::to_string(m_records) + " records, " + std::to_string(m_pages.size()) +
                  " pages (" + std::to_string(fetched) + " fetched) in " +
                  std::to_string(m_spaces.size()) + " address space" +
                  (m_spaces.size() == 1 ? "" : "s") + ", " + std::to_string(m_steps.size()) +
                  " guest steps per pass in " + std::to_string(m_segments.size()) + " phase" +
                  (m_segments.size() == 1 ? "" : "s");
  for (const Segment& g : m_segments) {
    if (!g.label.empty()) s += "; " + g.name + ": " + g.label;
  }
  for (const auto& [from, to] : m_relocated) {
    s += "; PML4 entry " + std::to_string(from) + " moved to " + std::to_string(to);
  }
  return s;
}

}  // namespace pagesim::validate
