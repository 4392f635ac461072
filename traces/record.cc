#include "traces/record.h"

#include <limits>

namespace pagesim::traces {

namespace {

constexpr std::uint64_t kPageMask = 4096 - 1;

}  // namespace

std::string_view event_name(EventOp op) {
  switch (op) {
    case EventOp::kMemslotAdd:
      return "memslot add";
    case EventOp::kMemslotDelete:
      return "memslot del";
    case EventOp::kMemslotMove:
      return "memslot move";
    case EventOp::kCr3:
      return "cr3";
    case EventOp::kInvlpg:
      return "invlpg";
    case EventOp::kPteUnmap:
      return "ptewrite unmap";
    case EventOp::kPteRemap:
      return "ptewrite remap";
    case EventOp::kExit:
      return "exit";
    case EventOp::kMadviseDontneed:
      return "madvise dontneed";
    case EventOp::kMadvisePageout:
      return "madvise pageout";
    case EventOp::kMadviseCold:
      return "madvise cold";
    case EventOp::kBalloonInflate:
      return "balloon inflate";
    case EventOp::kBalloonDeflate:
      return "balloon deflate";
    case EventOp::kVm:
      return "vm";
    case EventOp::kRoiBegin:
      return "roi begin";
    case EventOp::kRoiEnd:
      return "roi end";
    case EventOp::kCpu:
      return "cpu";
    case EventOp::kNone:
      break;
  }
  return "";
}

const char* check_event(const Record& r) {
  const unsigned args = event_arg_count(r.op);
  if (!known_event(r.op)) {
    return "unknown event op";
  }
  if (r.size != 0 || r.kind != AccessKind::kRead) {
    return "an event has no access size or kind";
  }
  if ((args < 3 && r.arg2 != 0) || (args < 2 && r.arg1 != 0)) {
    return "argument given that the event does not take";
  }
  const std::uint16_t allowed_flags = r.op == EventOp::kMemslotAdd ? kEventReadonly : 0;
  if ((r.flags & ~allowed_flags) != 0) {
    return "unknown event flags";
  }
  switch (r.op) {
    case EventOp::kMemslotAdd:
    case EventOp::kMemslotDelete:
    case EventOp::kMemslotMove:
      if (r.address > std::numeric_limits<std::uint32_t>::max()) {
        return "memslot id does not fit in 32 bits";
      }
      if ((r.arg1 & kPageMask) != 0) {
        return "memslot GPA is not a multiple of 4 KiB";
      }
      if (r.op == EventOp::kMemslotAdd) {
        if (r.arg2 == 0 || (r.arg2 & kPageMask) != 0) {
          return "memslot size is not a nonzero multiple of 4 KiB";
        }
        if (r.arg1 + r.arg2 < r.arg1) {
          return "memslot extends past the top of the 64-bit address space";
        }
      }
      return nullptr;
    case EventOp::kMadviseDontneed:
    case EventOp::kMadvisePageout:
    case EventOp::kMadviseCold:
      if ((r.address & kPageMask) != 0) {
        return "madvise start is not a multiple of 4 KiB";
      }
      if (r.arg1 == 0) {
        return "madvise length is 0";
      }
      if (r.address + r.arg1 < r.address) {
        return "madvise range extends past the top of the 64-bit address space";
      }
      return nullptr;
    case EventOp::kBalloonInflate:
    case EventOp::kBalloonDeflate:
      if (r.address == 0) {
        return "balloon change of 0 pages";
      }
      return nullptr;
    case EventOp::kVm:
      static_assert(kMaxVms == 256, "the message below");
      if (r.address >= kMaxVms) {
        return "VM index is not below 256";
      }
      return nullptr;
    case EventOp::kCpu:
      static_assert(kMaxCpus == 256, "the message below");
      if (r.address >= kMaxCpus) {
        return "CPU index is not below 256";
      }
      return nullptr;
    default:
      return nullptr;
  }
}

}  // namespace pagesim::traces
