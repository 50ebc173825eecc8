// The import rules of issue 5, one test per refused case; each failure must
// name the payload.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <variant>

#include "golden/golden_values.h"
#include "migrate/kinds.h"
#include "unit/virtio/net/fake_backend.h"
#include "unit/virtio/pci/transport_harness.h"

namespace wren::migrate {
namespace {

const PayloadRegistry& registry() { return kinds::default_registry(); }

void expect_import_refused(std::vector<Payload> payloads, const std::string& fragment) {
  auto import = Import::create(registry(), std::move(payloads));
  ASSERT_FALSE(import.ok()) << "accepted; expected: " << fragment;
  EXPECT_NE(import.error().find(fragment), std::string::npos) << import.error();
}

Payload filter_payload(uint32_t version = 2) {
  return make_payload(kinds::kRxFilter, "net0", golden::rx_filter(), version);
}

// Byte offset of the flags word in an rx-filter payload: right after the MAC (u64).
constexpr size_t kFlagsOffset = 8;

TEST(ImportRules, Accepts) {
  auto import = Import::create(registry(), {filter_payload(), make_payload(kinds::kUart, "com1", golden::uart())});
  ASSERT_TRUE(import.ok()) << import.error();
  EXPECT_EQ(import->size(), 2u);
  EXPECT_TRUE(import->take(kinds::kRxFilter, "net0").ok());
  EXPECT_TRUE(import->take(kinds::kUart, "com1").ok());
  EXPECT_TRUE(import->finish().ok());
}

TEST(ImportRules, RequiredPayloadMissing) {
  auto import = Import::create(registry(), {filter_payload()});
  ASSERT_TRUE(import.ok());
  auto taken = import->take(kinds::kUart, "com1");
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error(), "missing required payload platform/uart16550 (com1)");
  EXPECT_FALSE(import->take_optional(kinds::kUart, "com1").has_value());
}

TEST(ImportRules, PresentTwice) {
  expect_import_refused({filter_payload(), filter_payload(1)}, "virtio-net/rx-filter v1 (net0): present twice");
}

TEST(ImportRules, SameKindOtherInstanceIsFine) {
  Payload second = filter_payload();
  second.instance = "net1";
  auto import = Import::create(registry(), {filter_payload(), second});
  ASSERT_TRUE(import.ok()) << import.error();
  EXPECT_EQ(import->instances(kinds::kRxFilter.name), (std::vector<std::string>{"net0", "net1"}));
}

TEST(ImportRules, UnknownVersion) {
  Payload p = filter_payload();
  p.version = 3;
  expect_import_refused({p}, "virtio-net/rx-filter v3 (net0): unknown version (this Wren reads 1..2)");
  p.version = 0;
  expect_import_refused({p}, "virtio-net/rx-filter v0 (net0): unknown version");
}

TEST(ImportRules, UnknownKind) {
  expect_import_refused({Payload{"virtio-rng/device", 1, "rng0", {}}},
                        "virtio-rng/device v1 (rng0): unknown payload kind");
}

TEST(ImportRules, NotFullyConsumed) {
  Payload p = filter_payload();
  p.bytes.push_back(0);
  expect_import_refused({p}, "virtio-net/rx-filter v2 (net0): 1 bytes left over (not fully consumed)");
}

TEST(ImportRules, V2PayloadLabelledV1LeavesBytesOver) {
  Payload p = filter_payload(2);
  p.version = 1;  // v1 does not read vlan_filtering: one byte left
  expect_import_refused({p}, "not fully consumed");
}

TEST(ImportRules, Truncated) {
  Payload p = filter_payload();
  p.bytes.resize(p.bytes.size() - 1);
  expect_import_refused({p}, "virtio-net/rx-filter v2 (net0): truncated or malformed");
}

TEST(ImportRules, FilterFlagsWithUnknownBits) {
  Payload p = filter_payload();
  p.bytes[kFlagsOffset + 1] = 0x01;  // bit 8
  expect_import_refused({p}, "RxFilter: flags with unknown bits 256");
}

TEST(ImportRules, MacWithBitsAbove48) {
  Payload p = filter_payload();
  p.bytes[7] = 0x01;
  expect_import_refused({p}, "MAC address with bits above 48");
}

TEST(ImportRules, TableCountBeyondLimitRefusedBeforeAllocation) {
  Payload p = filter_payload();
  // unicast count follows the flags (u32): claim 2^60 entries.
  const size_t count_at = kFlagsOffset + 4;
  for (int i = 0; i < 8; ++i) p.bytes[count_at + i] = i == 7 ? 0x10 : 0;
  expect_import_refused({p}, "unicast: 1152921504606846976 entries exceed the limit of 64");
}

// The payload layer only decodes the filter; its invariants are the
// destination NetDevice's (validate), checked once, on the joined state (an
// inactive device's filter is unused and not checked).
class NetFilterRules : public ::testing::Test {
 protected:
  static constexpr uint64_t kFeatures = kVirtioFVersion1 | feature_bit(VIRTIO_NET_F_MAC) |
                                        feature_bit(VIRTIO_NET_F_CTRL_VQ) | feature_bit(VIRTIO_NET_F_CTRL_RX) |
                                        feature_bit(VIRTIO_NET_F_CTRL_VLAN);

  // An active state this device accepts, with `filter`.
  NetDevice::State active_with(const RxFilter& filter, uint64_t features = kFeatures) const {
    NetDevice::State s;
    s.active = true;
    s.features = features;
    s.control = NetControlState::initial(golden::rx_filter().mac, features);
    s.control.rx_filter = filter;
    s.rx_held = {{}};
    return s;
  }

  // Through the payloads: take_net_device() accepts the shape, the device refuses.
  void expect_filter_refused(const NetDevice::State& state, const std::string& fragment,
                             uint32_t rx_filter_version = 0) {
    auto import = Import::create(registry(), kinds::net_device_payloads("net0", state, rx_filter_version));
    ASSERT_TRUE(import.ok()) << import.error();
    auto taken = kinds::take_net_device(*import, "net0");
    ASSERT_TRUE(taken.ok()) << taken.error();
    auto validated = device->validate(*taken);
    ASSERT_TRUE(std::holds_alternative<std::string>(validated)) << "accepted; expected: " << fragment;
    EXPECT_EQ(std::get<std::string>(validated), "control state: rx filter: " + fragment);
  }

  static NetDeviceOptions options() {
    NetDeviceOptions o;
    o.mac = golden::rx_filter().mac;
    return o;
  }

  boost::asio::io_context io;
  std::shared_ptr<NetDevice> device = NetDevice::create(options(), std::make_unique<test::SocketPairBackend>(1), io);
};

TEST_F(NetFilterRules, GoldenFilterIsAccepted) {
  const NetDevice::State state = active_with(golden::rx_filter());
  auto import = Import::create(registry(), kinds::net_device_payloads("net0", state));
  ASSERT_TRUE(import.ok()) << import.error();
  auto taken = kinds::take_net_device(*import, "net0");
  ASSERT_TRUE(taken.ok()) << taken.error();
  auto validated = device->validate(*taken);
  ASSERT_TRUE(std::holds_alternative<NetDevice::ValidState>(validated)) << std::get<std::string>(validated);
  EXPECT_EQ(std::get<NetDevice::ValidState>(validated).state(), state);
}

TEST_F(NetFilterRules, TablesAreClassedAndBounded) {
  RxFilter f = golden::rx_filter();
  f.unicast.push_back(f.multicast[0]);
  expect_filter_refused(active_with(f), "multicast address 33:33:ff:12:34:56 in the unicast table");
  RxFilter m = golden::rx_filter();
  m.multicast.push_back(m.unicast[0]);
  expect_filter_refused(active_with(m), "unicast address 52:54:00:aa:bb:cc in the multicast table");
  RxFilter big = golden::rx_filter();
  big.multicast.assign(62, big.multicast[0]);
  big.unicast.assign(3, big.unicast[0]);
  expect_filter_refused(active_with(big), "MAC table holds 65 entries (max 64)");
  RxFilter overflow = golden::rx_filter();
  overflow.uni_overflow = true;
  expect_filter_refused(active_with(overflow), "unicast table overflowed but not empty");
  RxFilter station = golden::rx_filter();
  station.mac = MacAddress::broadcast();
  expect_filter_refused(active_with(station), "primary MAC ff:ff:ff:ff:ff:ff is not a unicast station address");
}

TEST_F(NetFilterRules, InactiveDeviceFilterIsNotChecked) {
  NetDevice::State state;  // never activated: default (all-zero MAC) filter
  auto import = Import::create(registry(), kinds::net_device_payloads("net0", state));
  ASSERT_TRUE(import.ok()) << import.error();
  auto taken = kinds::take_net_device(*import, "net0");
  ASSERT_TRUE(taken.ok()) << taken.error();
  EXPECT_EQ(*taken, state);
  EXPECT_TRUE(std::holds_alternative<NetDevice::ValidState>(device->validate(*taken)));
}

TEST_F(NetFilterRules, V1FilterWithVlansButNoCtrlVlanIsRefused) {
  // v1 cannot say whether filtering was on; with VLANs present but CTRL_VLAN
  // not negotiated the joined state is inconsistent.
  const uint64_t features = kFeatures & ~feature_bit(VIRTIO_NET_F_CTRL_VLAN);
  expect_filter_refused(active_with(golden::rx_filter(), features), "VLAN table not empty while VLAN filtering is off",
                        1);
}

TEST(ImportRules, BooleanBytesOtherThanZeroOrOne) {
  Payload p = filter_payload();
  p.bytes.back() = 2;  // vlan_filtering is the last byte of v2
  expect_import_refused({p}, "vlan_filtering: boolean byte 2");
}

TEST(ImportRules, NestedUnknownVersion) {
  // In a v1 virtio-pci payload the transport's queues are a nested type
  // whose cereal version sits in the payload: an unknown one is refused.
  Payload p = make_payload(kinds::kVirtioPci, "net0", golden::virtio_pci(), 1);
  // Find the QueueState version (1) right before the first queue's size (256 = 00 01).
  const std::vector<uint8_t> needle = {1, 0, 0, 0, 0x00, 0x01, 0x01};  // version 1, size 256, ready
  auto it = std::search(p.bytes.begin(), p.bytes.end(), needle.begin(), needle.end());
  ASSERT_NE(it, p.bytes.end());
  *it = 9;
  expect_import_refused({p}, "QueueState: unknown version 9");
}

// Byte offset of queue 0's repeated MSI-X vector in a v1 virtio-pci payload:
// after its class version word (4), size (2), ready (1), three addresses (24)
// and the two indices (4).
size_t v1_queue0_vector_offset(const Payload& p) {
  const std::vector<uint8_t> needle = {1, 0, 0, 0, 0x00, 0x01, 0x01};
  auto it = std::search(p.bytes.begin(), p.bytes.end(), needle.begin(), needle.end());
  return static_cast<size_t>(it - p.bytes.begin()) + 4 + 2 + 1 + 24 + 4;
}

TEST(ImportRules, V1QueueVectorMustRepeatTheTransports) {
  Payload p = make_payload(kinds::kVirtioPci, "net0", golden::virtio_pci(), 1);
  const size_t at = v1_queue0_vector_offset(p);
  ASSERT_LT(at + 1, p.bytes.size());
  ASSERT_EQ(p.bytes[at], 1);  // golden queue_vectors[0]
  EXPECT_TRUE(Import::create(registry(), {p}).ok());
  p.bytes[at] = 2;
  expect_import_refused({p}, "virtio-pci/function v1 (net0): QueueState: MSI-X vector differs from queue_vectors");
}

TEST(ImportRules, QueueAndVectorCountsMustAgree) {
  VirtioPciDevice::State s = golden::virtio_pci();
  s.transport.queue_vectors.pop_back();
  EXPECT_THROW(make_payload(kinds::kVirtioPci, "net0", s), std::invalid_argument);
  // The v2 wire layout: ... config_vector (u16), queue_vectors (count u64, u16 each), queues (count u64).
  Payload p = make_payload(kinds::kVirtioPci, "net0", golden::virtio_pci());
  const std::vector<uint8_t> vectors = {3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 3, 0, 3};  // 3 vectors, then 3 queues
  auto it = std::search(p.bytes.begin(), p.bytes.end(), vectors.begin(), vectors.end());
  ASSERT_NE(it, p.bytes.end());
  it[14] = 4;
  expect_import_refused({p}, "virtio-pci/function v2 (net0): VirtioTransportState: 3 queue vectors for 4 queues");
}

TEST(ImportRules, ComponentChecksRunAtImport) {
  Uart16550::State bad = golden::uart();
  bad.ier = 0xff;
  expect_import_refused({make_payload(kinds::kUart, "com1", bad)}, "platform/uart16550 v1 (com1): UART state refused");
  VmState vm = golden::vm();
  vm.pit.flags = 0x80;
  expect_import_refused({make_payload(kinds::kVm, "vm", vm)}, "kvm/vm v1 (vm): PIT flags with unknown bits");
}

TEST(ImportRules, UntakenPayloadFailsFinish) {
  auto import = Import::create(registry(), {filter_payload(), make_payload(kinds::kUart, "com1", golden::uart())});
  ASSERT_TRUE(import.ok());
  ASSERT_TRUE(import->take(kinds::kRxFilter, "net0").ok());
  auto done = import->finish();
  ASSERT_FALSE(done.ok());
  EXPECT_NE(done.error().find("platform/uart16550 v1 (com1): unexpected payload"), std::string::npos);
}

TEST(ImportRules, ContextChecksNameThePayload) {
  // The destination function's own checks (VirtioPciDevice::validate), as
  // the machine passes them to take().
  testing::TransportHarness h(VirtioPciMode::kModern);
  VirtioPciDevice::State s = h.pci->save();
  s.transport.status = virtio_pci::kStatusAcknowledge | virtio_pci::kStatusDriver | virtio_pci::kStatusFeaturesOk;
  s.transport.driver_features = kVirtioFVersion1 | (uint64_t{1} << 40);
  auto import = Import::create(registry(), {make_payload(kinds::kVirtioPci, "net0", s)});
  ASSERT_TRUE(import.ok()) << import.error();
  auto check = [&](const VirtioPciDevice::State& v) { return h.pci->validate(v); };
  auto taken = import->take(kinds::kVirtioPci, "net0", check);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error(), "virtio-pci/function v2 (net0): accepted features not offered or refused by this device");
  s.transport.driver_features = kVirtioFVersion1;
  import = Import::create(registry(), {make_payload(kinds::kVirtioPci, "net0", s)});
  ASSERT_TRUE(import.ok()) << import.error();
  EXPECT_TRUE(import->take(kinds::kVirtioPci, "net0", check).ok());
}

TEST(ImportRules, VcpuStateCheckedAgainstRealKvm) {
  Kvm kvm;
  VcpuState s = golden::vcpu();
  s.debugregs.flags = 1;
  auto import = Import::create(registry(), {make_payload(kinds::kVcpu, "cpu0", s)});
  ASSERT_TRUE(import.ok()) << import.error();
  auto taken = import->take(kinds::kVcpu, "cpu0", [&](const VcpuState& v) { return check_vcpu_state(v, kvm); });
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error(), "kvm/vcpu v1 (cpu0): debug register flags set");
}

TEST(ImportRules, WriterRefusesVersionsOutsideTheRange) {
  EXPECT_THROW(make_payload(kinds::kRxFilter, "net0", golden::rx_filter(), 3), std::invalid_argument);
  EXPECT_THROW(make_payload(kinds::kUart, "com1", golden::uart(), 2), std::invalid_argument);
}

TEST(ImportRules, RegistryRefusesDuplicateKinds) {
  PayloadRegistry r;
  r.add(kinds::kUart);
  EXPECT_THROW(r.add(kinds::kUart), std::invalid_argument);
}

}  // namespace
}  // namespace wren::migrate
