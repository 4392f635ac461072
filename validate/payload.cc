#include "validate/payload.h"

#include <stdexcept>

#include "validate/vmm.h"

extern "C" {
extern const std::uint8_t pagesim_guest_code_start[];
extern const std::uint8_t pagesim_guest_user_entry[];
extern const std::uint8_t pagesim_guest_int3_handler[];
extern const std::uint8_t pagesim_guest_list_base[];
extern const std::uint8_t pagesim_guest_code_end[];
}

namespace pagesim::validate {

void CommandList::push(Op op, std::uint64_t address) {
  if ((address & 15) != 0) throw std::invalid_argument("command address not 16-byte aligned");
  m_words.push_back(address | static_cast<std::uint64_t>(op));
}

void CommandList::access(Op op, Gva gva) {
  if (op != Op::kRead && op != Op::kWrite && op != Op::kReadWrite) {
    throw std::invalid_argument("CommandList::access: not an access op");
  }
  push(op, gva.value());
}
void CommandList::fetch(Gva gva) { push(Op::kFetch, gva.value()); }
void CommandList::store(Gva gva, std::uint64_t value) {
  if ((gva.value() & 7) != 0) throw std::invalid_argument("store address not 8-byte aligned");
  push(Op::kStore, 0);
  m_words.push_back(gva.value());
  m_words.push_back(value);
}
void CommandList::invlpg(Gva gva) { push(Op::kInvlpg, gva.value()); }
void CommandList::cr3(Gpa root) { push(Op::kCr3, root.value()); }
void CommandList::chase(Gva start, std::uint64_t loads) {
  if (loads == 0) throw std::invalid_argument("CommandList::chase: at least one load");
  if ((start.value() & 15) != 0) throw std::invalid_argument("chase start not 16-byte aligned");
  push(Op::kChase, start.value());
  m_words.push_back(loads);
}
void CommandList::sys_nop() { push(Op::kSysNop, 0); }
void CommandList::skip() { push(Op::kSkip, 0); }
void CommandList::end() { push(Op::kEnd, 0); }

CommandList CommandList::neutralized(Gva dummy, Gpa current_root) const {
  CommandList out;
  for (std::size_t i = 0; i < m_words.size(); ++i) {
    const std::uint64_t w = m_words[i];
    switch (op_of(w)) {
      case Op::kRead:
      case Op::kWrite:
      case Op::kReadWrite:
      case Op::kFetch:
      case Op::kSkip:
        out.push(Op::kSkip, 0);
        break;
      case Op::kStore:
        out.push(Op::kSkip, 0);
        out.push(Op::kSkip, 0);
        out.push(Op::kSkip, 0);
        i += 2;
        break;
      case Op::kInvlpg:
        out.invlpg(dummy);
        break;
      case Op::kCr3:
        out.cr3(current_root);
        break;
      case Op::kSysNop:
      case Op::kEnd:
        out.m_words.push_back(w);
        break;
      case Op::kChase:
        out.push(Op::kSkip, 0);
        out.push(Op::kSkip, 0);
        ++i;
        break;
      default:
        throw std::invalid_argument("CommandList::neutralized: unknown op");
    }
  }
  return out;
}

GuestCode guest_code() {
  const std::uint8_t* start = pagesim_guest_code_start;
  return GuestCode{
      .bytes = {start, static_cast<std::size_t>(pagesim_guest_code_end - start)},
      .user_entry = static_cast<std::size_t>(pagesim_guest_user_entry - start),
      .int3_handler = static_cast<std::size_t>(pagesim_guest_int3_handler - start),
      .list_base = static_cast<std::size_t>(pagesim_guest_list_base - start),
  };
}

void replay_commands(const CommandList& l, const CommandHandlers& h) {
  const Gva code(kCodeGpa);
  auto list_touch = [&](std::size_t w) { h.touch(Gva(kSysSlotGpa + 8 * w), false); };
  h.touch(code, false);
  const auto& w = l.words();
  for (std::size_t i = 0; i < w.size(); ++i) {
    list_touch(i);
    const Op op = CommandList::op_of(w[i]);
    const Gva a(CommandList::address_of(w[i]));
    switch (op) {
      case Op::kRead:
        h.touch(a, false);
        break;
      case Op::kWrite:
        h.touch(a, true);
        break;
      case Op::kReadWrite:
        h.touch(a, false);
        h.touch(a, true);
        break;
      case Op::kStore:
        list_touch(i + 1);
        list_touch(i + 2);
        h.store(Gva(w[i + 1]), w[i + 2]);
        i += 2;
        break;
      case Op::kInvlpg:
        h.invlpg(a);
        h.touch(code, false);
        break;
      case Op::kCr3:
        h.cr3(Gpa(a.value()));
        h.touch(code, false);
        break;
      case Op::kSysNop:
        h.touch(code, false);
        break;
      case Op::kFetch:
        if (h.fetch) {
          h.fetch(a);
        } else {
          h.touch(a, false);
        }
        break;
      case Op::kSkip:
        break;
      case Op::kChase:
        // The chain's addresses are in guest memory, not in the list: --timing predicts
        // the chain with gen:pointer_chase instead (validate/timing.h).
        throw std::invalid_argument("replay_commands: a kChase list is not replayed");
      case Op::kEnd:
        return;
    }
  }
}

}  // namespace pagesim::validate
