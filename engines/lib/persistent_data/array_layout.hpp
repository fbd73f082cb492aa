// dmsim's array block (magic 'ARRB'). After the common block header:
//   @24 max_entries u32, @28 nr_entries u32, @32 value_size u32, @36 reserved u32,
//   @40 values[max_entries] of value_size bytes.
#pragma once

#include "engines/lib/persistent_data/block_header_layout.hpp"

namespace engines::pd::array_layout {

inline constexpr BlockFormat kFormat{
    .header = &kCommonBlockHeader, .magic = 0x42525241 /* "ARRB" */, .csum_xor = 595846735, .version = 1};

constexpr Le32 max_entries{24}, nr_entries{28}, value_size{32};
constexpr size_t kValuesOffset = 40;

constexpr size_t value_offset(uint32_t vsize, uint32_t i) {
  return kValuesOffset + static_cast<size_t>(vsize) * i;
}

// As many values as fit after the header.
constexpr uint32_t max_entries_for(size_t block_size, uint32_t vsize) {
  return static_cast<uint32_t>((block_size - kValuesOffset) / vsize);
}

}  // namespace engines::pd::array_layout
