// One record of a trace: an access (what the core asks the translation hardware to do) or an
// event (a CR3 switch, INVLPG, a guest PTE write, a memslot change, a host madvise, a balloon
// change, a switch to another VM or CPU), streamed in order with the accesses
// (docs/trace-format.md).
//
// Layout (32 bytes, 8-byte aligned, two records per cache line, never straddling one):
//
//   offset  size  member    access                         event
//        0     8  address   first byte accessed (a GVA)    argument 0
//        8     4  size      bytes accessed, >= 1           0
//       12     1  kind      R / W / X                      kRead (unused)
//       13     1  op        EventOp::kNone                 which event (never kNone)
//       14     2  flags     0                              kEventReadonly (memslot add)
//       16     8  arg1      0                              argument 1
//       24     8  arg2      0                              argument 2
//
// Why this shape:
//  - The access members keep their meaning and their place, and Record stays an aggregate:
//    `Record{address, size, kind}` is an access (op defaults to kNone), as before events.
//  - "Is this an event" is one byte compare, `r.op != EventOp::kNone` (is_event()): the
//    replay loop tests it on every record, so it must cost nothing when the answer is no.
//    op lives in what was padding after `kind`, so the access members did not move.
//  - Events carry up to three 64-bit arguments (a memslot add has an id, a GPA and a size),
//    so the record grew from 16 to 32 bytes rather than to an odd 24 (32 keeps records
//    aligned to cache lines; decoding speed is unchanged within noise, see trace-format.md).
//    Events are rare, so they reuse `address` as argument 0 instead of adding a fourth word.
//  - Arguments are in the order of the text form: `!memslot add 3 0x100000 2MiB` is
//    {address = 3, arg1 = 0x100000, arg2 = 2 MiB}. The table at EventOp gives each op's.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/access.h"

namespace pagesim::traces {

// Access size of a record written without one (text format) and of generated records.
inline constexpr std::uint32_t kDefaultAccessSizeBytes = 8;

// What an event record is. kNone marks an access. The values are part of the binary format
// (the op field of an event tag): never renumber them, only append.
//
//   op                 text form                                address (arg 0)  arg1       arg2
//   kMemslotAdd        !memslot add <id> <gpa> <size> [ro]      slot id (< 2^32) base GPA   bytes
//   kMemslotDelete     !memslot del <id>                        slot id
//   kMemslotMove       !memslot move <id> <new-gpa>             slot id          new base GPA
//   kCr3               !cr3 <address-space id>                  address-space id
//   kInvlpg            !invlpg <address>                        GVA
//   kPteUnmap          !ptewrite <address> unmap                GVA whose guest PTE is cleared
//   kPteRemap          !ptewrite <address> remap                GVA whose guest PTE changes
//   kExit              !exit <address-space id>                 address-space id
//   kMadviseDontneed   !madvise dontneed <address> <length>     start (page-aligned)  bytes
//   kMadvisePageout    !madvise pageout <address> <length>      start (page-aligned)  bytes
//   kMadviseCold       !madvise cold <address> <length>         start (page-aligned)  bytes
//   kBalloonInflate    !balloon inflate <pages>                 4 KiB pages
//   kBalloonDeflate    !balloon deflate <pages>                 4 KiB pages
//   kVm                !vm <index>                              VM index (< kMaxVms)
//   kRoiBegin          !roi begin                               (none)
//   kRoiEnd            !roi end                                 (none)
//   kCpu               !cpu <index>                             CPU index (< kMaxCpus)
//
// kVm and kCpu say where the records that follow run: on CPU `cpu` of VM `vm` (a vCPU; in
// native mode a core of the host). The CPU index is per VM: each VM remembers its own
// current CPU, 0 until the trace's first `!cpu` while that VM is current, and `!vm` changes
// no VM's current CPU (after `!vm 1`, `!cpu 2`, `!vm 0`, `!vm 1` the records run on VM 1's
// CPU 2 again). A trace without `!cpu` runs everything on CPU 0 of each VM, as before
// kCpu existed. CR3 is per CPU: a `!cr3` sets the address space of the current CPU only,
// and each CPU starts in address space 0.
//
// kRoiBegin / kRoiEnd bound a region of interest: once a trace has one, the statistics count
// only what happens inside (docs/trace-format.md, "Regions of interest").
// Unused arguments are 0. Memslot GPAs and sizes are multiples of 4 KiB and sizes are
// nonzero (KVM_SET_USER_MEMORY_REGION refuses anything else); madvise lengths are nonzero
// and the range does not wrap; balloon changes are nonzero; a VM index is below kMaxVms and a
// CPU index below kMaxCpus. The
// readers check these, so a record that reaches the simulator is well formed (check_event).
enum class EventOp : std::uint8_t {
  kNone = 0,
  kMemslotAdd = 1,
  kMemslotDelete = 2,
  kMemslotMove = 3,
  kCr3 = 4,
  kInvlpg = 5,
  kPteUnmap = 6,
  kPteRemap = 7,
  kExit = 8,
  kMadviseDontneed = 9,
  kMadvisePageout = 10,
  kMadviseCold = 11,
  kBalloonInflate = 12,
  kBalloonDeflate = 13,
  kVm = 14,
  kRoiBegin = 15,
  kRoiEnd = 16,
  kCpu = 17,
};
// The highest EventOp value this version knows.
inline constexpr unsigned kLastEventOp = 17;

// kVm: the records that follow belong to VM `address` (a host running several VMs, config
// key `vms`, whose accesses share one stream). The format bounds the index; the simulator
// also refuses one at or above its `vms`.
inline constexpr std::uint64_t kMaxVms = 256;

// kCpu: the records that follow run on CPU `address` of the current VM (see the table at
// EventOp). The format bounds the index; the simulator also refuses one its machine lacks.
inline constexpr std::uint64_t kMaxCpus = 256;

// Event flags (Record::flags).
inline constexpr std::uint16_t kEventReadonly = 1;  // kMemslotAdd: the slot is read-only

struct Record {
  // Access: the virtual address of the first byte accessed (a GVA under virtualization); any
  // 64-bit value is representable. Event: argument 0.
  std::uint64_t address = 0;
  // Access: bytes accessed, starting at `address`. Invariant: size >= 1 (every reader
  // rejects 0). Event: 0.
  std::uint32_t size = kDefaultAccessSizeBytes;
  AccessKind kind = AccessKind::kRead;
  // kNone for an access; otherwise the event.
  EventOp op = EventOp::kNone;
  std::uint16_t flags = 0;
  std::uint64_t arg1 = 0;
  std::uint64_t arg2 = 0;

  constexpr bool is_event() const { return op != EventOp::kNone; }

  // An event record with its arguments in text order (see EventOp).
  static constexpr Record event(EventOp op, std::uint64_t arg0 = 0, std::uint64_t arg1 = 0,
                                std::uint64_t arg2 = 0, std::uint16_t flags = 0) {
    return Record{arg0, 0, AccessKind::kRead, op, flags, arg1, arg2};
  }

  friend constexpr bool operator==(const Record&, const Record&) = default;
};
static_assert(sizeof(Record) == 32, "the layout described above");

// The number of arguments an op takes (address, arg1, arg2 in that order): 0 for kNone, the
// region-of-interest marks and values this version does not know.
constexpr unsigned event_arg_count(EventOp op) {
  switch (op) {
    case EventOp::kMemslotAdd:
      return 3;
    case EventOp::kMemslotMove:
    case EventOp::kMadviseDontneed:
    case EventOp::kMadvisePageout:
    case EventOp::kMadviseCold:
      return 2;
    case EventOp::kMemslotDelete:
    case EventOp::kCr3:
    case EventOp::kInvlpg:
    case EventOp::kPteUnmap:
    case EventOp::kPteRemap:
    case EventOp::kExit:
    case EventOp::kBalloonInflate:
    case EventOp::kBalloonDeflate:
    case EventOp::kVm:
    case EventOp::kCpu:
      return 1;
    case EventOp::kRoiBegin:
    case EventOp::kRoiEnd:
    case EventOp::kNone:
      break;
  }
  return 0;
}

// Whether this version knows the op (kNone is no event).
constexpr bool known_event(EventOp op) {
  return op != EventOp::kNone && static_cast<unsigned>(op) <= kLastEventOp;
}

// The op's name as `pagesim trace info` counts it and error messages say it: "memslot add",
// "cr3", "ptewrite unmap", "madvise dontneed", ...; "" for kNone and unknown values.
std::string_view event_name(EventOp op);

// Why an event record is malformed (unknown op, unknown flag, a memslot id over 32 bits, an
// unaligned memslot, a zero or wrapping range, a VM index of kMaxVms or more, a CPU index of
// kMaxCpus or more, an access member set), or nullptr when it is well formed. Readers and writers
// of both formats call it, so every event that reaches the simulator satisfies the table above.
const char* check_event(const Record& record);

}  // namespace pagesim::traces
