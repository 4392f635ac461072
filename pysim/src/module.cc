// _pysim: the C++ side of the pysim package (pysim/pysim/*.py wraps it).
//
//   schema()                  every configuration key: type, documentation, default
//   Configuration             the simulator's own Configuration (sim/sim_params.h): the same
//                             schema, parsers, checks and messages as the CLI's --set
//   Run(config, trace...)     one simulation, set up (config resolved, trace opened)
//   Run.execute()             replays it with the GIL released; returns the statistics
//   request_stop(), records_read()   for the worker's other threads while execute() runs
//
// SystemC elaborates once per process, so Run.execute() succeeds once per process: pysim
// calls it only inside a worker process of its own (pysim/pysim/_worker.py).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "base/config/schema.h"
#include "pysim/src/array_trace_reader.h"
#include "pysim/src/controlled_reader.h"
#include "sim/preset/preset.h"
#include "sim/sim_params.h"
#include "sim/simulation.h"
#include "traces/trace_reader.h"

// libsystemc.so has a main() that calls sc_main(); the extension never enters SystemC that
// way (run_simulation() elaborates and calls sc_start() itself), but the library's symbol
// must resolve when Python loads the module.
extern "C" __attribute__((visibility("default"))) int sc_main(int, char**) { return 0; }

namespace pagesim::pysim {
namespace {

namespace py = pybind11;

std::atomic<bool> g_stop{false};
std::atomic<std::uint64_t> g_records{0};

// The value of a key as Python sees it: bool, int (integers, cycles, bytes), float, str.
py::object typed_value(const config::Field& f) {
  const std::string text = f.value_text();
  const std::string_view type = f.type();
  auto unquoted = [&] {
    return text.size() >= 2 && text.front() == '"' ? text.substr(1, text.size() - 2) : text;
  };
  if (type == "bool") {
    return py::bool_(text == "true");
  }
  if (type == "integer" || type == "cycles") {
    return py::int_(std::stoull(unquoted()));  // quoted past 2^63 - 1 (TOML's integers)
  }
  if (type == "number") {
    return py::float_(std::stod(text));
  }
  if (type == "bytes") {
    config::ByteSize size;
    if (config::parse_value(unquoted(), size)) {
      return py::str(unquoted());
    }
    return py::int_(size.bytes);
  }
  return py::str(unquoted());
}

const config::Field& field_of(const Configuration& c, const std::string& key) {
  const config::Field* f = c.schema().find(key);
  if (f == nullptr) {
    throw config::ConfigError("unknown configuration key '" + key + "'");
  }
  return *f;
}

py::list stats_rows(const std::vector<stats::Row>& rows) {
  py::list out;
  for (const auto& r : rows) {
    py::object value;
    if (const auto* n = std::get_if<std::uint64_t>(&r.value)) {
      value = py::int_(*n);
    } else if (const auto* d = std::get_if<double>(&r.value)) {
      value = py::float_(*d);
    } else {
      py::list bins;
      for (const auto& [label, count] : std::get<2>(r.value)) {
        bins.append(py::make_tuple(label, count));
      }
      value = std::move(bins);
    }
    out.append(py::make_tuple(r.path, r.description, value));
  }
  return out;
}

// A contiguous buffer of `T`s handed over from Python (bytes, mmap, numpy array).
template <class T>
std::span<const T> span_of(const std::optional<py::buffer>& buffer, const char* what) {
  if (!buffer) {
    return {};
  }
  py::buffer_info info = buffer->request();
  const auto bytes = static_cast<std::size_t>(info.size * info.itemsize);
  if (bytes % sizeof(T) != 0) {
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(bytes) +
                                " bytes is not a whole number of " + std::to_string(sizeof(T)) +
                                "-byte elements");
  }
  return {static_cast<const T*>(info.ptr), bytes / sizeof(T)};
}

// A preset as Python carries it: (name, [(key, value, source)], report), resolved where the
// Config was built (a host preset is this machine's CPUID, not a worker's).
using PresetTuple =
    std::tuple<std::string, std::vector<std::tuple<std::string, std::string, std::string>>,
               std::string>;

preset::Resolved resolved_of(const PresetTuple& t) {
  preset::Resolved r;
  r.name = std::get<0>(t);
  for (const auto& [key, value, source] : std::get<1>(t)) {
    r.values.push_back({key, value, source});
  }
  r.report = std::get<2>(t);
  return r;
}

PresetTuple tuple_of(const preset::Resolved& r) {
  PresetTuple t{r.name, {}, r.report};
  for (const auto& a : r.values) {
    std::get<1>(t).emplace_back(a.key, a.value, a.source);
  }
  return t;
}

// One simulation, set up and ready to execute.
class Run {
 public:
  // `preset`: applied first (PresetTuple); `assignments`: (key, value text, origin) applied
  // in order after `config_file`.
  // `trace`: a path or "gen:..." spec, or else the arrays (array_name describes them).
  Run(const std::optional<std::string>& config_file,
      const std::vector<std::tuple<std::string, std::string, std::string>>& assignments,
      const std::optional<std::string>& trace, std::optional<py::buffer> addresses,
      std::optional<py::buffer> kinds, std::optional<py::buffer> sizes,
      const std::string& array_name, std::optional<std::uint64_t> trace_page,
      const std::optional<PresetTuple>& preset)
      : m_addresses(std::move(addresses)),
        m_kinds(std::move(kinds)),
        m_sizes(std::move(sizes)),
        m_trace_page(trace_page) {
    if (preset) {
      preset::apply(m_config, resolved_of(*preset));
    }
    if (config_file) {
      m_config.load_file(*config_file);
    }
    for (const auto& [key, text, origin] : assignments) {
      m_config.set(key, text, origin);
    }
    m_config.validate();
    if (trace) {
      m_inner = traces::open_trace(*trace);
    } else {
      m_inner = std::make_unique<ArrayTraceReader>(
          span_of<std::uint64_t>(m_addresses, "addresses"), span_of<std::uint8_t>(m_kinds, "kinds"),
          span_of<std::uint32_t>(m_sizes, "sizes"), array_name);
    }
  }

  std::optional<std::uint64_t> record_count() const { return m_inner->record_count(); }
  std::string describe() const { return m_inner->describe(); }
  std::string mode() const { return std::string(config::enum_name(m_config.params().mode)); }

  py::dict execute() {
    ControlledReader reader(*m_inner, g_stop, g_records);
    std::ostringstream page_life;
    RunOptions options;
    options.trace_page = m_trace_page;
    options.page_life_out = &page_life;
    RunResult result;
    {
      py::gil_scoped_release release;
      result = run_simulation(m_config.params(), reader, options);
    }
    py::dict out;
    out["stats"] = stats_rows(result.stats);
    out["wall_seconds"] = result.wall_seconds;
    out["partial"] = reader.stopped();
    out["records"] = reader.records_read();
    out["trace"] = reader.describe();
    out["mode"] = mode();
    out["page_life"] = page_life.str();
    // sim.interval's time series: (interval, accesses per sample, names, deltas per sample).
    const stats::TimeSeries& ts = result.timeseries;
    py::list deltas;
    for (std::size_t k = 0; k < ts.accesses().size(); ++k) {
      py::list row;
      for (std::size_t i = 0; i < ts.names().size(); ++i) {
        row.append(ts.delta(k, i));
      }
      deltas.append(row);
    }
    out["timeseries"] = py::make_tuple(ts.interval(), ts.accesses(), ts.names(), deltas);
    return out;
  }

 private:
  Configuration m_config;
  std::optional<py::buffer> m_addresses;
  std::optional<py::buffer> m_kinds;
  std::optional<py::buffer> m_sizes;
  std::optional<std::uint64_t> m_trace_page;
  std::unique_ptr<traces::TraceReader> m_inner;
};

}  // namespace
}  // namespace pagesim::pysim

PYBIND11_MODULE(_pysim, m) {
  namespace py = pybind11;
  using pagesim::Configuration;
  using pagesim::config::Field;
  using namespace pagesim::pysim;
  m.doc() = "pagesim's C++ side; use the pysim package, not this module";
  // The banner SystemC prints on its first use would land in the worker's output.
  ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);

  py::register_exception<pagesim::config::ConfigError>(m, "ConfigError", PyExc_ValueError);
  py::register_exception<pagesim::traces::TraceError>(m, "TraceError", PyExc_RuntimeError);

  m.def(
      "preset_names", [] { return pagesim::preset::preset_names(); },
      "every name --preset takes, comma-separated");
  m.def(
      "resolve_preset",
      [](const std::string& name) { return tuple_of(pagesim::preset::resolve(name, "preset")); },
      py::arg("name"),
      "(name, [(key, value, source)], report): a named preset's values, or host's from CPUID");
  m.def(
      "schema",
      [] {
        Configuration c;
        py::list out;
        for (const auto& f : c.schema().fields()) {
          py::dict d;
          d["key"] = f->key();
          d["type"] = std::string(f->type());
          d["doc"] = f->doc();
          d["note"] = f->note_text();
          d["limits"] = f->limits_text();
          d["default"] = typed_value(*f);
          d["default_text"] = f->default_text();
          out.append(std::move(d));
        }
        return out;
      },
      "every configuration key, in declaration order: key, type, doc, note, limits, default");

  py::class_<Configuration>(m, "Configuration")
      .def(py::init<>())
      .def("load_file", &Configuration::load_file, py::arg("path"))
      .def(
          "set",
          [](Configuration& c, std::string_view key, std::string_view text,
             std::string_view origin) { c.set(key, text, origin); },
          py::arg("key"), py::arg("text"), py::arg("origin"))
      .def(
          "apply_preset",
          [](Configuration& c, const PresetTuple& p) { pagesim::preset::apply(c, resolved_of(p)); },
          py::arg("preset"))
      .def("validate", &Configuration::validate)
      .def("dump", &Configuration::dump)
      .def("value", [](const Configuration& c,
                       const std::string& key) { return typed_value(field_of(c, key)); })
      .def("value_text", [](const Configuration& c,
                            const std::string& key) { return field_of(c, key).value_text(); })
      .def("values", [](const Configuration& c) {
        py::dict out;
        for (const auto& f : c.schema().fields()) {
          out[py::str(f->key())] = typed_value(*f);
        }
        return out;
      });

  py::class_<Run>(m, "Run")
      .def(py::init<const std::optional<std::string>&,
                    const std::vector<std::tuple<std::string, std::string, std::string>>&,
                    const std::optional<std::string>&, std::optional<py::buffer>,
                    std::optional<py::buffer>, std::optional<py::buffer>, const std::string&,
                    std::optional<std::uint64_t>, const std::optional<PresetTuple>&>(),
           py::arg("config_file"), py::arg("assignments"), py::arg("trace"),
           py::arg("addresses") = py::none(), py::arg("kinds") = py::none(),
           py::arg("sizes") = py::none(), py::arg("array_name") = "array",
           py::arg("trace_page") = py::none(), py::arg("preset") = py::none())
      .def_property_readonly("record_count", &Run::record_count)
      .def_property_readonly("describe", &Run::describe)
      .def_property_readonly("mode", &Run::mode)
      .def("execute", &Run::execute);

  m.def(
      "request_stop", [] { g_stop.store(true); },
      "ends the running simulation's trace at the next batch (thread-safe)");
  m.def(
      "records_read", [] { return g_records.load(std::memory_order_relaxed); },
      "trace records the running simulation has read so far (thread-safe)");
}
