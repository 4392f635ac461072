// `pagesim trace mix IN[@asid=A][,vm=V][,vcpu=0]... --out OUT [--quantum N]`: TraceMixer
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
      "usage: pagesim trace mix IN[@asid=A][,vm=V][,vcpu=0]... --out OUT [--quantum N]\n"
      "\n"
      "Interleaves the inputs as processes (and VMs) sharing one CPU per VM: round robin,\n"
      "each input in turn gives N accesses (its events pass through and do not count),\n"
      "then the next input that still has records. A switch to an input writes the events\n"
      "a context switch makes: '!vm V' when it runs on another VM than the records before,\n"
      "'!cr3 A' when that VM's address space is not the input's. VM 0 and address space 0\n"
      "at the start, as in the simulator.\n"
      "\n"
      "  asid=A  the input's address space (default: its position, from 1)\n"
      "  vm=V    the VM it runs in, 0 to 255 (default 0; replay with --set vms=...)\n"
      "  vcpu=0  the simulator runs one vCPU per VM: give streams of several CPUs\n"
      "          different VMs, or mix them into one\n"
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
    sources.push_back(MixSource{open_trace(spec.path), spec.asid, spec.vm});
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
