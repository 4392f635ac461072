#include "models/shadow/shadow_rmap.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "base/hex.h"

namespace pagesim::shadow {

std::uint64_t* ShadowRmap::head(unsigned level, std::uint64_t slot) {
  auto& chunks = m_chunks[level - 1];
  const auto it = chunks.find(slot >> kChunkBits);
  if (it == chunks.end()) {
    return nullptr;
  }
  return &it->second[slot & (kChunkHeads - 1)];
}

const std::uint64_t* ShadowRmap::head(unsigned level, std::uint64_t slot) const {
  return const_cast<ShadowRmap*>(this)->head(level, slot);
}

std::uint64_t& ShadowRmap::head_for_add(unsigned level, std::uint64_t slot) {
  Chunk& chunk = m_chunks[level - 1][slot >> kChunkBits];
  if (!chunk) {
    chunk = std::make_unique<std::uint64_t[]>(kChunkHeads);  // zeroed: every head empty
  }
  return chunk[slot & (kChunkHeads - 1)];
}

void ShadowRmap::add(unsigned level, std::uint64_t gfn, Entry e) {
  std::uint64_t& h = head_for_add(level, slot_of(level, gfn));
  const std::uint64_t v = encode(e);
  ++m_entries;
  if (h == 0) {
    h = v;
    return;
  }
  if ((h & kList) != 0) {
    m_lists[h & ~kList].push_back(v);
    return;
  }
  // A second leaf: the inline one and this go to an overflow list.
  std::uint32_t id;
  if (!m_free_lists.empty()) {
    id = m_free_lists.back();
    m_free_lists.pop_back();
  } else {
    id = static_cast<std::uint32_t>(m_lists.size());
    m_lists.emplace_back();
  }
  m_lists[id].assign({h, v});
  h = kList | id;
}

void ShadowRmap::remove(unsigned level, std::uint64_t gfn, Entry e) {
  const std::uint64_t slot = slot_of(level, gfn);
  const std::uint64_t v = encode(e);
  if (std::uint64_t* found = head(level, slot); found != nullptr && *found != 0) {
    std::uint64_t& h = *found;
    if (h == v) {
      h = 0;
      --m_entries;
      return;
    }
    if ((h & kList) != 0) {
      const std::uint64_t id = h & ~kList;
      std::vector<std::uint64_t>& list = m_lists[id];
      const auto it = std::find(list.begin(), list.end(), v);
      if (it != list.end()) {
        *it = list.back();
        list.pop_back();
        --m_entries;
        if (list.size() == 1) {
          h = list.front();  // back inline
          list.clear();
          m_free_lists.push_back(static_cast<std::uint32_t>(id));
        }
        return;
      }
    }
  }
  throw std::logic_error("shadow rmap: no leaf " + std::to_string(e.page) + "[" +
                         std::to_string(e.index) + "] for gfn " + hex(gfn) + " at level " +
                         std::to_string(level));
}

bool ShadowRmap::contains(unsigned level, std::uint64_t gfn, Entry e) const {
  const std::uint64_t* h = head(level, slot_of(level, gfn));
  if (h == nullptr || *h == 0) {
    return false;
  }
  const std::uint64_t v = encode(e);
  if ((*h & kList) == 0) {
    return *h == v;
  }
  const std::vector<std::uint64_t>& list = m_lists[*h & ~kList];
  return std::find(list.begin(), list.end(), v) != list.end();
}

void ShadowRmap::append(std::uint64_t h, std::vector<Entry>& out) const {
  if (h == 0) {
    return;
  }
  if ((h & kList) == 0) {
    out.push_back(decode(h));
    return;
  }
  for (const std::uint64_t v : m_lists[h & ~kList]) {
    out.push_back(decode(v));
  }
}

void ShadowRmap::collect(unsigned level, std::uint64_t first, std::uint64_t last,
                         std::vector<Entry>& out) const {
  const std::uint64_t lo = slot_of(level, first);
  const std::uint64_t hi = slot_of(level, last);
  const auto& chunks = m_chunks[level - 1];
  auto scan = [&](std::uint64_t chunk_number, const Chunk& chunk) {
    const std::uint64_t base = chunk_number << kChunkBits;
    const std::uint64_t from = std::max(lo, base) - base;
    const std::uint64_t to = std::min(hi, base + (kChunkHeads - 1)) - base;
    for (std::uint64_t s = from; s <= to; ++s) {
      append(chunk[s], out);
    }
  };
  const std::uint64_t first_chunk = lo >> kChunkBits;
  const std::uint64_t last_chunk = hi >> kChunkBits;
  if (last_chunk - first_chunk < chunks.size()) {
    // A short range (an evicted page: one chunk, two at most): each chunk it spans.
    for (std::uint64_t c = first_chunk;; ++c) {
      if (const auto it = chunks.find(c); it != chunks.end()) {
        scan(c, it->second);
      }
      if (c == last_chunk) {
        break;
      }
    }
    return;
  }
  // A range wider than the chunks there are: the chunks inside it, in address order.
  std::vector<std::uint64_t> numbers;
  for (const auto& [number, chunk] : chunks) {
    if (number >= first_chunk && number <= last_chunk) {
      numbers.push_back(number);
    }
  }
  std::sort(numbers.begin(), numbers.end());
  for (const std::uint64_t c : numbers) {
    scan(c, chunks.at(c));
  }
}

void ShadowRmap::clear() {
  for (auto& chunks : m_chunks) {
    for (auto& [key, chunk] : chunks) {
      std::fill_n(chunk.get(), kChunkHeads, std::uint64_t{0});
    }
  }
  m_lists.clear();
  m_free_lists.clear();
  m_entries = 0;
}

std::uint64_t ShadowRmap::bytes() const {
  std::uint64_t b = 0;
  for (const auto& chunks : m_chunks) {
    b += chunks.size() * kChunkHeads * sizeof(std::uint64_t);
  }
  for (const auto& list : m_lists) {
    b += sizeof(list) + list.capacity() * sizeof(std::uint64_t);
  }
  return b;
}

}  // namespace pagesim::shadow
