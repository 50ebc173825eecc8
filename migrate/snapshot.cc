#include "migrate/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <system_error>

#include "migrate/stream.h"

namespace wren::migrate {

namespace {

constexpr const char* kRamInstance = "ram";

UniqueFd open_or_throw(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path);
  return UniqueFd(fd);
}

}  // namespace

PageStats write_snapshot(ByteSink& sink, std::vector<Payload> payloads, const GuestMemory& memory) {
  payloads.push_back(make_payload(kinds::kMemoryLayout, kRamInstance, GuestMemoryLayout::of(memory)));
  write_state_section(sink, payloads);
  return write_all_pages(memory, sink);
}

PageStats write_snapshot_file(const std::string& path, std::vector<Payload> payloads, const GuestMemory& memory) {
  const std::string temp = path + ".tmp";
  try {
    UniqueFd fd = open_or_throw(temp, O_WRONLY | O_CREAT | O_TRUNC);
    FdSink sink(fd.get());
    const PageStats stats = write_snapshot(sink, std::move(payloads), memory);
    sink.flush();
    if (::fsync(fd.get()) != 0) throw std::system_error(errno, std::generic_category(), "fsync " + temp);
    if (::rename(temp.c_str(), path.c_str()) != 0)
      throw std::system_error(errno, std::generic_category(), "rename " + temp);
    return stats;
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
}

Expected<SnapshotReader> SnapshotReader::open(const std::string& path, const PayloadRegistry& registry) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Failure{"cannot open snapshot " + path + ": " + std::generic_category().message(errno)};
  UniqueFd owned(fd);
  auto reader = read(std::make_unique<FdSource>(fd), registry);
  if (reader) reader->fd_ = std::move(owned);
  return reader;
}

Expected<SnapshotReader> SnapshotReader::read(std::unique_ptr<ByteSource> source, const PayloadRegistry& registry) {
  auto payloads = read_state_section(*source);
  if (!payloads) return Failure{payloads.error()};
  auto import = Import::create(registry, std::move(payloads).value());
  if (!import) return Failure{import.error()};
  SnapshotReader reader;
  auto layout = import->take(kinds::kMemoryLayout, kRamInstance);
  if (!layout) return Failure{layout.error()};
  reader.layout_ = std::move(layout).value();
  reader.import_.emplace(std::move(import).value());
  reader.source_ = std::move(source);
  return reader;
}

Expected<PageStats> SnapshotReader::load_memory(GuestMemory& memory) {
  if (memory_loaded_) throw std::logic_error("SnapshotReader::load_memory called twice");
  memory_loaded_ = true;
  if (auto problem = check_layout_matches(layout_, memory)) return Failure{*problem};
  return read_page_batch(*source_, memory);
}

Expected<std::string> inspect_snapshot(ByteSource& source, const PayloadRegistry& registry) {
  auto payloads = read_state_section(source);
  if (!payloads) return Failure{payloads.error()};
  std::ostringstream out;
  {
    cereal::JSONOutputArchive ar(out);
    uint32_t format = kStreamFormatVersion;
    ar(cereal::make_nvp("format_version", format));
    ar.setNextName("payloads");
    ar.startNode();
    ar.makeArray();
    for (const auto& p : *payloads) {
      ar.startNode();
      std::string kind = p.kind, instance = p.instance;
      uint32_t version = p.version;
      uint64_t bytes = p.bytes.size();
      ar(cereal::make_nvp("kind", kind), cereal::make_nvp("version", version), cereal::make_nvp("instance", instance),
         cereal::make_nvp("bytes", bytes));
      auto value = registry.decode(p);
      if (value) {
        ar.setNextName("state");
        ar.startNode();
        registry.dump_json(ar, p.kind, *value);
        ar.finishNode();
      } else {
        std::string error = value.error();
        ar(cereal::make_nvp("error", error));
      }
      ar.finishNode();
    }
    ar.finishNode();
    ar.setNextName("memory");
    ar.startNode();
    auto pages = scan_page_batch(source);
    if (pages) {
      ar(cereal::make_nvp("data_pages", pages->data_pages), cereal::make_nvp("zero_pages", pages->zero_pages),
         cereal::make_nvp("bytes", pages->bytes));
    } else {
      std::string error = pages.error();
      ar(cereal::make_nvp("error", error));
    }
    ar.finishNode();
  }
  return out.str();
}

Expected<std::string> inspect_snapshot_file(const std::string& path, const PayloadRegistry& registry) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Failure{"cannot open snapshot " + path + ": " + std::generic_category().message(errno)};
  UniqueFd owned(fd);
  FdSource source(fd);
  return inspect_snapshot(source, registry);
}

}  // namespace wren::migrate
