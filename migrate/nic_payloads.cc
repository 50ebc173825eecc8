#include "migrate/nic_payloads.h"

#include <string>
#include <variant>

namespace wren::migrate {

namespace {
std::string named(std::string_view kind, std::string_view instance) {
  return describe(PayloadId{std::string(kind), std::string(instance)});
}
}  // namespace

Expected<NicState> take_nic(Import& import, std::string_view instance, const VirtioPciDevice& function,
                            const NetDevice& net) {
  auto function_state = import.take(kinds::kVirtioPci, instance,
                                    [&function](const VirtioPciDevice::State& s) { return function.validate(s); });
  if (!function_state) return Failure{function_state.error()};
  auto net_state = kinds::take_net_device(import, instance);
  if (!net_state) return Failure{net_state.error()};
  auto validated = net.validate(std::move(net_state).value());
  if (auto* problem = std::get_if<std::string>(&validated))
    return Failure{named(kinds::kNetDevice.name, instance) + ": " + *problem};
  auto& valid = std::get<NetDevice::ValidState>(validated);
  if (auto problem = function.check_device_fits(*function_state, valid.state().active, valid.state().features))
    return Failure{named(kinds::kNetDevice.name, instance) + " does not fit " +
                   named(kinds::kVirtioPci.name, instance) + ": " + *problem};
  return NicState{std::move(function_state).value(), std::move(valid)};
}

Status restore_nic(const NicState& state, std::string_view instance, VirtioPciDevice& function, NetDevice& net) {
  if (auto problem = net.restore(state.net)) return Failure{named(kinds::kNetDevice.name, instance) + ": " + *problem};
  if (!function.restore(state.function))
    return Failure{named(kinds::kVirtioPci.name, instance) + ": refused by the device"};
  return success();
}

}  // namespace wren::migrate
