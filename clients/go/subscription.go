package hivebridge

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	bridgev1 "github.com/hivebridge/hivebridge/clients/go/gen/hive/bridge/v1"
)

// Subscription is an endless stream of device events that resumes by
// itself. When its stream breaks (the bridge restarted, the network
// dropped), it opens a new one with resume_after set to the last event it
// returned: the bridge replays what was missed, or starts with a `gap`
// event when it cannot (history too short, or a new epoch after a restart;
// check event.GetGap() != nil). Errors a new stream cannot fix (a wrong
// token, a bad filter) are returned by Next, as is ctx's end.
//
// A slow-subscriber gap (the bridge's queue for this subscriber overflowed)
// is not returned when an event was returned since the subscription opened
// or since its last such recovery: it opens a new stream at once after that
// event and the bridge replays the missed events from its history
// (GapRecoveries counts these; RecoverGaps(false) turns it off). Otherwise
// the gap is returned, so a subscriber slower than the events for good gets
// the bridge's HISTORY_EXPIRED gap rather than endless replays.
type Subscription struct {
	request     *bridgev1.SubscribeEventsRequest
	stream      *resumingStream[*bridgev1.SubscribeEventsResponse]
	recoverGaps bool

	mu       sync.Mutex
	position *bridgev1.StreamPosition
	// progressed: an event (not a gap) returned since the subscription
	// opened or since its last gap recovery, so resuming after it makes progress.
	progressed    bool
	gapRecoveries int
}

// gapRecovery is the CallOption of RecoverGaps: it carries the setting to
// Subscribe, which takes it out of the options it passes to gRPC.
type gapRecovery struct {
	grpc.EmptyCallOption
	on bool
}

// RecoverGaps(false), passed to Subscribe with its call options, returns
// slow-subscriber gaps from Next as they come instead of recovering the
// missed events from the bridge's history (on by default; see Subscription).
func RecoverGaps(on bool) grpc.CallOption { return gapRecovery{on: on} }

// Subscribe returns a Subscription for req's filters, starting after
// req.ResumeAfter when set. It lives until ctx ends. opts are the gRPC call
// options of each stream, and RecoverGaps.
func (b *Bridge) Subscribe(ctx context.Context, req *bridgev1.SubscribeEventsRequest,
	opts ...grpc.CallOption) *Subscription {
	request := proto.Clone(req).(*bridgev1.SubscribeEventsRequest)
	s := &Subscription{request: request, position: request.GetResumeAfter(), recoverGaps: true}
	var callOpts []grpc.CallOption
	for _, o := range opts {
		if g, ok := o.(gapRecovery); ok {
			s.recoverGaps = g.on
		} else {
			callOpts = append(callOpts, o)
		}
	}
	s.stream = &resumingStream[*bridgev1.SubscribeEventsResponse]{b: b, ctx: ctx, opts: callOpts, open: s.open}
	return s
}

// Position is the (epoch, sequence) of the last event Next returned: store
// it to resume a later subscription (SubscribeEventsRequest.ResumeAfter).
func (s *Subscription) Position() *bridgev1.StreamPosition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(s.position).(*bridgev1.StreamPosition)
}

// Reconnects is how many times the subscription resumed on a new stream
// after one broke.
func (s *Subscription) Reconnects() int { return s.stream.Reconnects() }

// GapRecoveries is how many slow-subscriber gaps the subscription recovered
// from by replaying from the bridge's history instead of returning them.
func (s *Subscription) GapRecoveries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gapRecoveries
}

// Next blocks for the next event.
func (s *Subscription) Next() (*bridgev1.DeviceEvent, error) {
	for {
		reply, err := s.stream.next()
		if err != nil {
			return nil, err
		}
		event := reply.GetEvent()
		if s.recovers(event) {
			// Not a failure: the next s.stream.next() opens the new stream
			// at once, after s.position, without backoff.
			s.stream.close()
			continue
		}
		s.mu.Lock()
		if event.GetEpoch() != "" {
			s.position = &bridgev1.StreamPosition{Epoch: event.GetEpoch(), Sequence: event.GetSequence()}
		}
		if event.GetGap() == nil {
			s.progressed = true
		}
		s.mu.Unlock()
		return event, nil
	}
}

// recovers says whether event is a slow-subscriber gap to recover from
// instead of returning it: only after progress, which bounds the replays.
// The position stays at the last event returned: the gap's own would skip
// what it names.
func (s *Subscription) recovers(event *bridgev1.DeviceEvent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.recoverGaps || !s.progressed ||
		event.GetGap().GetReason() != bridgev1.GapReason_GAP_REASON_SLOW_SUBSCRIBER {
		return false
	}
	s.progressed = false
	s.gapRecoveries++
	return true
}

// open starts a stream after the last event returned.
func (s *Subscription) open(ctx context.Context,
	opts ...grpc.CallOption) (receiver[*bridgev1.SubscribeEventsResponse], error) {
	request := proto.Clone(s.request).(*bridgev1.SubscribeEventsRequest)
	s.mu.Lock()
	request.ResumeAfter = s.position
	s.mu.Unlock()
	return s.stream.b.Client.SubscribeEvents(ctx, request, opts...)
}

// Close ends the subscription's current stream; Next after Close opens a new
// one unless its context is done. Cancelling the context is the usual way to end.
func (s *Subscription) Close() { s.stream.close() }
