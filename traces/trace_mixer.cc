#include "traces/trace_mixer.h"

#include <optional>

#include "traces/byte_size.h"

namespace pagesim::traces {

namespace {

constexpr std::size_t kInputBatch = 4096;

}  // namespace

MixInputSpec parse_mix_input(std::string_view text, std::size_t index) {
  MixInputSpec spec;
  spec.asid = index + 1;
  const std::size_t at = text.rfind('@');
  // "a@b.trace" (no '=' after the '@') is a path with an '@' in it.
  if (at == std::string_view::npos || text.find('=', at) == std::string_view::npos) {
    spec.path = std::string(text);
    return spec;
  }
  spec.path = std::string(text.substr(0, at));
  std::string_view keys = text.substr(at + 1);
  const std::string where = "mix input '" + std::string(text) + "': ";
  while (!keys.empty()) {
    const std::size_t comma = keys.find(',');
    const std::string_view pair = keys.substr(0, comma);
    keys = comma == std::string_view::npos ? std::string_view() : keys.substr(comma + 1);
    const std::size_t equals = pair.find('=');
    const std::string_view key = pair.substr(0, equals);
    const std::optional<std::uint64_t> value =
        equals == std::string_view::npos ? std::nullopt : parse_unsigned(pair.substr(equals + 1));
    if (key != "asid" && key != "vm" && key != "cpu" && key != "vcpu") {
      throw TraceError(where + "unknown key '" + std::string(key) +
                       "' (known: asid, vm, cpu, vcpu)");
    }
    if (!value) {
      throw TraceError(where + "bad value in '" + std::string(pair) +
                       "' (expected 0x-hex or decimal)");
    }
    const std::uint64_t number = value.value_or(0);
    if (key == "asid") {
      spec.asid = number;
    } else if (key == "vm") {
      if (number >= kMaxVms) {
        throw TraceError(where + "vm " + std::to_string(number) + " is not below 256");
      }
      spec.vm = number;
    } else {  // cpu, or its synonym vcpu
      if (number >= kMaxCpus) {
        throw TraceError(where + std::string(key) + " " + std::to_string(number) +
                         " is not below 256");
      }
      spec.cpu = number;
    }
  }
  if (spec.path.empty()) {
    throw TraceError(where + "no trace before the '@'");
  }
  return spec;
}

TraceMixer::TraceMixer(std::vector<MixSource> sources, std::uint64_t quantum)
    : m_quantum(quantum), m_cpu_of_vm(kMaxVms, 0), m_asid_of_cpu(kMaxVms * kMaxCpus, 0) {
  if (quantum == 0) {
    throw TraceError("trace mix: the quantum is at least 1 access");
  }
  for (MixSource& source : sources) {
    m_inputs.push_back(Input{std::move(source), std::vector<Record>(kInputBatch)});
  }
}

std::string TraceMixer::describe() const {
  return "mix of " + std::to_string(m_inputs.size()) + " traces, quantum " +
         std::to_string(m_quantum) + " accesses";
}

bool TraceMixer::has_record(Input& input) {
  if (input.pos == input.end && !input.done) {
    input.end = input.source.reader->read(input.buffer);
    input.pos = 0;
    if (input.end == 0) {
      input.done = true;
      input.source.reader.reset();  // close it now
    }
  }
  return input.pos < input.end;
}

bool TraceMixer::advance() {
  for (std::size_t step = 1; step <= m_inputs.size(); ++step) {
    const std::size_t next = (m_current + step) % m_inputs.size();
    if (has_record(m_inputs[next])) {
      m_current = next;
      m_slice_started = false;
      return true;
    }
  }
  return false;
}

void TraceMixer::switch_to_current() {
  const MixSource& to = m_inputs[m_current].source;
  m_switch_pos = 0;
  m_switch_end = 0;
  if (to.vm != m_vm) {
    m_vm = to.vm;
    m_switch[m_switch_end++] = Record::event(EventOp::kVm, m_vm);
  }
  if (to.cpu != m_cpu_of_vm[m_vm]) {
    m_cpu_of_vm[m_vm] = to.cpu;
    m_switch[m_switch_end++] = Record::event(EventOp::kCpu, to.cpu);
  }
  if (to.asid != current_asid()) {
    current_asid() = to.asid;
    m_switch[m_switch_end++] = Record::event(EventOp::kCr3, to.asid);
  }
  m_slice_started = true;
  m_slice_accesses = 0;
}

std::size_t TraceMixer::read(std::span<Record> out) {
  std::size_t n = 0;
  while (n < out.size()) {
    if (m_switch_pos < m_switch_end) {
      out[n++] = m_switch[m_switch_pos++];
      continue;
    }
    if (m_inputs.empty()) {
      break;
    }
    Input& input = m_inputs[m_current];
    if (!has_record(input)) {
      if (!advance()) {
        break;  // every input is done
      }
      continue;
    }
    if (!m_slice_started) {
      switch_to_current();
      continue;
    }
    const Record& r = input.buffer[input.pos++];
    out[n++] = r;
    if (r.is_event()) {
      // The input's own context changes pass through and become its context.
      // A `!vm` lands on that VM's current CPU, a `!cpu` on that CPU's current address
      // space (record.h).
      if (r.op == EventOp::kCr3) {
        input.source.asid = r.address;
        current_asid() = r.address;
      } else if (r.op == EventOp::kVm) {
        input.source.vm = r.address;
        m_vm = r.address;
        input.source.cpu = m_cpu_of_vm[m_vm];
        input.source.asid = current_asid();
      } else if (r.op == EventOp::kCpu) {
        input.source.cpu = r.address;
        m_cpu_of_vm[m_vm] = r.address;
        input.source.asid = current_asid();
      }
      continue;
    }
    if (++m_slice_accesses == m_quantum) {
      // The slice is over: the next input with records (this one again if it is the only
      // one left, which switches nothing).
      if (!advance()) {
        break;
      }
    }
  }
  return n;
}

}  // namespace pagesim::traces
