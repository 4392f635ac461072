#include "traces/generator.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <optional>
#include <span>

#include "base/config/value_traits.h"
#include "traces/byte_size.h"
#include "traces/hash_permutation.h"
#include "traces/random.h"
#include "traces/zipf_sampler.h"

namespace pagesim::traces {

namespace {

constexpr std::uint64_t kPageBytes = 4096;
constexpr std::uint64_t kCacheLineBytes = 64;
constexpr std::uint64_t kUniformAlignBytes = 8;
constexpr double kMaxZipfAlpha = 10.0;

struct PatternName {
  Pattern pattern;
  std::string_view name;
};
constexpr std::array<PatternName, 5> kPatterns = {{
    {Pattern::kSequential, "sequential"},
    {Pattern::kStrided, "strided"},
    {Pattern::kUniform, "uniform"},
    {Pattern::kZipf, "zipf"},
    {Pattern::kPointerChase, "pointer_chase"},
}};

constexpr std::string_view kKnownKeys =
    "count, footprint, base, stride, seed, writes, fetches, size, alpha";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<double> parse_double(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string format_double(double value) {
  char text[32];
  auto [ptr, error] = std::to_chars(text, text + sizeof text, value);
  return std::string(text, ptr);
}

std::string format_hex(std::uint64_t value) {
  char text[24];
  auto [ptr, error] = std::to_chars(text, text + sizeof text, value, 16);
  return "0x" + std::string(text, ptr);
}

[[noreturn]] void spec_error(std::string_view spec, const std::string& what) {
  throw TraceError("generator spec '" + std::string(spec) + "': " + what);
}

class Generator final : public TraceReader {
 public:
  explicit Generator(const GeneratorSpec& spec)
      : m_spec(spec),
        m_address_rng(SplitMix64(spec.seed).next()),
        m_kind_rng(SplitMix64(spec.seed ^ 0x6b696e64'73656564ULL).next()),     // "kindseed"
        m_permutation(permutation_size(spec), mix64(spec.seed + 0x7065726d)),  // "perm"
        m_zipf(std::max<std::uint64_t>(spec.footprint_bytes / kPageBytes, 1), spec.zipf_alpha) {
    // Thresholds on 53-bit draws: exact for any fraction in [0, 1].
    m_write_threshold = static_cast<std::uint64_t>(spec.write_fraction * 0x1.0p53);
    m_fetch_threshold =
        m_write_threshold + static_cast<std::uint64_t>(spec.fetch_fraction * 0x1.0p53);
    switch (spec.pattern) {
      case Pattern::kSequential:
        m_step = spec.size_bytes;
        m_slots = spec.footprint_bytes / spec.size_bytes;
        break;
      case Pattern::kStrided:
        m_step = spec.stride_bytes;
        m_slots = (spec.footprint_bytes - spec.size_bytes) / spec.stride_bytes + 1;
        break;
      case Pattern::kUniform:
        m_slots = (spec.footprint_bytes - spec.size_bytes) / kUniformAlignBytes + 1;
        break;
      case Pattern::kZipf:
        m_slots = (kPageBytes - spec.size_bytes) / kUniformAlignBytes + 1;  // offsets in a page
        break;
      case Pattern::kPointerChase:
        m_slots = spec.footprint_bytes / kCacheLineBytes;
        break;
    }
  }

  std::size_t read(std::span<Record> out) override {
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), m_spec.count - m_generated));
    Record* const records = out.data();
    const std::uint64_t base = m_spec.base_address;
    switch (m_spec.pattern) {
      case Pattern::kSequential:
      case Pattern::kStrided:
        for (std::size_t i = 0; i < n; ++i) {
          records[i].address = base + m_slot * m_step;
          if (++m_slot == m_slots) {
            m_slot = 0;
          }
        }
        break;
      case Pattern::kUniform:
        for (std::size_t i = 0; i < n; ++i) {
          records[i].address = base + kUniformAlignBytes * m_address_rng.below(m_slots);
        }
        break;
      case Pattern::kZipf:
        for (std::size_t i = 0; i < n; ++i) {
          const std::uint64_t page = m_permutation(m_zipf(m_address_rng) - 1);
          const std::uint64_t offset = kUniformAlignBytes * m_address_rng.below(m_slots);
          records[i].address = base + page * kPageBytes + offset;
        }
        break;
      case Pattern::kPointerChase:
        for (std::size_t i = 0; i < n; ++i) {
          records[i].address = base + kCacheLineBytes * m_permutation(m_slot);
          if (++m_slot == m_slots) {
            m_slot = 0;
          }
        }
        break;
    }
    const std::uint32_t size = m_spec.size_bytes;
    if (m_fetch_threshold == 0) {
      for (std::size_t i = 0; i < n; ++i) {
        // The whole record: the caller's buffer may hold events from another reader.
        records[i] = Record{records[i].address, size, AccessKind::kRead};
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t draw = m_kind_rng.next53();
        records[i] = Record{records[i].address, size,
                            draw < m_write_threshold   ? AccessKind::kWrite
                            : draw < m_fetch_threshold ? AccessKind::kFetch
                                                       : AccessKind::kRead};
      }
    }
    m_generated += n;
    return n;
  }

  std::string describe() const override {
    return "gen:" + format_generator_spec(m_spec) + " (generator)";
  }

  std::optional<std::uint64_t> record_count() const override { return m_spec.count; }

 private:
  // The permutation's domain: cache lines for the pointer chase, pages for zipf.
  static std::uint64_t permutation_size(const GeneratorSpec& spec) {
    if (spec.pattern == Pattern::kPointerChase) {
      return std::max<std::uint64_t>(spec.footprint_bytes / kCacheLineBytes, 1);
    }
    return std::max<std::uint64_t>(spec.footprint_bytes / kPageBytes, 1);
  }

  GeneratorSpec m_spec;
  Xoshiro256ss m_address_rng;
  Xoshiro256ss m_kind_rng;
  HashPermutation m_permutation;
  ZipfSampler m_zipf;
  std::uint64_t m_write_threshold = 0;  // draw < this: W
  std::uint64_t m_fetch_threshold = 0;  // else draw < this: X; else R
  std::uint64_t m_step = 0;             // sequential, strided: bytes between slots
  std::uint64_t m_slots = 1;            // number of distinct offsets (see each pattern)
  std::uint64_t m_slot = 0;             // sequential, strided, pointer chase: next slot
  std::uint64_t m_generated = 0;
};

}  // namespace

std::string_view pattern_name(Pattern pattern) {
  for (const PatternName& p : kPatterns) {
    if (p.pattern == pattern) {
      return p.name;
    }
  }
  return "?";
}

GeneratorSpec parse_generator_spec(std::string_view text) {
  GeneratorSpec spec;
  const std::size_t colon = text.find(':');
  const std::string_view name = trim(text.substr(0, colon));
  const auto* known = std::find_if(kPatterns.begin(), kPatterns.end(), [&](const PatternName& p) {
    return p.name == name || (p.pattern == Pattern::kPointerChase && name == "pointer-chase");
  });
  if (known == kPatterns.end()) {
    spec_error(text, "unknown pattern '" + std::string(name) +
                         "' (known: sequential, strided, uniform, zipf, pointer_chase)");
  }
  spec.pattern = known->pattern;
  std::string seen = ",";  // keys given so far, to refuse duplicates
  std::string_view rest = colon == std::string_view::npos ? "" : text.substr(colon + 1);
  while (!trim(rest).empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    const std::size_t equals = item.find('=');
    const std::string key(trim(item.substr(0, equals)));
    if (equals == std::string_view::npos) {
      spec_error(text, "'" + std::string(trim(item)) + "' is not key=value");
    }
    const std::string_view value = trim(item.substr(equals + 1));
    if (seen.find("," + key + ",") != std::string::npos) {
      spec_error(text, "key '" + key + "' given twice");
    }
    seen += key + ",";
    auto bad_value = [&](std::string_view expected) {
      spec_error(text,
                 "key '" + key + "': '" + std::string(value) + "' is not " + std::string(expected));
    };
    auto byte_size = [&]() {
      std::uint64_t v = 0;
      if (auto reason = config::parse_byte_size(value, v)) {
        spec_error(text, "key '" + key + "': " + *reason);
      }
      return v;
    };
    auto integer = [&]() {
      auto v = parse_unsigned(value);
      if (!v) {
        bad_value("an unsigned integer (decimal or 0x-hex)");
      }
      return *v;
    };
    auto fraction = [&]() {
      auto v = parse_double(value);
      if (!v || *v < 0 || *v > 1) {
        bad_value("a fraction between 0 and 1");
      }
      return *v;
    };
    if (key == "count") {
      spec.count = integer();
    } else if (key == "footprint") {
      spec.footprint_bytes = byte_size();
    } else if (key == "base") {
      spec.base_address = byte_size();
    } else if (key == "stride") {
      spec.stride_bytes = byte_size();
    } else if (key == "seed") {
      spec.seed = integer();
    } else if (key == "writes") {
      spec.write_fraction = fraction();
    } else if (key == "fetches") {
      spec.fetch_fraction = fraction();
    } else if (key == "size") {
      const std::uint64_t size = byte_size();
      if (size == 0 || size > 0xffff'ffffULL) {
        bad_value("an access size of 1 to 4294967295 bytes");
      }
      spec.size_bytes = static_cast<std::uint32_t>(size);
    } else if (key == "alpha") {
      auto v = parse_double(value);
      if (!v || !(*v > 0) || *v > kMaxZipfAlpha) {
        bad_value("a zipf exponent in (0, 10]");
      }
      spec.zipf_alpha = *v;
    } else {
      spec_error(text, "unknown key '" + key + "' (known: " + std::string(kKnownKeys) + ")");
    }
  }
  try {
    validate_generator_spec(spec);
  } catch (const TraceError& e) {
    spec_error(text, e.what());
  }
  return spec;
}

void validate_generator_spec(const GeneratorSpec& spec) {
  auto fail = [](std::string_view key, const std::string& what) {
    throw TraceError("key '" + std::string(key) + "': " + what);
  };
  if (spec.size_bytes == 0) {
    fail("size", "an access has at least 1 byte");
  }
  if (spec.footprint_bytes < spec.size_bytes) {
    fail("footprint", std::to_string(spec.footprint_bytes) + " bytes hold no access of size " +
                          std::to_string(spec.size_bytes));
  }
  if (spec.footprint_bytes - 1 > ~spec.base_address) {
    fail("base", "base + footprint passes 2^64");
  }
  if (spec.write_fraction < 0 || spec.write_fraction > 1) {
    fail("writes", "must be between 0 and 1");
  }
  if (spec.fetch_fraction < 0 || spec.fetch_fraction > 1) {
    fail("fetches", "must be between 0 and 1");
  }
  if (spec.write_fraction + spec.fetch_fraction > 1) {
    fail("fetches", "writes + fetches exceeds 1");
  }
  switch (spec.pattern) {
    case Pattern::kStrided:
      if (spec.stride_bytes == 0) {
        fail("stride", "must be at least 1 byte");
      }
      break;
    case Pattern::kZipf:
      if (!(spec.zipf_alpha > 0) || spec.zipf_alpha > kMaxZipfAlpha) {
        fail("alpha", "must be in (0, 10]");
      }
      if (spec.footprint_bytes < kPageBytes) {
        fail("footprint", "zipf draws 4 KiB pages: the footprint needs at least one");
      }
      if (spec.size_bytes > kPageBytes) {
        fail("size", "zipf accesses stay inside a 4 KiB page: at most 4096 bytes");
      }
      break;
    case Pattern::kPointerChase:
      if (spec.footprint_bytes < kCacheLineBytes) {
        fail("footprint", "the pointer chase visits 64-byte lines: it needs at least one");
      }
      if (spec.size_bytes > kCacheLineBytes) {
        fail("size", "pointer-chase accesses stay inside a 64-byte line: at most 64 bytes");
      }
      break;
    case Pattern::kSequential:
    case Pattern::kUniform:
      break;
  }
}

std::string format_generator_spec(const GeneratorSpec& spec) {
  std::string text(pattern_name(spec.pattern));
  text += ":count=" + std::to_string(spec.count);
  text += ",footprint=" + format_byte_size(spec.footprint_bytes);
  text += ",base=" + format_hex(spec.base_address);
  if (spec.pattern == Pattern::kStrided) {
    text += ",stride=" + format_byte_size(spec.stride_bytes);
  }
  text += ",size=" + std::to_string(spec.size_bytes);
  if (spec.pattern == Pattern::kZipf) {
    text += ",alpha=" + format_double(spec.zipf_alpha);
  }
  text += ",seed=" + std::to_string(spec.seed);
  text += ",writes=" + format_double(spec.write_fraction);
  text += ",fetches=" + format_double(spec.fetch_fraction);
  return text;
}

std::unique_ptr<TraceReader> make_generator(const GeneratorSpec& spec) {
  validate_generator_spec(spec);
  return std::make_unique<Generator>(spec);
}

}  // namespace pagesim::traces
