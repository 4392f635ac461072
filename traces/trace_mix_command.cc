// `pagesim trace mix IN[@asid=A][,vm=V][,cpu=C]... --out OUT [--quantum N]`: TraceMixer
// over the inputs, written to OUT.
#include <iostream>
#include <string>
#include <vector>

#include "traces/byte_size.h"
#include "traces/command_line.h"
#include "traces/trace_mixer.h"

namespace pagesim::traces {

namespace {

namespace po = boost::program_options;

constexpr std::size_t kBatchRecords = 4096;
constexpr std::uint64_t kDefaultQuantum = 10000;

}  // namespace

int run_mix(const std::vector<std::string>& args) {
  po::options_description visible(
      "usage: pagesim trace mix IN[@asid=A][,vm=V][,cpu=C]... --out OUT [--quantum N]\n"
      "\n"
      "Interleaves the inputs as processes on the CPUs of VMs: round robin, each input in\n"
      "turn gives N accesses (its events pass through and do not count), then the next\n"
      "input that still has records. A switch to an input writes the events a context\n"
      "switch makes: '!vm V' when it runs on another VM than the records before, '!cpu C'\n"
      "when that VM's current CPU is not the input's, '!cr3 A' when that CPU's address\n"
      "space is not the input's. As in the simulator: VM 0 at the start, CPU 0 in every VM\n"
      "(each VM keeps its own current CPU), address space 0 on every CPU (CR3 is per CPU).\n"
      "\n"
      "  asid=A  the input's address space (default: its position, from 1)\n"
      "  vm=V    the VM it runs in, 0 to 255 (default 0; replay with --set vms=...)\n"
      "  cpu=C   the CPU of that VM it runs on, 0 to 255 (default 0); vcpu=C is the same\n"
      "Inputs of the same VM and asid share an address space (threads of one process).\n"
      "\n"
      "options");
  visible.add_options()              //
      ("help,h", "print this help")  //
      ("quantum,q", po::value<std::string>()->value_name("N"),
       ("accesses per slice (default " + std::to_string(kDefaultQuantum) + ")").c_str())  //
      ("out,o", po::value<std::string>()->value_name("FILE"),
       "output file ('-' is standard output)")  //
      ("format", po::value<std::string>()->value_name("F"),
       "text, binary or csv (default: from the --out name)");
  po::variables_map vm;
  if (!parse_command(args, visible, "inputs", -1, vm)) {
    return 0;
  }
  if (!vm.count("inputs")) {
    throw UsageError("missing inputs: mix IN... --out OUT");
  }
  if (!vm.count("out")) {
    throw UsageError("missing --out FILE");
  }
  std::uint64_t quantum = kDefaultQuantum;
  if (vm.count("quantum")) {
    const std::optional<std::uint64_t> q = parse_unsigned(vm["quantum"].as<std::string>());
    if (!q || *q == 0) {
      throw UsageError("--quantum: '" + vm["quantum"].as<std::string>() +
                       "' is not a positive number of accesses");
    }
    quantum = *q;
  }
  const std::string out = vm["out"].as<std::string>();
  const Format format = output_format(vm, out);
  const auto inputs = vm["inputs"].as<std::vector<std::string>>();

  // Every input opened first, so a missing one fails before anything is written.
  std::vector<MixSource> sources;
  std::string command = "pagesim trace mix --quantum " + std::to_string(quantum);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const MixInputSpec spec = as_usage_error([&] { return parse_mix_input(inputs[i], i); });
    sources.push_back(MixSource{open_trace(spec.path), spec.asid, spec.vm, spec.cpu});
    command += " " + inputs[i];
  }
  TraceMixer mixer(std::move(sources), quantum);
  auto writer = create_writer(out, format);
  writer->add_comment(command + " --out " + out);
  std::vector<Record> batch(kBatchRecords);
  const std::uint64_t records = copy_records(mixer, *writer, batch);
  writer->finish();
  report_written(out, records, format);
  return 0;
}

}  // namespace pagesim::traces
