// Whole snapshot files: write, read back through the import rules, load
// memory; the JSON dump; and corruption of a real snapshot.
#include "migrate/snapshot.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>

#include "golden_machine_checks.h"
#include "migrate/stream.h"

namespace wren::migrate {
namespace {

constexpr uint64_t kPage = 4096;

GuestMemory make_memory() { return GuestMemory({{0, 16 * kPage}, {0x100000000, 4 * kPage}}); }

std::vector<Payload> machine_payloads() { return golden_machine::payloads(); }

// Everything a restore would take, compared with what was written.
Status restore_and_compare(SnapshotReader& snap, GuestMemory& memory, const std::vector<uint8_t>& want_memory) {
  Import& im = snap.import();
  auto taken = golden_machine::take(im);
  if (!taken) return Failure{taken.error()};
  if (auto done = im.finish(); !done) return done;
  auto pages = snap.load_memory(memory);
  if (!pages) return Failure{pages.error()};
  // Accepted: then it must be exactly what was written.
  golden_machine::expect_golden(*taken);
  std::vector<uint8_t> got(16 * kPage);
  EXPECT_TRUE(memory.read(0, got));
  EXPECT_EQ(got, want_memory);
  return success();
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(src.fill(3 * kPage, 0x33, kPage));
    ASSERT_TRUE(src.fill(3 * kPage + 100, 0x44, 10));
    ASSERT_TRUE(src.fill(0x100000000 + kPage, 0x55, kPage));
    low.resize(16 * kPage);
    ASSERT_TRUE(src.read(0, low));
    VectorSink sink;
    stats = write_snapshot(sink, machine_payloads(), src);
    bytes = std::move(sink.bytes);
  }
  GuestMemory src = make_memory();
  std::vector<uint8_t> low;
  std::vector<uint8_t> bytes;
  PageStats stats;
};

TEST_F(SnapshotTest, FileRoundTrip) {
  const auto path = std::filesystem::temp_directory_path() / ("wren-snapshot-test-" + std::to_string(::getpid()));
  const PageStats written = write_snapshot_file(path, machine_payloads(), src);
  EXPECT_EQ(written.data_pages, 2u);
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  auto snap = SnapshotReader::open(path);
  ASSERT_TRUE(snap.ok()) << snap.error();
  EXPECT_EQ(snap->layout(), GuestMemoryLayout::of(src));
  GuestMemory dst = make_memory();
  auto status = restore_and_compare(*snap, dst, low);
  EXPECT_TRUE(status.ok()) << status.error();
  std::vector<uint8_t> high(kPage);
  ASSERT_TRUE(dst.read(0x100000000 + kPage, high));
  EXPECT_EQ(high, std::vector<uint8_t>(kPage, 0x55));
  std::filesystem::remove(path);
}

TEST_F(SnapshotTest, MissingFileAndWrongMemory) {
  EXPECT_NE(SnapshotReader::open("/nonexistent/wren.snap").error().find("cannot open snapshot"), std::string::npos);
  auto snap = SnapshotReader::read(std::make_unique<SpanSource>(bytes));
  ASSERT_TRUE(snap.ok()) << snap.error();
  GuestMemory smaller({{0, 8 * kPage}});
  auto loaded = snap->load_memory(smaller);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().find("guest RAM layout differs"), std::string::npos);
}

TEST_F(SnapshotTest, InspectDumpsEveryPayload) {
  SpanSource source(bytes);
  auto text = inspect_snapshot(source);
  ASSERT_TRUE(text.ok()) << text.error();
  const auto json = nlohmann::json::parse(*text);
  EXPECT_EQ(json["format_version"], 1);
  ASSERT_EQ(json["payloads"].size(), 7u);  // 6 + memory/layout
  const auto& filter = json["payloads"][5];
  EXPECT_EQ(filter["kind"], "virtio-net/rx-filter");
  EXPECT_EQ(filter["version"], 2);
  EXPECT_EQ(filter["instance"], "net0");
  EXPECT_EQ(filter["state"]["mac"], "52:54:00:12:34:56");
  EXPECT_EQ(filter["state"]["allmulti"], true);
  EXPECT_EQ(filter["state"]["multicast"][1], "01:00:5e:00:00:01");
  EXPECT_EQ(filter["state"]["vlans"], (nlohmann::json{0, 100, 4095}));
  EXPECT_EQ(json["payloads"][0]["state"]["regs"]["rip"], 0xffffffff81000000u);
  EXPECT_EQ(json["payloads"][2]["state"]["rx_fifo"], "7772656e0a");
  const auto& transport = json["payloads"][3]["state"]["transport"];
  EXPECT_EQ(transport["queue_vectors"], (nlohmann::json{1, 2, 3}));
  ASSERT_EQ(transport["queues"].size(), 3u);
  EXPECT_EQ(transport["queues"][2]["next_avail"], 0xfff2);
  EXPECT_FALSE(transport["queues"][2].contains("msix_vector"));  // the vectors are the transport's, listed once
  EXPECT_EQ(json["memory"]["data_pages"], 2);
  EXPECT_EQ(json["memory"]["zero_pages"], 18);
}

TEST_F(SnapshotTest, InspectReportsUndecodablePayloads) {
  auto payloads = machine_payloads();
  payloads[2].bytes.push_back(7);
  VectorSink sink;
  (void)write_snapshot(sink, payloads, src);
  SpanSource source(sink.bytes);
  auto text = inspect_snapshot(source);
  ASSERT_TRUE(text.ok()) << text.error();
  const auto json = nlohmann::json::parse(*text);
  EXPECT_NE(json["payloads"][2]["error"].get<std::string>().find("not fully consumed"), std::string::npos);
  EXPECT_TRUE(json["payloads"][1].contains("state"));
}

// Flip every byte of a real snapshot (and some multi-byte ranges): the
// import must either fail with a message or restore exactly the original.
TEST_F(SnapshotTest, CorruptionFailsCleanlyOrRestoresEqualState) {
  size_t refused = 0;
  size_t accepted = 0;
  auto attempt = [&](const std::vector<uint8_t>& corrupt) {
    auto snap = SnapshotReader::read(std::make_unique<SpanSource>(corrupt));
    if (!snap) {
      EXPECT_FALSE(snap.error().empty());
      ++refused;
      return;
    }
    GuestMemory dst = make_memory();
    auto status = restore_and_compare(*snap, dst, low);
    if (status.ok()) {
      ++accepted;
    } else {
      EXPECT_FALSE(status.error().empty());
      ++refused;
    }
  };
  // Every byte of the state section; in the memory section every byte of
  // the record framing and a sample of the page contents.
  SpanSource probe(bytes);
  ASSERT_TRUE(read_state_section(probe).ok());
  const size_t state_bytes = probe.position();
  auto corrupt = bytes;
  size_t tried = 0;
  for (size_t i = 0; i < bytes.size(); i += (i < state_bytes || i + 64 > bytes.size()) ? 1 : 13) {
    corrupt[i] ^= 0xff;
    attempt(corrupt);
    corrupt[i] = bytes[i];
    ++tried;
  }
  for (size_t i = 0; i + 8 <= bytes.size(); i += 61) {
    for (size_t j = 0; j < 8; ++j) corrupt[i + j] = static_cast<uint8_t>(j * 37);
    attempt(corrupt);
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(i), 8, corrupt.begin() + static_cast<std::ptrdiff_t>(i));
    ++tried;
  }
  attempt(bytes);
  EXPECT_EQ(accepted, 1u);  // only the intact snapshot (checksums catch every flip)
  EXPECT_EQ(refused, tried);
}

// Below the checksums: every single-byte change of every payload body, with
// the stream re-checksummed, either fails the import or decodes to a value
// that passes the checks and re-encodes to exactly those bytes (nothing is
// silently dropped or normalised).
TEST_F(SnapshotTest, PayloadMutationsFailOrAreCanonical) {
  const PayloadRegistry& registry = kinds::default_registry();
  for (const Payload& original : machine_payloads()) {
    for (size_t i = 0; i < original.bytes.size(); i += (original.kind == "virtio-pci/function" ? 7 : 1)) {
      for (uint8_t delta : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
        Payload p = original;
        p.bytes[i] ^= delta;
        auto value = registry.decode(p);
        if (!value.ok()) {
          EXPECT_NE(value.error().find(p.kind), std::string::npos) << value.error();
          continue;
        }
        // Re-encode what was accepted: must reproduce the mutated bytes.
        const std::vector<uint8_t> again = registry.encode(p.kind, *value, p.version);
        EXPECT_EQ(again, p.bytes) << p.kind << " byte " << i;
      }
    }
  }
}

}  // namespace
}  // namespace wren::migrate
