// Decoding speed of the trace readers, in records per second (items_per_second), for the
// two traces of the replay benchmark: (a) a TLB-friendly sequential sweep, (b) uniform
// random over 64 GiB; and (c) the uniform trace with every 1000th record an event (an
// `!invlpg` or `!cr3`), to show events cost nothing on the access path. Target: binary
// decoding >= 50 M records/s on one core. Records are 32 bytes (record.h): a batch of 4096
// is 128 KiB.
//
//   build-traces/traces/pagesim_traces_bench [--benchmark_filter=Binary]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <map>
#include <string>

#include "traces/generator.h"
#include "traces/trace_reader.h"
#include "traces/trace_writer.h"

namespace pagesim::traces {
namespace {

constexpr std::uint64_t kRecords = 10'000'000;
constexpr std::size_t kBatch = 4096;

// 0: sequential over 1 GiB; 1: uniform over 64 GiB; 2: zipf over 64 GiB (generator only);
// 3: trace 1 with every 1000th record replaced by an event (files only).
const char* spec_of(int which) {
  switch (which) {
    case 0:
      return "sequential:count=10000000,footprint=1GiB";
    case 1:
    case 3:
      return "uniform:count=10000000,footprint=64GiB";
    default:
      return "zipf:count=10000000,footprint=64GiB";
  }
}

// Writes each (pattern, format) trace once per process, into the temporary directory.
const std::string& trace_file(int which, Format format) {
  static std::map<std::pair<int, Format>, std::string> files;
  auto [it, inserted] = files.try_emplace({which, format});
  if (inserted) {
    it->second = (std::filesystem::temp_directory_path() /
                  ("pagesim_traces_bench_" + std::to_string(::getpid()) + "_" +
                   std::to_string(which) + (format == Format::kBinary ? ".pgt" : ".trace")))
                     .string();
    auto reader = make_generator(parse_generator_spec(spec_of(which)));
    auto writer = create_writer(it->second, format);
    std::array<Record, kBatch> batch;
    std::uint64_t index = 0;
    while (std::size_t n = reader->read(batch)) {
      if (which == 3) {
        for (std::size_t i = 0; i < n; ++i, ++index) {
          if (index % 1000 == 999) {
            batch[i] = (index / 1000) % 2 ? Record::event(EventOp::kCr3, index % 7)
                                          : Record::event(EventOp::kInvlpg, batch[i].address);
          }
        }
      }
      writer->write(std::span<const Record>(batch.data(), n));
    }
    writer->finish();
  }
  return it->second;
}

void read_trace(benchmark::State& state, const std::string& path) {
  std::array<Record, kBatch> batch;
  std::uint64_t checksum = 0;
  for (auto _ : state) {
    auto reader = open_trace(path);
    std::uint64_t records = 0;
    while (std::size_t n = reader->read(batch)) {
      records += n;
      checksum += batch[n - 1].address;
    }
    if (records != kRecords) {
      state.SkipWithError("wrong record count");
    }
  }
  benchmark::DoNotOptimize(checksum);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kRecords));
  if (!path.starts_with("gen:")) {
    state.counters["file_MiB"] =
        static_cast<double>(std::filesystem::file_size(path)) / (1024.0 * 1024.0);
  }
}

void BM_BinaryDecode(benchmark::State& state) {
  read_trace(state, trace_file(static_cast<int>(state.range(0)), Format::kBinary));
}

void BM_TextParse(benchmark::State& state) {
  read_trace(state, trace_file(static_cast<int>(state.range(0)), Format::kText));
}

void BM_Generate(benchmark::State& state) {
  read_trace(state, std::string("gen:") + spec_of(static_cast<int>(state.range(0))));
}

void BM_BinaryEncode(benchmark::State& state) {
  auto generated = make_generator(parse_generator_spec(spec_of(static_cast<int>(state.range(0)))));
  std::vector<Record> records(kRecords);
  generated->read(records);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("pagesim_traces_bench_" + std::to_string(::getpid()) + "_w.pgt"))
                               .string();
  for (auto _ : state) {
    auto writer = create_writer(path, Format::kBinary);
    writer->write(records);
    writer->finish();
  }
  std::filesystem::remove(path);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kRecords));
}

// The argument picks the trace (spec_of): 0 sequential, 1 uniform, 2 zipf, 3 uniform with
// events.
BENCHMARK(BM_BinaryDecode)->ArgName("trace")->Arg(0)->Arg(1)->Arg(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TextParse)->ArgName("trace")->Arg(0)->Arg(1)->Arg(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Generate)->ArgName("trace")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BinaryEncode)->ArgName("trace")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pagesim::traces

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::temp_directory_path())) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("pagesim_traces_bench_" + std::to_string(::getpid()) + "_")) {
      std::filesystem::remove(entry.path());
    }
  }
  return 0;
}
