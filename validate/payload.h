// The guest program: a command list (64-bit words in guest memory) that the user-mode loop
// of guest_code.S replays, and the code itself as bytes to copy into the guest.
//
// A command word is an address (16-byte aligned) with the op in its low 4 bits:
//   kRead/kWrite/kReadWrite  load, store, or load then store, 8 bytes at the address
//   kStore                   the next two words: an 8-byte aligned address and the value to
//                            store there (the guest rewriting one of its PTEs)
//   kInvlpg / kCr3           int3 into the CPL 0 handler: INVLPG address / MOV CR3, address
//   kSysNop                  int3 into the handler, which returns at once
//   kSkip                    nothing (keeps a baseline list the same length)
//   kFetch                   jump to the address (an instruction fetch there: the VMM put a
//                            `jmp rdx` back to the loop at it)
//   kChase                   a dependent-load chain (--timing --guest): from the address (0:
//                            where the last kChase stopped), the next word's count of loads;
//                            the guest writes the TSC ticks they took over that word
//   kEnd                     int3; the handler's OUT to port 0xe9 ends the phase (KVM_EXIT_IO)
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "base/address.h"

namespace pagesim::validate {

enum class Op : std::uint8_t {
  kEnd = 0,
  kRead = 1,
  kWrite = 2,
  kReadWrite = 3,
  kStore = 4,
  kInvlpg = 5,
  kCr3 = 6,
  kSysNop = 7,
  kSkip = 8,
  kFetch = 9,
  kChase = 10,
};

// The instruction a fetched address holds: `jmp rdx` (FF /4, ModRM E2), back to the loop.
inline constexpr std::uint8_t kFetchStub[2] = {0xff, 0xe2};

inline constexpr std::uint16_t kEndPort = 0xe9;

class CommandList {
 public:
  void access(Op op, Gva gva);               // kRead, kWrite, kReadWrite
  void fetch(Gva gva);                       // gva 16-byte aligned, holding kFetchStub
  void store(Gva gva, std::uint64_t value);  // gva 8-byte aligned
  void invlpg(Gva gva);
  void cr3(Gpa root);
  // A chain of `loads` (at least 1) dependent loads from `start` (Gva(0): on from where the
  // last one stopped). Timing only: no predictor replays it.
  void chase(Gva start, std::uint64_t loads);
  void sys_nop();
  void skip();
  void end();

  const std::vector<std::uint64_t>& words() const { return m_words; }
  std::size_t bytes() const { return m_words.size() * 8; }

  // The baseline of this list: the same control flow through the VMM and the handler with
  // nothing that touches the data: accesses and stores skipped, INVLPG of `dummy` (an
  // address mapped nowhere), every CR3 write reloading `current_root`.
  CommandList neutralized(Gva dummy, Gpa current_root) const;

  static Op op_of(std::uint64_t word) { return static_cast<Op>(word & 15); }
  static std::uint64_t address_of(std::uint64_t word) { return word & ~std::uint64_t{15}; }

 private:
  void push(Op op, std::uint64_t address);
  std::vector<std::uint64_t> m_words;
};

// What the guest code does for a command list, in order, for the predictors: the code page
// is fetched (a load of kCodeGpa: the code and the handler share it); each command word is
// read from the list (a load at kSysSlotGpa + 8 * index); then the command: kRead,
// kWrite: one access; kReadWrite: a load then a store; kStore: its two operand words are
// read, then the 8-byte store; kInvlpg, kCr3: the handler's operation, then its page is
// fetched again; kSysNop: the handler's page fetched; kFetch: an instruction fetch at the
// address (`fetch`, or a load through `touch` when there is none). kEnd stops. The code
// page's fetches between those (after every command word and access) are the handlers'
// to add: the simulator predictor does (SimulatorPredictor::fetch_code).
struct CommandHandlers {
  std::function<void(Gva gva, bool write)> touch;
  std::function<void(Gva gva)> fetch;
  std::function<void(Gva gva, std::uint64_t value)> store;
  std::function<void(Gva gva)> invlpg;
  std::function<void(Gpa root)> cr3;
};
void replay_commands(const CommandList& l, const CommandHandlers& h);

// The guest code (guest_code.S), with the offsets the VMM needs.
struct GuestCode {
  std::span<const std::uint8_t> bytes;
  std::size_t user_entry;    // CPL 3 entry (RIP at the first run)
  std::size_t int3_handler;  // IDT vector 3 target
  std::size_t list_base;     // the 8-byte slot holding the command list's GVA
};
GuestCode guest_code();

}  // namespace pagesim::validate
