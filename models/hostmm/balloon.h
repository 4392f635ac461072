// A virtio-balloon device and its guest driver (drivers/virtio/virtio_balloon.c, QEMU's
// hw/virtio/virtio-balloon.c): `!balloon inflate|deflate <pages>`.
//
// Inflate: the guest driver takes `pages` 4 KiB pages from its kernel's allocator (the
// guest frame allocator: its most recently freed frames first, else fresh ones) and tells
// the device their GPAs; QEMU discards each through its HVA with MADV_DONTNEED (memfd
// memory: a hole punched first, MADV_REMOVE's effect, ram_block_discard_range). A host page
// bigger than 4 KiB (THP) is discarded only once every 4 KiB of it is in the balloon, as
// QEMU's PartiallyBalloonedPage does; until then nothing of it is freed. Deflate: the
// driver gives back the pages it took last (LIFO) to the guest allocator; their host pages
// stay discarded until touched (zero-filled, a refault).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "base/address.h"
#include "base/page_size.h"
#include "models/hostmm/vmm_memory.h"
#include "models/mem/frame_allocator.h"

namespace pagesim::hostmm {

class Balloon {
 public:
  // The HVA of a GPA (nullopt: no memslot holds it, nothing to discard).
  using GpaToHva = std::function<std::optional<Hva>(Gpa)>;

  // Takes `pages` guest pages; returns the 4 KiB host pages discarded. Throws
  // mem::OutOfMemory (the guest has no more free memory) after taking what it could.
  std::uint64_t inflate(std::uint64_t pages, mem::GuestFrameAllocator& guest, VmmMemory& vmm,
                        const GpaToHva& to_hva, PageSize host_page);
  // Gives back up to `pages` pages; returns how many it gave.
  std::uint64_t deflate(std::uint64_t pages, mem::GuestFrameAllocator& guest);
  // Pages in the balloon.
  std::uint64_t pages() const { return m_pages.size(); }

 private:
  std::vector<Gpa> m_pages;
  // Ballooned 4 KiB pages per huge host page not yet discarded: HVA page base -> count.
  std::unordered_map<std::uint64_t, std::uint64_t> m_partial;
};

}  // namespace pagesim::hostmm
