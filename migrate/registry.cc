#include "migrate/registry.h"

#include <set>
#include <stdexcept>

namespace wren::migrate {

void PayloadRegistry::insert(Entry entry) {
  if (!valid_payload_name(entry.name)) throw std::invalid_argument("invalid payload kind name: " + entry.name);
  if (entry.oldest == 0 || entry.oldest > entry.current)
    throw std::invalid_argument("payload kind " + entry.name + ": bad version range");
  const std::string name = entry.name;
  if (!entries_.emplace(name, std::move(entry)).second)
    throw std::invalid_argument("payload kind registered twice: " + name);
}

std::vector<std::string> PayloadRegistry::kinds() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

std::optional<std::pair<uint32_t, uint32_t>> PayloadRegistry::versions(std::string_view kind) const {
  auto it = entries_.find(kind);
  if (it == entries_.end()) return std::nullopt;
  return std::make_pair(it->second.oldest, it->second.current);
}

Expected<std::any> PayloadRegistry::decode(const Payload& payload) const {
  auto it = entries_.find(payload.kind);
  if (it == entries_.end()) return Failure{describe(payload) + ": unknown payload kind"};
  return it->second.decode(payload);
}

std::vector<uint8_t> PayloadRegistry::encode(std::string_view kind, const std::any& value, uint32_t version) const {
  auto it = entries_.find(kind);
  if (it == entries_.end()) throw std::invalid_argument("encode: unknown kind " + std::string(kind));
  if (version < it->second.oldest || version > it->second.current)
    throw std::invalid_argument("encode: " + std::string(kind) + " has no version " + std::to_string(version));
  return it->second.encode(value, version);
}

void PayloadRegistry::dump_json(cereal::JSONOutputArchive& ar, std::string_view kind, const std::any& value) const {
  auto it = entries_.find(kind);
  if (it == entries_.end()) throw std::invalid_argument("dump_json: unknown kind " + std::string(kind));
  it->second.dump(ar, value);
}

Expected<Import> Import::create(const PayloadRegistry& registry, std::vector<Payload> payloads) {
  Import import;
  std::set<PayloadId> seen;
  for (auto& p : payloads) {
    if (!seen.insert(p.id()).second) return Failure{describe(p) + ": present twice"};
    auto value = registry.decode(p);
    if (!value) return Failure{value.error()};
    import.items_.push_back(Item{std::move(p), std::move(value).value(), false});
  }
  return import;
}

Import::Item* Import::find(std::string_view kind, std::string_view instance) {
  for (auto& item : items_)
    if (item.payload.kind == kind && item.payload.instance == instance) return &item;
  return nullptr;
}

const Import::Item* Import::find(std::string_view kind, std::string_view instance) const {
  return const_cast<Import*>(this)->find(kind, instance);
}

std::vector<std::string> Import::instances(std::string_view kind) const {
  std::vector<std::string> out;
  for (const auto& item : items_)
    if (item.payload.kind == kind) out.push_back(item.payload.instance);
  return out;
}

std::optional<uint32_t> Import::version(std::string_view kind, std::string_view instance) const {
  const Item* item = find(kind, instance);
  if (!item) return std::nullopt;
  return item->payload.version;
}

Status Import::finish() const {
  for (const auto& item : items_)
    if (!item.taken) return Failure{describe(item.payload) + ": unexpected payload (nothing in this machine takes it)"};
  return success();
}

}  // namespace wren::migrate
