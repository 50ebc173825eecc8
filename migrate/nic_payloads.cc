#include "migrate/nic_payloads.h"

#include <string>

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
  auto net_state =
      kinds::take_net_device(import, instance, [&net](const NetDevice::State& s) { return net.validate(s); });
  if (!net_state) return Failure{net_state.error()};
  if (auto problem = function.check_device_fits(*function_state, net_state->active, net_state->features))
    return Failure{named(kinds::kNetDevice.name, instance) + " does not fit " +
                   named(kinds::kVirtioPci.name, instance) + ": " + *problem};
  return NicState{std::move(function_state).value(), std::move(net_state).value()};
}

Status restore_nic(const NicState& state, std::string_view instance, VirtioPciDevice& function, NetDevice& net) {
  if (auto problem = net.restore(state.net)) return Failure{named(kinds::kNetDevice.name, instance) + ": " + *problem};
  if (!function.restore(state.function))
    return Failure{named(kinds::kVirtioPci.name, instance) + ": refused by the device"};
  return success();
}

}  // namespace wren::migrate
