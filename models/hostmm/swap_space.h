// The host's swap device: a capacity in 4 KiB pages, swap entries handed out and released,
// and the contents of the pages whose contents the simulator keeps.
//
// The simulator stores memory contents only where the model reads them back: page-table
// pages. To the host, a guest's page-table pages are ordinary anonymous memory, so a swap
// entry keeps their 8-byte words (and a data page's: nothing, it reads as zeros either way).
// An entry's id is its position in the order entries were made (from 1), not a device
// offset: the model charges swap I/O per page and has no seek.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace pagesim::hostmm {

class SwapSpace {
 public:
  explicit SwapSpace(std::uint64_t capacity_pages) : m_capacity(capacity_pages) {}

  // A new entry of `pages` 4 KiB pages, or nullopt when the device has no room.
  std::optional<std::uint64_t> allocate(std::uint64_t pages) {
    if (m_capacity - m_used < pages) {
      return std::nullopt;
    }
    m_used += pages;
    const std::uint64_t id = ++m_last_id;
    m_pages[id] = pages;
    return id;
  }
  // Frees entry `id` and its contents.
  void release(std::uint64_t id) {
    auto it = m_pages.find(id);
    if (it == m_pages.end()) {
      return;
    }
    m_used -= it->second;
    m_pages.erase(it);
    m_contents.erase(id);
  }
  bool has_room(std::uint64_t pages) const { return m_capacity - m_used >= pages; }
  // The contents written with entry `id` (VmmMemory::take_contents: its nonzero 4 KiB
  // frames; empty: the page was all zeros).
  void store(std::uint64_t id, std::vector<std::uint64_t> words) {
    if (words.empty()) {
      m_contents.erase(id);
    } else {
      m_contents[id] = std::move(words);
    }
  }
  const std::vector<std::uint64_t>* contents(std::uint64_t id) const {
    auto it = m_contents.find(id);
    return it == m_contents.end() ? nullptr : &it->second;
  }
  std::uint64_t used_pages() const { return m_used; }
  std::uint64_t capacity_pages() const { return m_capacity; }

 private:
  std::uint64_t m_capacity;
  std::uint64_t m_used = 0;
  std::uint64_t m_last_id = 0;
  std::unordered_map<std::uint64_t, std::uint64_t> m_pages;  // id -> pages
  std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> m_contents;
};

}  // namespace pagesim::hostmm
