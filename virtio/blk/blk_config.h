#pragma once
// struct virtio_blk_config (virtio 1.2, 5.2.4) as the device presents it,
// up to and including write_zeroes_may_unmap (secure erase and zoned
// storage are not offered). Little-endian, as both transports read it on x86.
#include <array>
#include <cstddef>
#include <cstdint>

namespace wren::blk {

struct BlkConfigValues {
  uint64_t capacity_sectors = 0;
  uint32_t size_max = 0;
  uint32_t seg_max = 0;
  uint32_t blk_size = 512;
  uint8_t physical_block_exp = 0;  // log2(physical block / logical block)
  uint16_t min_io_size = 1;        // in logical blocks
  uint32_t opt_io_size = 0;        // in logical blocks
  uint8_t writeback = 1;
  uint16_t num_queues = 1;
  uint32_t max_discard_sectors = 0;
  uint32_t max_discard_seg = 0;
  uint32_t discard_sector_alignment = 0;
  uint32_t max_write_zeroes_sectors = 0;
  uint32_t max_write_zeroes_seg = 0;
  uint8_t write_zeroes_may_unmap = 0;
};

inline constexpr uint32_t kBlkConfigSize = 60;
inline constexpr uint32_t kBlkConfigWritebackOffset = 32;

std::array<uint8_t, kBlkConfigSize> encode_config(const BlkConfigValues& v);

}  // namespace wren::blk
