#include "models/os/page_table_os.h"

#include <stdexcept>
#include <string>

#include "base/hex.h"

namespace pagesim::os {

namespace detail {

namespace {

std::string fault_on(const std::string& owner, const char* space, std::uint64_t va,
                     std::uint16_t asid) {
  return owner + ": fault on " + space + " " + hex(va) + " in asid " + std::to_string(asid);
}

}  // namespace

void throw_mapped_by_other_size(const std::string& owner, const char* space, std::uint64_t va,
                                std::uint16_t asid, PageSize mapped, PageSize thp) {
  throw std::logic_error(fault_on(owner, space, va, asid) + ", already mapped by a " +
                         std::string(page_size_name(mapped)) + " page while thp maps " +
                         std::string(page_size_name(thp)) + " pages");
}

void throw_already_mapped(const std::string& owner, const char* space, std::uint64_t va,
                          std::uint16_t asid, bool by_smaller, PageSize thp) {
  throw std::logic_error(fault_on(owner, space, va, asid) +
                         (by_smaller ? ", already mapped by smaller pages while thp maps " +
                                           std::string(page_size_name(thp)) + " pages"
                                     : std::string(", already mapped")));
}

}  // namespace detail

template class PageTableOs<Gva, Hpa, mem::PhysicalMemory, mem::FrameAllocator>;
template class PageTableOs<Hva, Hpa, mem::PhysicalMemory, mem::FrameAllocator>;

}  // namespace pagesim::os
