// Golden payload files (tests/golden/*.bin): every kind and importable
// version, written once from the fixed values in golden_values.h and
// committed. A change that can no longer read an old file, or that changes
// what the current version writes without a version bump, fails here.
//
// Regenerate (only for a new kind or version; never rewrite an existing file):
//   WREN_REGENERATE_GOLDEN=1 ./migrate_tests --gtest_filter='Golden.GeneratorMatchesCommittedFiles'
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "golden/golden_values.h"
#include "migrate/stream.h"

namespace wren::migrate {
namespace {

const std::filesystem::path kGoldenDir = std::filesystem::path(WREN_TESTS_DIR) / "golden";

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Decodes a payload through the registry (version check, full consumption,
// the kind's checks) and re-encodes the value at the current version: a
// representation-independent comparison for structs without operator==.
std::vector<uint8_t> imported(const Payload& p) {
  const auto& registry = kinds::default_registry();
  auto value = registry.decode(p);
  EXPECT_TRUE(value.ok()) << value.error();
  if (!value.ok()) return {};
  return registry.encode(p.kind, *value, registry.versions(p.kind)->second);
}

// The generator: every case encodes to exactly its committed file. A missing
// file is written only with WREN_REGENERATE_GOLDEN=1; history is never rewritten.
TEST(Golden, GeneratorMatchesCommittedFiles) {
  const bool regenerate = std::getenv("WREN_REGENERATE_GOLDEN") != nullptr;
  for (const auto& c : golden::cases()) {
    const auto path = kGoldenDir / c.file;
    const auto bytes = encode_state_section(std::vector<Payload>{c.payload});
    if (std::filesystem::exists(path)) {
      EXPECT_EQ(read_file(path), bytes) << path << " no longer matches what this Wren writes for that version";
      continue;
    }
    ASSERT_TRUE(regenerate) << path << " is missing: run with WREN_REGENERATE_GOLDEN=1 and commit it";
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << path;
  }
}

TEST(Golden, EveryKindAndVersionHasAFile) {
  std::set<std::string> files;
  for (const auto& c : golden::cases()) files.insert(c.file);
  const auto& registry = kinds::default_registry();
  for (const auto& kind : registry.kinds()) {
    const auto [oldest, current] = *registry.versions(kind);
    for (uint32_t v = oldest; v <= current; ++v) {
      const auto name = golden::file_name(kind, v);
      EXPECT_TRUE(files.count(name)) << "no golden case for " << kind << " v" << v;
      EXPECT_TRUE(std::filesystem::exists(kGoldenDir / name)) << "missing golden file " << name;
    }
  }
}

TEST(Golden, OldFilesStillDecodeToTheirValues) {
  for (const auto& c : golden::cases()) {
    SCOPED_TRACE(c.file);
    const auto bytes = read_file(kGoldenDir / c.file);
    ASSERT_FALSE(bytes.empty()) << "missing " << c.file;
    auto payloads = decode_state_section(bytes);
    ASSERT_TRUE(payloads.ok()) << payloads.error();
    ASSERT_EQ(payloads->size(), 1u);
    const Payload& p = payloads->front();
    EXPECT_EQ(p.kind, c.payload.kind);
    EXPECT_EQ(p.version, c.payload.version);
    EXPECT_EQ(p.instance, c.payload.instance);
    // The file decodes to the same value as the fixed value does.
    EXPECT_EQ(imported(p), imported(c.payload));
  }
}

TEST(Golden, CurrentVersionsStillWriteTheSameBytes) {
  const auto& registry = kinds::default_registry();
  for (const auto& c : golden::cases()) {
    if (c.payload.version != registry.versions(c.payload.kind)->second) continue;
    SCOPED_TRACE(c.file);
    EXPECT_EQ(read_file(kGoldenDir / c.file), encode_state_section(std::vector<Payload>{c.payload}))
        << "the writer changed without a version bump";
  }
}

TEST(Golden, RxFilterV1ImportsWithVlanFilteringDerived) {
  auto payloads = decode_state_section(read_file(kGoldenDir / "virtio-net_rx-filter.v1.bin"));
  ASSERT_TRUE(payloads.ok()) << payloads.error();
  auto filter = decode_payload(kinds::kRxFilter, payloads->front());
  ASSERT_TRUE(filter.ok()) << filter.error();
  EXPECT_EQ(*filter, golden::rx_filter());
  EXPECT_TRUE(filter->vlan_filtering);
  // The v1 file is shorter: it has no vlan_filtering byte.
  EXPECT_EQ(payloads->front().bytes.size() + 1,
            make_payload(kinds::kRxFilter, "net0", golden::rx_filter(), 2).bytes.size());
}

}  // namespace
}  // namespace wren::migrate
