#include "models/hostmm/frame_lru.h"

#include <string>

#include "base/hex.h"

namespace pagesim::hostmm {

FrameLru::Node& FrameLru::ensure(std::uint32_t frame) {
  const std::size_t c = frame >> kChunkShift;
  if (c >= m_chunks.size()) {
    m_chunks.resize(c + 1);
  }
  if (!m_chunks[c]) {
    m_chunks[c] = std::make_unique<Node[]>(std::size_t{1} << kChunkShift);
  }
  return m_chunks[c][frame & kChunkMask];
}

void FrameLru::add(const Page& page, LruList list) {
  Node& n = ensure(page.frame);
  if ((n.bits & kOnList) != 0) {
    throw std::logic_error("host LRU: frame " + hex(std::uint64_t{page.frame} << 12) +
                           " is already on a list");
  }
  n.bits = ((page.hva.value() >> 12) & kHvaMask) | (std::uint64_t{page.owner} << kOwnerShift) |
           kOnList | (static_cast<std::uint64_t>(page.size) << kSizeShift) |
           (page.referenced ? kReferenced : 0);
  link_head(page.frame, list);
}

void FrameLru::remove(std::uint32_t frame) {
  if (!contains(frame)) {
    throw std::logic_error("host LRU: frame " + hex(std::uint64_t{frame} << 12) + " is on no list");
  }
  unlink(frame);
  node(frame).bits = 0;
}

void FrameLru::split(std::uint32_t frame) {
  if (!contains(frame) || page(frame).size != PageSize::k2M) {
    throw std::logic_error("host LRU: frame " + hex(std::uint64_t{frame} << 12) +
                           " holds no 2 MiB page to split");
  }
  constexpr std::uint64_t kSizeBits = std::uint64_t{3} << kSizeShift;
  const std::uint64_t bits =
      (node(frame).bits & ~kSizeBits) | (static_cast<std::uint64_t>(PageSize::k4K) << kSizeShift);
  node(frame).bits = bits;
  List& l = m_lists[(bits & kActive) != 0 ? 1 : 0];
  std::uint32_t after = frame;  // each piece goes on the head side of the one before it
  for (std::uint32_t i = 1; i < 512; ++i) {
    const std::uint32_t piece = frame + i;
    Node& n = ensure(piece);
    n.bits = (bits & ~kHvaMask) | (((bits & kHvaMask) + i) & kHvaMask);
    Node& next = node(after);
    n.next = after;
    n.prev = next.prev;
    if (n.prev != kNil) {
      node(n.prev).next = piece;
    } else {
      l.head = piece;
    }
    next.prev = piece;
    after = piece;
  }
  // The list's page count is unchanged: 512 pages of 4 KiB for one of 2 MiB.
}

void FrameLru::move_to_head(std::uint32_t frame, LruList list, bool referenced) {
  if (!contains(frame)) {
    throw std::logic_error("host LRU: frame " + hex(std::uint64_t{frame} << 12) + " is on no list");
  }
  unlink(frame);
  Node& n = node(frame);
  n.bits = (n.bits & ~kReferenced) | (referenced ? kReferenced : 0);
  link_head(frame, list);
}

FrameLru::Page FrameLru::page(std::uint32_t frame) const {
  const Node& n = node(frame);
  Page p;
  p.frame = frame;
  p.owner = static_cast<std::uint8_t>(n.bits >> kOwnerShift);
  p.hva = Hva((n.bits & kHvaMask) << 12);
  p.size = static_cast<PageSize>((n.bits >> kSizeShift) & 3);
  p.referenced = (n.bits & kReferenced) != 0;
  p.list = (n.bits & kActive) != 0 ? LruList::kActive : LruList::kInactive;
  return p;
}

void FrameLru::link_head(std::uint32_t frame, LruList list) {
  Node& n = node(frame);
  List& l = m_lists[index(list)];
  n.bits = (n.bits & ~kActive) | (list == LruList::kActive ? kActive : 0);
  n.prev = kNil;
  n.next = l.head;
  if (l.head != kNil) {
    node(l.head).prev = frame;
  } else {
    l.tail = frame;
  }
  l.head = frame;
  l.pages += page_bytes(static_cast<PageSize>((n.bits >> kSizeShift) & 3)) >> 12;
}

void FrameLru::unlink(std::uint32_t frame) {
  Node& n = node(frame);
  List& l = m_lists[(n.bits & kActive) != 0 ? 1 : 0];
  if (n.prev != kNil) {
    node(n.prev).next = n.next;
  } else {
    l.head = n.next;
  }
  if (n.next != kNil) {
    node(n.next).prev = n.prev;
  } else {
    l.tail = n.prev;
  }
  n.prev = n.next = kNil;
  l.pages -= page_bytes(static_cast<PageSize>((n.bits >> kSizeShift) & 3)) >> 12;
}

}  // namespace pagesim::hostmm
