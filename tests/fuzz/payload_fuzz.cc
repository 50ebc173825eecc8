// libFuzzer target for the migration loaders: the state-section container,
// the import rules with every payload decoder, the guest-memory page reader
// and the JSON dump. A crash, a sanitizer report or a broken invariant
// (__builtin_trap) is a finding.
//
// Input: byte 0 picks the mode, the rest is the data.
//   0  a whole snapshot: SnapshotReader (container, import rules), then its
//      memory into guest RAM of the snapshot's layout if that is small
//   1  `wren snapshot inspect` on the data
//   2  one payload body, below the checksums: byte 1 picks the kind, byte 2
//      the version, the rest is the body. An accepted body must re-encode
//      to exactly the same bytes.
//   3  one page batch into a 64 KiB + 16 KiB guest RAM
// Seeds: tests/fuzz/make_payload_seeds.py.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <spdlog/spdlog.h>

#include "migrate/kinds.h"
#include "migrate/snapshot.h"

namespace {

using namespace wren;
using namespace wren::migrate;

constexpr uint64_t kMaxFuzzRam = 1 << 20;

void whole_snapshot(std::span<const uint8_t> data) {
  auto snap = SnapshotReader::read(std::make_unique<SpanSource>(data));
  if (!snap) return;
  uint64_t total = 0;
  for (const auto& r : snap->layout().regions) total += r.size;
  if (total > kMaxFuzzRam) return;
  GuestMemory memory(snap->layout().regions);  // check_layout() accepted the regions
  (void)snap->load_memory(memory);
}

void inspect(std::span<const uint8_t> data) {
  SpanSource source(data);
  (void)inspect_snapshot(source);
}

void one_payload(std::span<const uint8_t> data) {
  if (data.size() < 2) return;
  const PayloadRegistry& registry = kinds::default_registry();
  const auto kinds = registry.kinds();
  Payload p;
  p.kind = kinds[data[0] % kinds.size()];
  p.version = data[1] % 4;
  p.instance = "x0";
  p.bytes.assign(data.begin() + 2, data.end());
  auto value = registry.decode(p);
  if (!value) return;
  if (registry.encode(p.kind, *value, p.version) != p.bytes) __builtin_trap();
}

void page_batch(std::span<const uint8_t> data) {
  GuestMemory memory({{0, 64 << 10}, {0x100000000, 16 << 10}});
  SpanSource source(data);
  (void)read_page_batch(source, memory);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)quiet;
  if (size < 1) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0: whole_snapshot(rest); break;
    case 1: inspect(rest); break;
    case 2: one_payload(rest); break;
    default: page_batch(rest); break;
  }
  return 0;
}
