// The host's LRU lists of anonymous pages (Linux's per-node lruvec, anon lists only): an
// active and an inactive list, each a doubly linked list threaded through a table indexed
// by host frame number, so that finding a page's node from its HPA (the reverse map the
// reclaimer needs: frame -> owner and HVA) is an index, not a search.
//
// A page is keyed by the 4 KiB frame number of its first frame; a huge page is one node
// (its size in the node) and counts page_bytes(size) / 4 KiB pages in the list sizes, as
// Linux counts a folio's nr_pages. Nodes live in chunks of 2^16 frames allocated when a
// frame in the chunk first joins a list: data frames are handed out densely from the top of
// memory, so the table costs 16 bytes per resident 4 KiB page, none for memory never used.
//
// Head = most recently added; the reclaimer takes from the tail (oldest).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "base/address.h"
#include "base/page_size.h"

namespace pagesim::hostmm {

enum class LruList : std::uint8_t { kInactive = 0, kActive = 1 };

class FrameLru {
 public:
  static constexpr std::uint32_t kNil = ~std::uint32_t{0};

  // What a node says about its page.
  struct Page {
    std::uint32_t frame = kNil;  // the 4 KiB frame number of the page's first frame
    std::uint8_t owner = 0;      // the process (HostMm's owner index)
    Hva hva;                     // the page's base in its owner's address space
    PageSize size = PageSize::k4K;
    bool referenced = false;  // PG_referenced: young once already on the inactive list
    LruList list = LruList::kInactive;
  };

  // Adds the page at the head of `list`. Throws std::logic_error if the frame is on a list.
  void add(const Page& page, LruList list);
  // Removes the frame's page from its list. Throws std::logic_error if it is on none.
  void remove(std::uint32_t frame);
  // The 2 MiB page of `frame` becomes 512 4 KiB pages of the same process, HVAs and flags
  // in its place on its list (lru_add_split_folio): the first keeps its position and the
  // others follow it toward the head, so a scan from the tail meets them in address order.
  void split(std::uint32_t frame);
  // Moves the page to the head of `list` (rotation or (de)activation), setting referenced.
  void move_to_head(std::uint32_t frame, LruList list, bool referenced);
  // The oldest page of `list`, or kNil.
  std::uint32_t tail(LruList list) const { return m_lists[index(list)].tail; }
  bool contains(std::uint32_t frame) const {
    const Node* n = find(frame);
    return n != nullptr && (n->bits & kOnList) != 0;
  }
  Page page(std::uint32_t frame) const;
  // 4 KiB pages on the list.
  std::uint64_t pages(LruList list) const { return m_lists[index(list)].pages; }
  // Visits every page on `list` from head to tail: f(const Page&).
  template <class F>
  void for_each(LruList list, F&& f) const {
    for (std::uint32_t i = m_lists[index(list)].head; i != kNil; i = node(i).next) {
      f(page(i));
    }
  }

 private:
  static constexpr unsigned kChunkShift = 16;
  static constexpr std::uint32_t kChunkMask = (1U << kChunkShift) - 1;
  // Node::bits: the HVA page number in bits 0-39, the owner in 40-47, flags above.
  static constexpr std::uint64_t kHvaMask = (std::uint64_t{1} << 40) - 1;
  static constexpr unsigned kOwnerShift = 40;
  static constexpr std::uint64_t kOnList = std::uint64_t{1} << 48;
  static constexpr std::uint64_t kActive = std::uint64_t{1} << 49;
  static constexpr std::uint64_t kReferenced = std::uint64_t{1} << 50;
  static constexpr unsigned kSizeShift = 51;  // 2 bits: PageSize

  struct Node {
    std::uint32_t prev = kNil;
    std::uint32_t next = kNil;
    std::uint64_t bits = 0;
  };
  struct List {
    std::uint32_t head = kNil;
    std::uint32_t tail = kNil;
    std::uint64_t pages = 0;
  };

  static constexpr unsigned index(LruList l) { return static_cast<unsigned>(l); }
  const Node* find(std::uint32_t frame) const {
    const std::size_t c = frame >> kChunkShift;
    return c < m_chunks.size() && m_chunks[c] ? &m_chunks[c][frame & kChunkMask] : nullptr;
  }
  Node& node(std::uint32_t frame) { return m_chunks[frame >> kChunkShift][frame & kChunkMask]; }
  const Node& node(std::uint32_t frame) const {
    return m_chunks[frame >> kChunkShift][frame & kChunkMask];
  }
  Node& ensure(std::uint32_t frame);
  void link_head(std::uint32_t frame, LruList list);
  void unlink(std::uint32_t frame);

  std::vector<std::unique_ptr<Node[]>> m_chunks;
  std::array<List, 2> m_lists{};
};

}  // namespace pagesim::hostmm
