#pragma once
// Payload kinds and the import rules.
//
// A PayloadKind<T> names a kind ("virtio-net/rx-filter"), its State type T
// and the versions this build can import (oldest..current; current is T's
// archive version, see archive.h). Adding a kind for a new State struct is
// one serialize() function in an archive_*.h and one line in kinds.h/.cc.
//
// The import rules (issue 5), applied by Import:
//  - every payload's kind is known and its version importable; no
//    (kind, instance) appears twice; every payload decodes completely (no
//    byte left over) and passes its kind's own checks — all before any state
//    is handed out, so a bad stream is refused as a whole;
//  - take() of a required payload that is missing fails;
//  - finish() fails if a payload was never taken (the stream describes
//    something this machine does not have).
// Every failure message names the payload.
#include <any>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "migrate/archive.h"
#include "migrate/expected.h"
#include "migrate/payload.h"

namespace wren::migrate {

// A context-dependent check of a decoded value: the first problem, or nullopt.
template <class T>
using StateCheck = std::function<std::optional<std::string>(const T&)>;

template <class T>
struct PayloadKind {
  using State = T;
  std::string_view name;
  uint32_t oldest = 1;  // oldest version still importable
  // Context-free checks of a decoded value (the component's own validation);
  // the first problem, or nullopt.
  std::optional<std::string> (*check)(const T&) = nullptr;

  static constexpr uint32_t current() { return ArchiveVersion<T>::value; }
};

// Encodes `value` as a payload of `kind` at `version` (0 = current). Writing
// an older version serves a destination that only reads that one. Throws
// std::invalid_argument for a version outside oldest..current.
template <class T>
Payload make_payload(const PayloadKind<T>& kind, std::string instance, const T& value, uint32_t version = 0) {
  if (version == 0) version = kind.current();
  if (version < kind.oldest || version > kind.current())
    throw std::invalid_argument(std::string(kind.name) + ": cannot write version " + std::to_string(version));
  return Payload{std::string(kind.name), version, std::move(instance), encode_state(value, version)};
}

// Decodes one payload of `kind` (version checked, fully consumed, checks run).
template <class T>
Expected<T> decode_payload(const PayloadKind<T>& kind, const Payload& payload) {
  if (payload.kind != kind.name) return Failure{describe(payload) + ": not a " + std::string(kind.name) + " payload"};
  if (payload.version < kind.oldest || payload.version > kind.current())
    return Failure{describe(payload) + ": unknown version (this Wren reads " + std::to_string(kind.oldest) + ".." +
                   std::to_string(kind.current()) + ")"};
  try {
    T value = decode_state<T>(payload.bytes, payload.version);
    if (kind.check) {
      if (auto problem = kind.check(value)) return Failure{describe(payload) + ": " + *problem};
    }
    return value;
  } catch (const DecodeError& e) {
    return Failure{describe(payload) + ": " + e.what()};
  }
}

class PayloadRegistry {
 public:
  template <class T>
  void add(const PayloadKind<T>& kind) {
    Entry e;
    e.name = std::string(kind.name);
    e.oldest = kind.oldest;
    e.current = kind.current();
    e.decode = [kind](const Payload& p) -> Expected<std::any> {
      auto v = decode_payload(kind, p);
      if (!v) return Failure{v.error()};
      return std::any(std::move(v).value());
    };
    e.encode = [](const std::any& value, uint32_t version) {
      return encode_state(std::any_cast<const T&>(value), version);
    };
    e.dump = [](cereal::JSONOutputArchive& ar, const std::any& value) {
      dump_state(ar, std::any_cast<const T&>(value), ArchiveVersion<T>::value);
    };
    insert(std::move(e));
  }

  bool knows(std::string_view kind) const { return entries_.find(kind) != entries_.end(); }
  std::vector<std::string> kinds() const;
  // oldest..current of a known kind.
  std::optional<std::pair<uint32_t, uint32_t>> versions(std::string_view kind) const;

  // Decodes a payload of any known kind into its State (in a std::any).
  [[nodiscard]] Expected<std::any> decode(const Payload& payload) const;
  // Encodes a value decode() produced (at `version`, which must be
  // importable): decode then encode reproduces the payload bytes exactly.
  [[nodiscard]] std::vector<uint8_t> encode(std::string_view kind, const std::any& value, uint32_t version) const;
  // Writes a decoded value's fields into the current JSON node.
  void dump_json(cereal::JSONOutputArchive& ar, std::string_view kind, const std::any& value) const;

 private:
  struct Entry {
    std::string name;
    uint32_t oldest = 1;
    uint32_t current = 1;
    std::function<Expected<std::any>(const Payload&)> decode;
    std::function<std::vector<uint8_t>(const std::any&, uint32_t)> encode;
    std::function<void(cereal::JSONOutputArchive&, const std::any&)> dump;
  };
  void insert(Entry entry);
  std::map<std::string, Entry, std::less<>> entries_;
};

class Import {
 public:
  // Applies the stream-wide rules (see above) to `payloads`.
  [[nodiscard]] static Expected<Import> create(const PayloadRegistry& registry, std::vector<Payload> payloads);

  // A required payload: fails if missing, or if `check` (context-dependent
  // validation, e.g. against guest memory or negotiated features) objects.
  template <class T>
  [[nodiscard]] Expected<T> take(const PayloadKind<T>& kind, std::string_view instance,
                                 const std::type_identity_t<StateCheck<T>>& check = {}) {
    Item* item = find(kind.name, instance);
    if (!item)
      return Failure{"missing required payload " + describe(PayloadId{std::string(kind.name), std::string(instance)})};
    item->taken = true;
    const T* value = std::any_cast<T>(&item->value);
    if (!value) throw std::logic_error(describe(item->payload) + ": registered with another State type");
    if (check) {
      if (auto problem = check(*value)) return Failure{describe(item->payload) + ": " + *problem};
    }
    return *value;
  }

  // An optional payload: nullopt if absent, otherwise as take().
  template <class T>
  [[nodiscard]] std::optional<Expected<T>> take_optional(const PayloadKind<T>& kind, std::string_view instance,
                                                         const std::type_identity_t<StateCheck<T>>& check = {}) {
    if (!find(kind.name, instance)) return std::nullopt;
    return take(kind, instance, check);
  }

  // Instances present for a kind, in stream order (e.g. "cpu0", "cpu1").
  std::vector<std::string> instances(std::string_view kind) const;
  // The version a payload was written at (e.g. to upgrade a v1 value with
  // knowledge the payload did not carry); nullopt if absent.
  std::optional<uint32_t> version(std::string_view kind, std::string_view instance) const;

  // Fails naming the first payload nobody took.
  [[nodiscard]] Status finish() const;

  size_t size() const { return items_.size(); }

 private:
  struct Item {
    Payload payload;
    std::any value;
    bool taken = false;
  };
  Item* find(std::string_view kind, std::string_view instance);
  const Item* find(std::string_view kind, std::string_view instance) const;
  std::vector<Item> items_;
};

}  // namespace wren::migrate
