#pragma once
// Decoding an 8-byte GDT/LDT segment descriptor into the form KVM's segment
// registers take (Intel SDM vol. 3, 3.4.5).
#include <linux/kvm.h>

#include <cstdint>

namespace wren {

// The kvm_segment for `desc` loaded with `selector`; the limit is in bytes
// (scaled by the granularity bit), as KVM expects.
inline kvm_segment segment_from_descriptor(uint64_t desc, uint16_t selector) {
  kvm_segment s{};
  s.base = ((desc >> 16) & 0xffffff) | ((desc >> 32) & 0xff000000);
  const auto limit = static_cast<uint32_t>((desc & 0xffff) | ((desc >> 32) & 0xf0000));
  s.g = (desc >> 55) & 1;
  s.limit = s.g ? (limit << 12) | 0xfff : limit;
  s.selector = selector;
  s.type = (desc >> 40) & 0xf;
  s.s = (desc >> 44) & 1;
  s.dpl = (desc >> 45) & 3;
  s.present = (desc >> 47) & 1;
  s.avl = (desc >> 52) & 1;
  s.l = (desc >> 53) & 1;
  s.db = (desc >> 54) & 1;
  s.unusable = 0;
  return s;
}

}  // namespace wren
