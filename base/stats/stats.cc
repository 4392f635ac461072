#include "base/stats/stats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace pagesim::stats {

Stat::Stat(Group& group, std::string name, std::string description)
    : m_name(std::move(name)), m_description(std::move(description)) {
  group.m_stats.push_back(this);
}

Histogram::Histogram(Group& group, std::string name, std::string description, std::size_t bins,
                     std::uint64_t width, Scale scale)
    : Stat(group, std::move(name), std::move(description)),
      m_bins(std::max<std::size_t>(bins, 1), 0),
      m_width(std::max<std::uint64_t>(width, 1)),
      m_scale(scale) {}

std::uint64_t Histogram::bin_low(std::size_t i) const {
  if (m_scale == Scale::kLinear) {
    return i * m_width;
  }
  return i == 0 ? 0 : std::uint64_t{1} << (i - 1);
}

std::string Histogram::label(std::size_t i) const {
  std::string low = std::to_string(bin_low(i));
  return i + 1 == m_bins.size() ? ">=" + low : low;
}

void Histogram::reset() {
  std::fill(m_bins.begin(), m_bins.end(), 0);
  m_samples = 0;
  m_sum = 0;
}

void Histogram::capture(std::vector<std::uint64_t>& out) const {
  out.insert(out.end(), m_bins.begin(), m_bins.end());
  out.push_back(m_samples);
  out.push_back(m_sum);
}

void Histogram::assign(const std::uint64_t*& in) {
  std::copy_n(in, m_bins.size(), m_bins.begin());
  in += m_bins.size();
  m_samples = *in++;
  m_sum = *in++;
}

Group::Group(Group* parent, std::string name) : m_parent(parent), m_name(std::move(name)) {
  if (m_parent != nullptr) {
    m_parent->m_children.push_back(this);
  }
}

Group::~Group() {
  if (m_parent != nullptr) {
    auto& siblings = m_parent->m_children;
    siblings.erase(std::remove(siblings.begin(), siblings.end(), this), siblings.end());
  }
}

std::string Group::path() const {
  std::string up = m_parent != nullptr ? m_parent->path() : "";
  if (up.empty()) {
    return m_name;
  }
  return m_name.empty() ? up : up + "." + m_name;
}

void Group::reset() {
  for (Stat* s : m_stats) {
    s->reset();
  }
  for (Group* g : m_children) {
    g->reset();
  }
}

namespace {

void collect_into(const Group& group, std::vector<Row>& rows) {
  std::string prefix = group.path();
  for (const Stat* s : group.stats()) {
    Row row{prefix.empty() ? s->name() : prefix + "." + s->name(), s->description(), {}};
    if (const auto* c = dynamic_cast<const Counter*>(s)) {
      row.value = c->value();
    } else if (const auto* f = dynamic_cast<const Formula*>(s)) {
      row.value = f->value();
    } else if (const auto* h = dynamic_cast<const Histogram*>(s)) {
      std::vector<std::pair<std::string, std::uint64_t>> bins;
      for (std::size_t i = 0; i < h->bins().size(); ++i) {
        bins.emplace_back(h->label(i), h->bins()[i]);
      }
      row.value = std::move(bins);
    }
    rows.push_back(std::move(row));
  }
  for (const Group* g : group.children()) {
    collect_into(*g, rows);
  }
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string number_text(double v) {
  if (!std::isfinite(v)) {
    return "null";
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\n") == std::string_view::npos) {
    return std::string(s);
  }
  std::string out = "\"";
  for (char c : s) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return out + "\"";
}

}  // namespace

std::vector<Row> collect(const Group& root) {
  std::vector<Row> rows;
  collect_into(root, rows);
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.path < b.path; });
  for (std::size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].path == rows[i - 1].path) {
      throw std::logic_error("statistic declared twice: " + rows[i].path);
    }
  }
  return rows;
}

std::string json_quote(std::string_view s) { return json_string(s); }
std::string csv_quote(std::string_view s) { return csv_field(s); }

std::string to_json(const std::vector<Row>& rows, const std::vector<JsonMember>& head) {
  std::string out = "{\n";
  for (const auto& [name, value] : head) {
    out += "  " + json_string(name) + ": " + value + (rows.empty() ? "\n" : ",\n");
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    out += "  " + json_string(r.path) + ": ";
    if (const auto* n = std::get_if<std::uint64_t>(&r.value)) {
      out += std::to_string(*n);
    } else if (const auto* d = std::get_if<double>(&r.value)) {
      out += number_text(*d);
    } else {
      const auto& bins = std::get<2>(r.value);
      out += "{";
      for (std::size_t b = 0; b < bins.size(); ++b) {
        out += (b ? ", " : "") + json_string(bins[b].first) + ": " + std::to_string(bins[b].second);
      }
      out += "}";
    }
    out += i + 1 < rows.size() ? ",\n" : "\n";
  }
  return out + "}\n";
}

std::string to_csv(const std::vector<Row>& rows, const std::vector<CsvRow>& head) {
  std::string out = "name,value,description\n";
  for (const CsvRow& r : head) {
    out += csv_field(r.name) + "," + csv_field(r.value) + "," + csv_field(r.description) + "\n";
  }
  for (const Row& r : rows) {
    if (const auto* n = std::get_if<std::uint64_t>(&r.value)) {
      out += csv_field(r.path) + "," + std::to_string(*n) + "," + csv_field(r.description) + "\n";
    } else if (const auto* d = std::get_if<double>(&r.value)) {
      out += csv_field(r.path) + "," + number_text(*d) + "," + csv_field(r.description) + "\n";
    } else {
      for (const auto& [label, count] : std::get<2>(r.value)) {
        out += csv_field(r.path + "[" + label + "]") + "," + std::to_string(count) + "," +
               csv_field(r.description) + "\n";
      }
    }
  }
  return out;
}

}  // namespace pagesim::stats

namespace pagesim::stats {

namespace {
void capture_tree(const Group& g, std::vector<std::uint64_t>& out) {
  for (const Stat* s : g.stats()) {
    s->capture(out);
  }
  for (const Group* c : g.children()) {
    capture_tree(*c, out);
  }
}
void assign_tree(Group& g, const std::uint64_t*& in) {
  for (Stat* s : g.stats()) {
    s->assign(in);
  }
  for (Group* c : g.children()) {
    assign_tree(*c, in);
  }
}
}  // namespace

std::vector<std::uint64_t> Group::capture() const {
  std::vector<std::uint64_t> out;
  capture_tree(*this, out);
  return out;
}

void Group::assign(const std::vector<std::uint64_t>& state) {
  if (state.size() != capture().size()) {
    throw std::logic_error("stats: assign() of a state captured from another tree");
  }
  const std::uint64_t* in = state.data();
  assign_tree(*this, in);
}

}  // namespace pagesim::stats
