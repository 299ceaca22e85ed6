#include "clients/loadgen/fanout_load.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/loadgen/delivery_ledger.h"
#include "clients/loadgen/event_emitter.h"
#include "clients/loadgen/event_subscribers.h"
#include "clients/loadgen/fleet_roster.h"
#include "clients/loadgen/grpc_channels.h"

namespace hive::loadgen {
namespace {

constexpr absl::Duration kConnectTimeout = absl::Seconds(10);
// Lets the streams reach the bridge's hub before the first event.
constexpr absl::Duration kSubscribeGrace = absl::Milliseconds(300);

hive::bridge::v1::SubscribeEventsRequest StampedEventsOf(const sim::DeviceRoster& roster) {
  hive::bridge::v1::SubscribeEventsRequest request;
  request.add_types(std::string(kStampedEventType));
  for (size_t i = 0; i < roster.size(); ++i) request.add_device_ids(roster.entry(i).device_id);
  return request;
}

}  // namespace

double FanoutResult::deliveries_per_second() const {
  const double seconds = absl::ToDoubleSeconds(measured);
  return seconds > 0 ? static_cast<double>(deliveries) / seconds : 0;
}

void FanoutResult::AppendTo(JsonOut& out) const {
  const double seconds = absl::ToDoubleSeconds(measured);
  out.Field("subscribers", subscribers)
      .Field("emitters", emitters)
      .Field("window", window)
      .Field("frame_bytes", static_cast<uint64_t>(frame_bytes))
      .Field("window_s", seconds)
      .Field("events_sent", sent)
      .Field("deliveries", deliveries)
      .Field("delivered_per_s", deliveries_per_second())
      .Field("events_per_s", seconds > 0 ? static_cast<double>(completed) / seconds : 0)
      .Field("lost", lost)
      .Field("gaps", gaps)
      .Field("errors", errors)
      .Latency("latency_us", latency);
}

absl::StatusOr<FanoutResult> RunFanoutLoad(const LoadgenOptions& options) {
  const int receivers = options.echo ? 1 : options.subscribers;
  DeliveryLedger ledger(static_cast<size_t>(options.emitters) * options.window, receivers);

  std::optional<sim::DeviceRoster> roster;
  if (!options.echo) {
    absl::StatusOr<sim::DeviceRoster> fleet = FleetRoster(
        FleetOptions(options.ws_urls.front(), options.jwt_secret_file, options.emitters, options.emitter_seed));
    if (!fleet.ok()) return fleet.status();
    roster = *std::move(fleet);
  }
  EventEmitter::Options emitter_options;
  emitter_options.urls = options.ws_urls;
  emitter_options.identities = FleetIdentities(options.emitters, options.emitter_seed);
  emitter_options.window = options.window;
  emitter_options.event_timeout = options.event_timeout;
  emitter_options.echo = options.echo;
  absl::StatusOr<std::unique_ptr<EventEmitter>> emitter =
      EventEmitter::Start(emitter_options, roster ? &*roster : nullptr, ledger);
  if (!emitter.ok()) return emitter.status();

  std::unique_ptr<EventSubscribers> subscribers;
  if (!options.echo) {
    absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
        ConnectChannels(options.server, options.channels, kConnectTimeout);
    if (!channels.ok()) return channels.status();
    EventEmitter& refill = **emitter;
    subscribers = std::make_unique<EventSubscribers>(*std::move(channels), StampedEventsOf(*roster),
                                                     [&ledger, &refill](const EventStamp& stamp) {
                                                       if (ledger.Deliver(stamp, SteadyNanos())) refill.Refill(stamp);
                                                     });
    subscribers->Start(options.subscribers);
    absl::SleepFor(kSubscribeGrace);
  }

  (*emitter)->Fire();
  absl::SleepFor(options.warmup);
  const DeliveryLedger::Tally start = ledger.Read();
  absl::SleepFor(options.duration);
  const DeliveryLedger::Tally end = ledger.Read();
  (*emitter)->Stop();
  if (subscribers != nullptr) {
    subscribers->Stop();
    if (subscribers->ended_early() > 0) {
      return absl::UnavailableError(
          absl::StrCat(subscribers->ended_early(), " event streams ended early: ", subscribers->first_error()));
    }
  }

  FanoutResult result;
  result.subscribers = receivers;
  result.emitters = options.emitters;
  result.window = options.window;
  result.frame_bytes = (*emitter)->frame_bytes();
  result.measured = absl::Nanoseconds(end.at_nanos - start.at_nanos);
  result.sent = end.sent - start.sent;
  result.deliveries = end.deliveries - start.deliveries;
  result.completed = end.completed - start.completed;
  result.lost = end.lost - start.lost;
  result.gaps = subscribers == nullptr ? 0 : subscribers->gaps();
  result.errors = (*emitter)->errors();
  result.latency = end.latency - start.latency;
  return result;
}

}  // namespace hive::loadgen
