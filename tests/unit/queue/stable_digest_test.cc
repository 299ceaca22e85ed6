#include "bridge/queue/stable_digest.h"

#include "gtest/gtest.h"

namespace hive {
namespace {

constexpr char kDevice[] = "6f1c2a7e-3b44-4c1e-9a55-0d2b8f0e7a11";

hive::bridge::v1::SendDeviceRequestRequest Reboot() {
  hive::bridge::v1::SendDeviceRequestRequest request;
  request.mutable_command()->mutable_raw()->set_command("DeviceCommand.reboot");
  return request;
}

// The digest is kept on disk: a restarted bridge must compute the same one,
// so it is a fixed function of the request, never seeded per process (the
// value was computed independently, by FNV-1a over the bytes in Python).
TEST(StableDigest, IsTheSameInEveryProcess) {
  EXPECT_EQ(StableDigestOf(kDevice, Reboot()), 0x208b33b0386c2b10ULL) << std::hex << StableDigestOf(kDevice, Reboot());
}

TEST(StableDigest, TellsDeviceCommandAndStateApartButNotTheWaitMode) {
  const uint64_t reboot = StableDigestOf(kDevice, Reboot());
  EXPECT_NE(StableDigestOf("0b9e4d3c-8f21-4a7b-b6c2-5e1f9a3d2c44", Reboot()), reboot);
  hive::bridge::v1::SendDeviceRequestRequest other = Reboot();
  other.mutable_command()->mutable_raw()->set_command("DeviceCommand.check-disk-space");
  EXPECT_NE(StableDigestOf(kDevice, other), reboot);
  hive::bridge::v1::SendDeviceRequestRequest with_state = Reboot();
  with_state.mutable_state();
  EXPECT_NE(StableDigestOf(kDevice, with_state), reboot);
  hive::bridge::v1::SendDeviceRequestRequest waiting = Reboot();
  waiting.set_wait(hive::bridge::v1::WAIT_MODE_RESULT);
  waiting.mutable_queue_ttl()->set_seconds(60);
  EXPECT_EQ(StableDigestOf(kDevice, waiting), reboot);
}

}  // namespace
}  // namespace hive
