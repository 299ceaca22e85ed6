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
type Subscription struct {
	request *bridgev1.SubscribeEventsRequest
	stream  *resumingStream[*bridgev1.SubscribeEventsResponse]

	mu       sync.Mutex
	position *bridgev1.StreamPosition
}

// Subscribe returns a Subscription for req's filters, starting after
// req.ResumeAfter when set. It lives until ctx ends.
func (b *Bridge) Subscribe(ctx context.Context, req *bridgev1.SubscribeEventsRequest,
	opts ...grpc.CallOption) *Subscription {
	request := proto.Clone(req).(*bridgev1.SubscribeEventsRequest)
	s := &Subscription{request: request, position: request.GetResumeAfter()}
	s.stream = &resumingStream[*bridgev1.SubscribeEventsResponse]{b: b, ctx: ctx, opts: opts, open: s.open}
	return s
}

// Position is the (epoch, sequence) of the last event Next returned: store
// it to resume a later subscription (SubscribeEventsRequest.ResumeAfter).
func (s *Subscription) Position() *bridgev1.StreamPosition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(s.position).(*bridgev1.StreamPosition)
}

// Reconnects is how many times the subscription resumed on a new stream.
func (s *Subscription) Reconnects() int { return s.stream.Reconnects() }

// Next blocks for the next event.
func (s *Subscription) Next() (*bridgev1.DeviceEvent, error) {
	reply, err := s.stream.next()
	if err != nil {
		return nil, err
	}
	event := reply.GetEvent()
	if event.GetEpoch() != "" {
		s.mu.Lock()
		s.position = &bridgev1.StreamPosition{Epoch: event.GetEpoch(), Sequence: event.GetSequence()}
		s.mu.Unlock()
	}
	return event, nil
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
