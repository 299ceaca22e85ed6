#include "bridge/event_filter.h"

#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace hive {
namespace {

DeviceEvent Event(std::string account, std::string device, std::string type) {
  DeviceEvent event;
  event.set_account_id(std::move(account));
  event.set_device_id(std::move(device));
  event.set_type(std::move(type));
  return event;
}

TEST(EventFilter, DefaultMatchesEveryEvent) {
  EventFilter filter;
  EXPECT_TRUE(filter.Matches(Event("acc-1", "dev-1", "device-state")));
  EXPECT_TRUE(filter.Matches(DeviceEvent()));
}

TEST(EventFilter, RequestWithEmptyListsMatchesEveryEvent) {
  EventFilter filter = EventFilter::FromRequest(SubscribeEventsRequest());
  EXPECT_TRUE(filter.Matches(Event("acc-1", "dev-1", "device-state")));
  EXPECT_TRUE(filter.Matches(Event("acc-2", "dev-9", "instances")));
}

TEST(EventFilter, AccountListMatchesAnyListedAccount) {
  SubscribeEventsRequest request;
  request.add_account_ids("acc-1");
  request.add_account_ids("acc-2");
  EventFilter filter = EventFilter::FromRequest(request);
  EXPECT_TRUE(filter.Matches(Event("acc-1", "dev-1", "device-state")));
  EXPECT_TRUE(filter.Matches(Event("acc-2", "dev-2", "instances")));
  EXPECT_FALSE(filter.Matches(Event("acc-3", "dev-1", "device-state")));
}

TEST(EventFilter, DeviceListMatchesAnyListedDevice) {
  SubscribeEventsRequest request;
  request.add_device_ids("dev-1");
  request.add_device_ids("dev-2");
  EventFilter filter = EventFilter::FromRequest(request);
  EXPECT_TRUE(filter.Matches(Event("acc-1", "dev-1", "device-state")));
  EXPECT_TRUE(filter.Matches(Event("acc-9", "dev-2", "device-state")));
  EXPECT_FALSE(filter.Matches(Event("acc-1", "dev-3", "device-state")));
}

TEST(EventFilter, TypeListMatchesAnyListedType) {
  SubscribeEventsRequest request;
  request.add_types("device-state");
  request.add_types("device-alive");
  EventFilter filter = EventFilter::FromRequest(request);
  EXPECT_TRUE(filter.Matches(Event("acc-1", "dev-1", "device-state")));
  EXPECT_TRUE(filter.Matches(Event("acc-1", "dev-1", "device-alive")));
  EXPECT_FALSE(filter.Matches(Event("acc-1", "dev-1", "instances")));
}

TEST(EventFilter, AccountAndDeviceMustBothMatch) {
  SubscribeEventsRequest request;
  request.add_account_ids("acc-1");
  request.add_device_ids("dev-1");
  EventFilter filter = EventFilter::FromRequest(request);
  EXPECT_TRUE(filter.Matches(Event("acc-1", "dev-1", "anything")));
  EXPECT_FALSE(filter.Matches(Event("acc-1", "dev-2", "anything")));
  EXPECT_FALSE(filter.Matches(Event("acc-2", "dev-1", "anything")));
}

TEST(EventFilter, AccountAndTypeMustBothMatch) {
  SubscribeEventsRequest request;
  request.add_account_ids("acc-1");
  request.add_types("device-state");
  EventFilter filter = EventFilter::FromRequest(request);
  EXPECT_TRUE(filter.Matches(Event("acc-1", "any-device", "device-state")));
  EXPECT_FALSE(filter.Matches(Event("acc-1", "any-device", "instances")));
  EXPECT_FALSE(filter.Matches(Event("acc-2", "any-device", "device-state")));
}

TEST(EventFilter, DeviceAndTypeMustBothMatch) {
  SubscribeEventsRequest request;
  request.add_device_ids("dev-1");
  request.add_types("device-state");
  EventFilter filter = EventFilter::FromRequest(request);
  EXPECT_TRUE(filter.Matches(Event("any-account", "dev-1", "device-state")));
  EXPECT_FALSE(filter.Matches(Event("any-account", "dev-1", "instances")));
  EXPECT_FALSE(filter.Matches(Event("any-account", "dev-2", "device-state")));
}

TEST(EventFilter, AllThreeListsMustMatch) {
  SubscribeEventsRequest request;
  request.add_account_ids("acc-1");
  request.add_device_ids("dev-1");
  request.add_device_ids("dev-2");
  request.add_types("device-state");
  EventFilter filter = EventFilter::FromRequest(request);
  EXPECT_TRUE(filter.Matches(Event("acc-1", "dev-1", "device-state")));
  EXPECT_TRUE(filter.Matches(Event("acc-1", "dev-2", "device-state")));
  EXPECT_FALSE(filter.Matches(Event("acc-2", "dev-1", "device-state")));
  EXPECT_FALSE(filter.Matches(Event("acc-1", "dev-3", "device-state")));
  EXPECT_FALSE(filter.Matches(Event("acc-1", "dev-1", "instances")));
}

TEST(EventFilter, ValuesMatchExactly) {
  SubscribeEventsRequest request;
  request.add_device_ids("dev-1");
  EventFilter filter = EventFilter::FromRequest(request);
  EXPECT_FALSE(filter.Matches(Event("acc-1", "DEV-1", "device-state")));
  EXPECT_FALSE(filter.Matches(Event("acc-1", "dev-10", "device-state")));
  EXPECT_FALSE(filter.Matches(Event("acc-1", "", "device-state")));
}

TEST(EventFilter, ResumeAfterIsNotAFilter) {
  SubscribeEventsRequest request;
  request.mutable_resume_after()->set_epoch("epoch-a");
  request.mutable_resume_after()->set_sequence(7);
  EventFilter filter = EventFilter::FromRequest(request);
  EXPECT_TRUE(filter.Matches(Event("acc-1", "dev-1", "device-state")));
}

}  // namespace
}  // namespace hive
