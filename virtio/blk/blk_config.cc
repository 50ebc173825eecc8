#include "virtio/blk/blk_config.h"

namespace wren::blk {

namespace {
template <typename T>
void put(std::array<uint8_t, kBlkConfigSize>& b, size_t at, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) b[at + i] = static_cast<uint8_t>(uint64_t{v} >> (8 * i));
}
}  // namespace

std::array<uint8_t, kBlkConfigSize> encode_config(const BlkConfigValues& v) {
  std::array<uint8_t, kBlkConfigSize> b{};
  put(b, 0, v.capacity_sectors);
  put(b, 8, v.size_max);
  put(b, 12, v.seg_max);
  // 16..19: geometry (VIRTIO_BLK_F_GEOMETRY not offered).
  put(b, 20, v.blk_size);
  put(b, 24, v.physical_block_exp);
  put(b, 25, uint8_t{0});  // alignment_offset
  put(b, 26, v.min_io_size);
  put(b, 28, v.opt_io_size);
  put(b, kBlkConfigWritebackOffset, v.writeback);
  put(b, 34, v.num_queues);
  put(b, 36, v.max_discard_sectors);
  put(b, 40, v.max_discard_seg);
  put(b, 44, v.discard_sector_alignment);
  put(b, 48, v.max_write_zeroes_sectors);
  put(b, 52, v.max_write_zeroes_seg);
  put(b, 56, v.write_zeroes_may_unmap);
  return b;
}

}  // namespace wren::blk
