#include "vmm/api/stats_report.h"

#include <optional>
#include <set>

#include "vmm/api/api_server.h"

namespace wren {

using nlohmann::json;

namespace {

[[noreturn]] void refuse(const std::string& desc) { throw ApiError("GenericError", desc); }

const json& object_arguments(const json& arguments) {
  static const json empty = json::object();
  if (arguments.is_null()) return empty;
  if (!arguments.is_object()) refuse("Invalid parameter type, expected: object");
  return arguments;
}

void only_parameters(const json& arguments, const std::set<std::string>& allowed) {
  for (const auto& [key, value] : arguments.items())
    if (!allowed.contains(key)) refuse("Parameter '" + key + "' is unexpected");
}

// A list of strings; nullopt when absent (no filter), an empty set filters out everything.
std::optional<std::set<std::string>> string_list(const json& arguments, const std::string& key,
                                                 const std::string& path) {
  if (!arguments.contains(key)) return std::nullopt;
  const json& list = arguments[key];
  if (!list.is_array()) refuse("Invalid parameter type for '" + path + "', expected: array");
  std::set<std::string> out;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string())
      refuse("Invalid parameter type for '" + path + "[" + std::to_string(i) + "]', expected: string");
    out.insert(list[i].get<std::string>());
  }
  return out;
}

void check_provider(const json& value, const std::string& path) {
  if (!value.is_string()) refuse("Invalid parameter type for '" + path + "', expected: string");
  if (value.get<std::string>() != "kvm")
    refuse("Parameter '" + std::string("provider") + "' does not accept value '" + value.get<std::string>() + "'");
}

bool selected(const std::optional<std::set<std::string>>& filter, const std::string& name) {
  return !filter || filter->contains(name);
}

json stat_value(const KvmStat& stat) {
  if (stat.descriptor.unit() == KvmStatUnit::kBoolean) return stat.values.at(0) != 0;
  if (stat.values.size() == 1) return stat.values[0];
  return stat.values;
}

// One StatsResult, or null when no stat passes the filter.
json stats_result(const KvmStatsFd& fd, const std::optional<std::set<std::string>>& names,
                  const std::optional<std::string>& qom_path) {
  json stats = json::array();
  for (const KvmStat& stat : fd.read())
    if (stat.descriptor.known() && selected(names, stat.descriptor.name))
      stats.push_back({{"name", stat.descriptor.name}, {"value", stat_value(stat)}});
  if (stats.empty()) return nullptr;
  json result{{"provider", "kvm"}};
  if (qom_path) result["qom-path"] = *qom_path;
  result["stats"] = std::move(stats);
  return result;
}

const char* type_name(KvmStatType type) {
  switch (type) {
    case KvmStatType::kCumulative: return "cumulative";
    case KvmStatType::kInstant: return "instant";
    case KvmStatType::kPeak: return "peak";
    case KvmStatType::kLinearHistogram: return "linear-histogram";
    case KvmStatType::kLog2Histogram: return "log2-histogram";
  }
  return "cumulative";
}

json schema_value(const KvmStatDescriptor& d) {
  json value{{"name", d.name}, {"type", type_name(d.type())}};
  switch (d.unit()) {
    case KvmStatUnit::kNone: break;
    case KvmStatUnit::kBytes: value["unit"] = "bytes"; break;
    case KvmStatUnit::kSeconds: value["unit"] = "seconds"; break;
    case KvmStatUnit::kCycles: value["unit"] = "cycles"; break;
    case KvmStatUnit::kBoolean: value["unit"] = "boolean"; break;
  }
  if (d.exponent != 0) value["base"] = d.base() == KvmStatBase::kPow2 ? 2 : 10;
  value["exponent"] = d.exponent;
  if (d.bucket_size != 0) value["bucket-size"] = d.bucket_size;
  return value;
}

json schema_of(const KvmStatsFd& fd, const char* target) {
  json stats = json::array();
  for (const auto& d : fd.schema().descriptors())
    if (d.known()) stats.push_back(schema_value(d));
  return {{"provider", "kvm"}, {"target", target}, {"stats", std::move(stats)}};
}

}  // namespace

std::string vcpu_qom_path(size_t index) { return "/machine/unattached/device[" + std::to_string(index) + "]"; }

json query_stats_json(const json& raw_arguments, const StatsSources& sources) {
  const json& arguments = object_arguments(raw_arguments);
  if (!arguments.contains("target")) refuse("Parameter 'target' is missing");
  if (!arguments["target"].is_string()) refuse("Invalid parameter type for 'target', expected: string");
  const std::string target = arguments["target"].get<std::string>();
  if (target != "vm" && target != "vcpu") refuse("Parameter 'target' does not accept value '" + target + "'");
  const bool vcpu = target == "vcpu";
  only_parameters(arguments, vcpu ? std::set<std::string>{"target", "providers", "vcpus"}
                                  : std::set<std::string>{"target", "providers"});
  const auto vcpus = vcpu ? string_list(arguments, "vcpus", "vcpus") : std::nullopt;

  // One request per listed provider (QEMU answers a provider listed twice twice); none listed: all stats.
  std::vector<std::optional<std::set<std::string>>> requests;
  if (!arguments.contains("providers")) {
    requests.emplace_back(std::nullopt);
  } else {
    const json& providers = arguments["providers"];
    if (!providers.is_array()) refuse("Invalid parameter type for 'providers', expected: array");
    for (size_t i = 0; i < providers.size(); ++i) {
      const std::string path = "providers[" + std::to_string(i) + "]";
      const json& request = providers[i];
      if (!request.is_object()) refuse("Invalid parameter type for '" + path + "', expected: object");
      for (const auto& [key, value] : request.items())
        if (key != "provider" && key != "names") refuse("Parameter '" + path + "." + key + "' is unexpected");
      if (!request.contains("provider")) refuse("Parameter '" + path + ".provider' is missing");
      check_provider(request["provider"], path + ".provider");
      requests.push_back(string_list(request, "names", path + ".names"));
    }
  }

  json results = json::array();
  for (const auto& names : requests) {
    if (!vcpu) {
      if (!sources.vm) continue;
      if (json r = stats_result(*sources.vm, names, std::nullopt); !r.is_null()) results.push_back(std::move(r));
      continue;
    }
    for (size_t i = 0; i < sources.vcpus.size(); ++i) {
      const std::string path = vcpu_qom_path(i);
      if (!sources.vcpus[i] || !selected(vcpus, path)) continue;
      if (json r = stats_result(*sources.vcpus[i], names, path); !r.is_null()) results.push_back(std::move(r));
    }
  }
  return results;
}

json query_stats_schemas_json(const json& raw_arguments, const StatsSources& sources) {
  const json& arguments = object_arguments(raw_arguments);
  only_parameters(arguments, {"provider"});
  if (arguments.contains("provider")) check_provider(arguments["provider"], "provider");
  json schemas = json::array();
  if (sources.vm) schemas.push_back(schema_of(*sources.vm, "vm"));
  // QEMU reads the vCPU schema from the first vCPU: every vCPU has the same.
  if (!sources.vcpus.empty() && sources.vcpus[0]) schemas.push_back(schema_of(*sources.vcpus[0], "vcpu"));
  return schemas;
}

}  // namespace wren
