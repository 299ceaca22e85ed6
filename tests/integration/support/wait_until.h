// tests/integration/support/wait_until.h
// Waiting for a condition instead of sleeping and hoping: polls `done` until
// it holds, and fails with what was awaited when it never does.
//
//   ASSERT_TRUE(WaitUntil([&] { return device.received_requests() == 1; },
//                         "the device received the request")) << Log();
//
// The timeout only bounds a hang: a condition that holds is seen within a
// poll step of holding, so a generous bound (kHangBound) costs nothing on a
// passing run and keeps a busy machine from failing a correct bridge. Never
// use a wait to prove that something did NOT happen; send something that
// must arrive after it instead (a barrier) and wait for that.
#pragma once

#include <functional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace hive::integration {

// How long a condition that should hold at once may take on a loaded
// machine before the test calls it a hang.
inline constexpr absl::Duration kHangBound = absl::Seconds(30);

// Success once `done()` returns true; a failure naming `what` when it still
// returns false after `timeout`. `done` is called from this thread only,
// first at once, then every few milliseconds.
::testing::AssertionResult WaitUntil(const std::function<bool()>& done, absl::string_view what,
                                     absl::Duration timeout = kHangBound);

}  // namespace hive::integration
