// Statistics, declared once where the event happens, with a dotted name and a description.
//
//   struct TlbStats : stats::Group {
//     using Group::Group;
//     stats::Counter hits{*this, "hits", "lookups that matched an entry"};
//   };
//   stats::Group root(nullptr, "");
//   TlbStats l1d(&root, "tlb.l1d");      // a group name may itself be dotted
//   ++l1d.hits;                           // hot path: one integer increment, no lookup
//
// Groups form a tree; stats::collect() walks it into sorted (path, value) rows that the
// JSON and CSV writers and pysim all print from. Groups and statistics register `this`, so
// they are neither copyable nor movable. Counters are integers, histograms have fixed
// integer bins; Formulas are computed only when collected.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace pagesim::stats {

class Group;

class Stat {
 public:
  Stat(Group& group, std::string name, std::string description);
  Stat(const Stat&) = delete;
  Stat& operator=(const Stat&) = delete;
  virtual ~Stat() = default;

  const std::string& name() const { return m_name; }
  const std::string& description() const { return m_description; }
  virtual void reset() = 0;
  // The statistic's state as integers (none for a formula), appended to `out`; assign()
  // reads the same number back from `in`, advancing it. Every recorded statistic is a sum
  // of events, so states subtract and add: a window of a run is (state at its end) -
  // (state at its start) (stats/window.h).
  virtual void capture(std::vector<std::uint64_t>& out) const = 0;
  virtual void assign(const std::uint64_t*& in) = 0;

 private:
  std::string m_name;
  std::string m_description;
};

class Counter final : public Stat {
 public:
  using Stat::Stat;
  Counter& operator++() {
    ++m_value;
    return *this;
  }
  Counter& operator+=(std::uint64_t n) {
    m_value += n;
    return *this;
  }
  std::uint64_t value() const { return m_value; }
  void reset() override { m_value = 0; }
  void capture(std::vector<std::uint64_t>& out) const override { out.push_back(m_value); }
  void assign(const std::uint64_t*& in) override { m_value = *in++; }

 private:
  std::uint64_t m_value = 0;
};

// Fixed bins. Linear: bin i holds [i*width, (i+1)*width). Log2: bin 0 holds 0, bin i >= 1
// holds [2^(i-1), 2^i). Values past the last bin land in the last bin, labelled ">=lo".
class Histogram final : public Stat {
 public:
  enum class Scale { kLinear, kLog2 };
  Histogram(Group& group, std::string name, std::string description, std::size_t bins,
            std::uint64_t width = 1, Scale scale = Scale::kLinear);

  void sample(std::uint64_t value, std::uint64_t count = 1) {
    m_bins[bin_of(value)] += count;
    m_samples += count;
    m_sum += value * count;
  }
  // Inline: every access samples a histogram (sim.translation_cycles_per_access), every
  // walk two more.
  std::size_t bin_of(std::uint64_t value) const {
    const std::size_t i = m_scale == Scale::kLinear
                              ? static_cast<std::size_t>(value / m_width)
                              : static_cast<std::size_t>(std::bit_width(value));
    return std::min(i, m_bins.size() - 1);
  }
  // Lower bound of bin i.
  std::uint64_t bin_low(std::size_t i) const;
  const std::vector<std::uint64_t>& bins() const { return m_bins; }
  std::uint64_t samples() const { return m_samples; }
  std::uint64_t sum() const { return m_sum; }
  // Bucket label as the writers print it: "3", or ">=36" for the last, open bin.
  std::string label(std::size_t i) const;
  void reset() override;
  void capture(std::vector<std::uint64_t>& out) const override;
  void assign(const std::uint64_t*& in) override;

 private:
  std::vector<std::uint64_t> m_bins;
  std::uint64_t m_width;
  Scale m_scale;
  std::uint64_t m_samples = 0;
  std::uint64_t m_sum = 0;
};

// A value derived from others, computed when statistics are collected.
class Formula final : public Stat {
 public:
  Formula(Group& group, std::string name, std::string description, std::function<double()> fn)
      : Stat(group, std::move(name), std::move(description)), m_fn(std::move(fn)) {}
  double value() const { return m_fn(); }
  void reset() override {}
  void capture(std::vector<std::uint64_t>&) const override {}
  void assign(const std::uint64_t*&) override {}

 private:
  std::function<double()> m_fn;
};

class Group {
 public:
  // `parent` may be null for a root. `name` may be dotted ("tlb.l1d").
  Group(Group* parent, std::string name);
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;
  virtual ~Group();

  std::string path() const;
  const std::string& name() const { return m_name; }
  const std::vector<Stat*>& stats() const { return m_stats; }
  const std::vector<Group*>& children() const { return m_children; }
  // Zeroes every statistic in this group and below.
  void reset();
  // Every statistic's state in this group and below, in a fixed order (Stat::capture);
  // assign() sets them from such a vector.
  std::vector<std::uint64_t> capture() const;
  void assign(const std::vector<std::uint64_t>& state);

 private:
  friend class Stat;
  Group* m_parent;
  std::string m_name;
  std::vector<Stat*> m_stats;
  std::vector<Group*> m_children;
};

// ratio(a, b) = a / b, 0 when b is 0.
inline double ratio(double a, double b) { return b == 0 ? 0.0 : a / b; }

// One collected statistic.
struct Row {
  std::string path;
  std::string description;
  // A counter (integer), a formula (double) or a histogram (label -> count, in bin order).
  std::variant<std::uint64_t, double, std::vector<std::pair<std::string, std::uint64_t>>> value;
};

// Every statistic below `root`, sorted by path. Duplicate paths are a programming error
// and throw std::logic_error.
std::vector<Row> collect(const Group& root);

// A member written before the statistics: its name and its value as JSON text.
using JsonMember = std::pair<std::string, std::string>;
// A CSV row written before the statistics, its value text (quoted as needed).
struct CsvRow {
  std::string name;
  std::string value;
  std::string description;
};

// One flat JSON object: path -> number, histograms path -> {label: count}; `head`'s members
// first (the provenance object, sim/provenance.h). Same input, same bytes.
std::string to_json(const std::vector<Row>& rows, const std::vector<JsonMember>& head = {});
// `path,value,description` rows; a histogram gives one row per bin, `path[label]`; `head`'s
// rows first.
std::string to_csv(const std::vector<Row>& rows, const std::vector<CsvRow>& head = {});

// `s` as a JSON string literal (quoted, escaped), and as one CSV field (quoted when it holds
// a comma, a quote or a line break).
std::string json_quote(std::string_view s);
std::string csv_quote(std::string_view s);

}  // namespace pagesim::stats
