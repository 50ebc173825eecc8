// KVM binary statistics: the parser against synthetic blobs (well-formed and
// malformed), the fd reader on a memfd, and (RealKvm) a real vCPU's exits.
#include "hypervisor/kvm_stats.h"

#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "hypervisor/guest_memory.h"
#include "hypervisor/kvm.h"
#include "unit/hypervisor/kvm_stats_blob.h"

namespace wren {
namespace {

using test::kNameSize;
using test::KvmStatsBlob;
using test::memfd_with;
using test::put;

std::vector<KvmStat> parse_all(const std::vector<uint8_t>& bytes) {
  const KvmStatsSchema schema = KvmStatsSchema::parse(bytes);
  return schema.values(std::span(bytes).subspan(std::min<size_t>(schema.data_offset(), bytes.size())));
}

TEST(KvmStatsSchema, ParsesHeaderDescriptorsAndValues) {
  const auto bytes = KvmStatsBlob().bytes();
  const KvmStatsSchema schema = KvmStatsSchema::parse(bytes);
  EXPECT_EQ(schema.id(), "kvm-1234/vcpu-0");
  ASSERT_EQ(schema.descriptors().size(), 4u);
  EXPECT_EQ(schema.data_size(), 48u);
  const auto& wait = schema.descriptors()[1];
  EXPECT_EQ(wait.name, "halt_wait_ns");
  EXPECT_EQ(wait.type(), KvmStatType::kCumulative);
  EXPECT_EQ(wait.unit(), KvmStatUnit::kSeconds);
  EXPECT_EQ(wait.exponent, -9);
  EXPECT_TRUE(wait.known());
  EXPECT_EQ(schema.descriptors()[2].unit(), KvmStatUnit::kBoolean);
  EXPECT_EQ(schema.descriptors()[3].type(), KvmStatType::kLog2Histogram);

  const auto stats = schema.values(std::span(bytes).subspan(schema.data_offset()));
  ASSERT_EQ(stats.size(), 4u);
  EXPECT_EQ(stats[0].descriptor.name, "exits");
  EXPECT_EQ(stats[0].values, std::vector<uint64_t>{1234});
  EXPECT_EQ(stats[1].values, std::vector<uint64_t>{5000000});
  EXPECT_EQ(stats[3].values, (std::vector<uint64_t>{7, 8, 9}));
}

TEST(KvmStatsSchema, UnknownFlagsAreMarkedNotRefused) {
  KvmStatsBlob blob;
  blob.descs[0].flags = 0x9;  // a type from a newer kernel
  const auto stats = parse_all(blob.bytes());
  EXPECT_FALSE(stats[0].descriptor.known());
  EXPECT_TRUE(stats[1].descriptor.known());
}

TEST(KvmStatsSchema, HeadSizeCoversIdAndDescriptors) {
  const KvmStatsBlob blob;
  EXPECT_EQ(KvmStatsSchema::head_size(blob.bytes()), blob.data_offset());
}

// Every malformed blob is refused with KvmStatsError; under ASan, a read past
// the blob would fail the test instead.
void expect_refused(const std::vector<uint8_t>& bytes, const std::string& why) {
  EXPECT_THROW(parse_all(bytes), KvmStatsError) << why;
}

TEST(KvmStatsSchema, RefusesMalformedBlobs) {
  auto good = KvmStatsBlob().bytes();
  expect_refused(std::vector<uint8_t>(good.begin(), good.begin() + 23), "shorter than the header");
  expect_refused(std::vector<uint8_t>(good.begin(), good.begin() + 100), "descriptors cut off");
  expect_refused(std::vector<uint8_t>(good.begin(), good.end() - 8), "data cut off");

  KvmStatsBlob b;
  b.name_size = 0;
  expect_refused(b.bytes(), "zero name size");

  auto huge_names = good;
  put<uint32_t>(huge_names, 4, 1u << 31);
  expect_refused(huge_names, "name size beyond the cap");

  auto many = good;
  put<uint32_t>(many, 8, 0xffffffff);
  expect_refused(many, "descriptor count beyond the cap");

  auto far_descs = good;
  put<uint32_t>(far_descs, 16, 0xfffffff0);  // would wrap in 32-bit arithmetic
  expect_refused(far_descs, "descriptor offset near 4 GiB");

  auto far_id = good;
  put<uint32_t>(far_id, 12, 0xffffffff);
  expect_refused(far_id, "id past the end");

  auto id_unterminated = good;
  std::memset(id_unterminated.data() + 24, 'x', kNameSize);
  expect_refused(id_unterminated, "id without NUL");

  auto name_unterminated = good;
  std::memset(name_unterminated.data() + 24 + kNameSize + 16, 'x', kNameSize);
  expect_refused(name_unterminated, "stat name without NUL");

  KvmStatsBlob zero_size;
  zero_size.descs[0].size = 0;
  expect_refused(zero_size.bytes(), "stat of no values");

  KvmStatsBlob misaligned;
  misaligned.descs[0].offset = 4;
  expect_refused(misaligned.bytes(), "value offset not a multiple of 8");

  KvmStatsBlob far_value;
  far_value.descs[0].offset = 0xfffffff8;
  far_value.descs[0].size = 0xffff;
  expect_refused(far_value.bytes(), "value far past the data block");
}

TEST(KvmStatsSchema, ValuesRefuseAShortDataBlock) {
  const auto bytes = KvmStatsBlob().bytes();
  const KvmStatsSchema schema = KvmStatsSchema::parse(bytes);
  const auto data = std::span(bytes).subspan(schema.data_offset());
  EXPECT_THROW(schema.values(data.first(data.size() - 1)), KvmStatsError);
}

TEST(KvmStatsFd, ReadsCurrentValuesWithPread) {
  KvmStatsBlob blob;
  const auto bytes = blob.bytes();
  UniqueFd file = memfd_with(bytes);
  const int raw = file.get();
  KvmStatsFd stats(std::move(file));
  EXPECT_EQ(stats.read()[0].values[0], 1234u);
  const uint64_t later = 99;  // the kernel updates the data block in place
  ASSERT_EQ(::pwrite(raw, &later, 8, blob.data_offset()), 8);
  EXPECT_EQ(stats.read()[0].values[0], 99u);
}

TEST(KvmStatsFd, RefusesAFileThatEndsEarly) {
  const auto bytes = KvmStatsBlob().bytes();
  EXPECT_THROW(KvmStatsFd(memfd_with(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 40))), KvmStatsError);
  KvmStatsFd short_data(memfd_with(std::vector<uint8_t>(bytes.begin(), bytes.end() - 8)));
  EXPECT_THROW(short_data.read(), KvmStatsError);
}

// out 0x10, al ; hlt
constexpr std::array<uint8_t, 3> kOutAndHalt = {0xe6, 0x10, 0xf4};

uint64_t value_of(const std::vector<KvmStat>& stats, const std::string& name) {
  for (const auto& s : stats)
    if (s.descriptor.name == name) return s.values.at(0);
  ADD_FAILURE() << "no stat " << name;
  return 0;
}

TEST(RealKvmStats, CountsAVcpusExits) {
  Kvm kvm;
  ASSERT_GT(kvm.check_extension(KVM_CAP_BINARY_STATS_FD), 0);
  Vm vm = kvm.create_vm();
  GuestMemory memory(GuestMemory::x86_layout(2 << 20));
  const auto& ram = memory.regions().at(0);
  vm.set_user_memory_region(0, ram.gpa, ram.size, memory.host_address_for_kvm(0));
  ASSERT_TRUE(memory.write(0x1000, kOutAndHalt));
  Vcpu vcpu = vm.create_vcpu(0);
  KvmStatsFd stats = KvmStatsFd::open(vcpu.fd());
  EXPECT_NE(stats.schema().id().find("vcpu"), std::string::npos) << stats.schema().id();
  const auto before = stats.read();

  kvm_sregs sregs = vcpu.get_sregs();
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  vcpu.set_sregs(sregs);
  kvm_regs regs{};
  regs.rip = 0x1000;
  regs.rflags = 2;
  vcpu.set_regs(regs);
  ASSERT_EQ(vcpu.run(), 0);
  ASSERT_EQ(vcpu.run_data()->exit_reason, KVM_EXIT_IO);
  const auto after = stats.read();
  EXPECT_GE(value_of(after, "io_exits"), value_of(before, "io_exits") + 1);
  EXPECT_GE(value_of(after, "exits"), value_of(before, "exits") + 1);

  KvmStatsFd vm_stats = KvmStatsFd::open(vm.fd());
  EXPECT_FALSE(vm_stats.read().empty());
}

}  // namespace
}  // namespace wren
