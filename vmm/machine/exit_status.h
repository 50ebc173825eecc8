#pragma once
// Exit statuses of `wren run` (README, "Exit statuses"). With --test-exit a
// guest's write of v exits with (v << 1) | 1, an odd status; every failure of
// the VMM is even and non-zero, one per class, so that no failure can read
// as a result the guest reported.
namespace wren::exit_status {

inline constexpr int kOk = 0;            // the guest powered off or reset, or `quit`
inline constexpr int kUsage = 2;         // the command line was refused
inline constexpr int kGuestFailure = 4;  // KVM could not run the guest: triple fault, internal or
                                         // emulation error, failed entry, an exit Wren does not handle
inline constexpr int kHostFailure = 6;   // the VMM failed on the host: set-up, restore, incoming migration

static_assert(kUsage % 2 == 0 && kGuestFailure % 2 == 0 && kHostFailure % 2 == 0, "a failure must be even");

}  // namespace wren::exit_status
