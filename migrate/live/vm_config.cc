#include "migrate/live/vm_config.h"

#include <algorithm>
#include <stdexcept>

#include "migrate/live/messages.h"

namespace wren::migrate::live {

namespace {

std::string memory_size(uint64_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (1 << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string differs(const std::string& what, const std::string& source, const std::string& destination) {
  return what + ": source " + source + ", destination " + destination;
}

const DeviceConfig* find_device(const VmConfig& config, const std::string& name) {
  for (const auto& d : config.devices)
    if (d.name == name) return &d;
  return nullptr;
}

std::optional<std::string> device_difference(const DeviceConfig& s, const DeviceConfig& d) {
  const std::string what = "device " + s.name;
  if (s.kind != d.kind) return differs(what + " kind", s.kind, d.kind);
  // Both maps are sorted: walk them together so the first key either side
  // lacks, or whose value differs, is reported.
  auto a = s.params.begin();
  auto b = d.params.begin();
  while (a != s.params.end() || b != d.params.end()) {
    if (b == d.params.end() || (a != s.params.end() && a->first < b->first))
      return differs(what + " (" + s.kind + ") " + a->first, quoted(a->second), "does not have it");
    if (a == s.params.end() || b->first < a->first)
      return differs(what + " (" + s.kind + ") " + b->first, "does not have it", quoted(b->second));
    if (a->second != b->second)
      return differs(what + " (" + s.kind + ") " + a->first, quoted(a->second), quoted(b->second));
    ++a;
    ++b;
  }
  return std::nullopt;
}

std::string names(const VmConfig& config) {
  std::string out;
  for (const auto& d : config.devices) out += (out.empty() ? "" : ", ") + d.name;
  return out;
}

void check_string(const std::string& s) {
  if (s.size() > 255) throw std::invalid_argument("VmConfig: string over 255 bytes: " + s.substr(0, 32));
}

}  // namespace

std::optional<std::string> first_difference(const VmConfig& source, const VmConfig& destination) {
  if (source.memory_bytes != destination.memory_bytes)
    return differs("memory", memory_size(source.memory_bytes), memory_size(destination.memory_bytes));
  if (source.vcpus != destination.vcpus)
    return differs("vCPUs", std::to_string(source.vcpus), std::to_string(destination.vcpus));
  if (source.cpu_model != destination.cpu_model)
    return differs("CPU model", quoted(source.cpu_model), quoted(destination.cpu_model));
  for (const auto& s : source.devices) {
    const DeviceConfig* d = find_device(destination, s.name);
    if (!d) return differs("device " + s.name, "has it (" + s.kind + ")", "does not");
    if (auto problem = device_difference(s, *d)) return problem;
  }
  for (const auto& d : destination.devices)
    if (!find_device(source, d.name)) return differs("device " + d.name, "does not have it", "has it (" + d.kind + ")");
  // Same devices; their order decides PCI slots, so it must match too.
  if (names(source) != names(destination)) return differs("device order", names(source), names(destination));
  return std::nullopt;
}

std::vector<uint8_t> encode_vm_config(const VmConfig& config) {
  if (config.devices.size() > kMaxConfigDevices) throw std::invalid_argument("VmConfig: too many devices");
  VectorSink out;
  put_u64(out, config.memory_bytes);
  put_u32(out, config.vcpus);
  check_string(config.cpu_model);
  put_short_string(out, config.cpu_model);
  put_u8(out, static_cast<uint8_t>(config.devices.size()));
  for (const auto& d : config.devices) {
    if (d.params.size() > kMaxDeviceParams) throw std::invalid_argument("VmConfig: too many params of " + d.name);
    for (const std::string* s : {&d.kind, &d.name}) check_string(*s);
    put_short_string(out, d.kind);
    put_short_string(out, d.name);
    put_u8(out, static_cast<uint8_t>(d.params.size()));
    for (const auto& [key, value] : d.params) {
      check_string(key);
      check_string(value);
      put_short_string(out, key);
      put_short_string(out, value);
    }
  }
  return std::move(out.bytes);
}

VmConfig decode_vm_config(std::span<const uint8_t> payload) {
  MessageReader in(MessageType::config, payload);
  VmConfig config;
  config.memory_bytes = in.u64();
  config.vcpus = in.u32();
  config.cpu_model = in.short_string("CPU model");
  const uint8_t devices = in.u8();
  if (devices > kMaxConfigDevices) in.fail(std::to_string(devices) + " devices exceed the cap");
  for (uint8_t i = 0; i < devices; ++i) {
    DeviceConfig d;
    d.kind = in.short_string("device kind");
    d.name = in.short_string("device name");
    if (find_device(config, d.name)) in.fail("device " + d.name + " appears twice");
    const uint8_t params = in.u8();
    if (params > kMaxDeviceParams)
      in.fail("device " + d.name + ": " + std::to_string(params) + " params exceed the cap");
    for (uint8_t p = 0; p < params; ++p) {
      std::string key = in.short_string("param name");
      std::string value = in.short_string("param value");
      if (!d.params.emplace(std::move(key), std::move(value)).second)
        in.fail("device " + d.name + ": a param appears twice");
    }
    config.devices.push_back(std::move(d));
  }
  in.end();
  return config;
}

}  // namespace wren::migrate::live
