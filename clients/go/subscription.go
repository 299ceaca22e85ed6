package hivebridge

import (
	"context"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
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
	b       *Bridge
	ctx     context.Context
	request *bridgev1.SubscribeEventsRequest
	opts    []grpc.CallOption

	mu         sync.Mutex
	position   *bridgev1.StreamPosition
	reconnects int

	stream   bridgev1.DeviceBridge_SubscribeEventsClient
	cancel   context.CancelFunc
	failures int
}

// Subscribe returns a Subscription for req's filters, starting after
// req.ResumeAfter when set. It lives until ctx ends.
func (b *Bridge) Subscribe(ctx context.Context, req *bridgev1.SubscribeEventsRequest,
	opts ...grpc.CallOption) *Subscription {
	request := proto.Clone(req).(*bridgev1.SubscribeEventsRequest)
	return &Subscription{b: b, ctx: ctx, request: request, position: request.GetResumeAfter(), opts: opts}
}

// Position is the (epoch, sequence) of the last event Next returned: store
// it to resume a later subscription (SubscribeEventsRequest.ResumeAfter).
func (s *Subscription) Position() *bridgev1.StreamPosition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(s.position).(*bridgev1.StreamPosition)
}

// Reconnects is how many times the subscription resumed on a new stream.
func (s *Subscription) Reconnects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconnects
}

// Next blocks for the next event.
func (s *Subscription) Next() (*bridgev1.DeviceEvent, error) {
	for {
		if err := s.ctx.Err(); err != nil {
			s.close()
			return nil, err
		}
		if s.stream == nil {
			if err := s.open(); err != nil {
				return nil, err
			}
		}
		reply, err := s.stream.Recv()
		if err == nil {
			s.failures = 0
			event := reply.GetEvent()
			if event.GetEpoch() != "" {
				s.mu.Lock()
				s.position = &bridgev1.StreamPosition{Epoch: event.GetEpoch(), Sequence: event.GetSequence()}
				s.mu.Unlock()
			}
			return event, nil
		}
		s.close()
		if s.ctx.Err() != nil {
			return nil, s.ctx.Err()
		}
		if err != io.EOF && !resumable(status.Code(err)) {
			return nil, err
		}
		s.failures++
		s.mu.Lock()
		s.reconnects++
		s.mu.Unlock()
		failures := s.failures
		if failures > 8 {
			failures = 8
		}
		if err := s.b.sleep(s.ctx, s.b.opts.retry.backoff(failures)); err != nil {
			return nil, err
		}
	}
}

func (s *Subscription) open() error {
	request := proto.Clone(s.request).(*bridgev1.SubscribeEventsRequest)
	s.mu.Lock()
	request.ResumeAfter = s.position
	resuming := s.reconnects > 0
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(s.ctx)
	// A resumed stream waits for the bridge to be back instead of failing fast.
	opts := append([]grpc.CallOption{grpc.WaitForReady(resuming)}, s.opts...)
	stream, err := s.b.Client.SubscribeEvents(ctx, request, opts...)
	if err != nil {
		cancel()
		return err
	}
	s.stream, s.cancel = stream, cancel
	return nil
}

// Close ends the subscription's current stream; Next after Close opens a new
// one unless its context is done. Cancelling the context is the usual way to end.
func (s *Subscription) Close() { s.close() }

func (s *Subscription) close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.stream, s.cancel = nil, nil
}
