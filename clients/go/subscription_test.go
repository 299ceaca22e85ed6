package hivebridge

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bridgev1 "github.com/hivebridge/hivebridge/clients/go/gen/hive/bridge/v1"
)

// fakeStream is one SubscribeEvents stream: its events, then err.
type fakeStream struct {
	grpc.ClientStream
	events []*bridgev1.DeviceEvent
	err    error
}

func (s *fakeStream) Recv() (*bridgev1.SubscribeEventsResponse, error) {
	if len(s.events) == 0 {
		return nil, s.err
	}
	e := s.events[0]
	s.events = s.events[1:]
	return &bridgev1.SubscribeEventsResponse{Event: e}, nil
}

type streamingClient struct {
	bridgev1.DeviceBridgeClient
	streams  []*fakeStream
	requests []*bridgev1.SubscribeEventsRequest
}

func (c *streamingClient) SubscribeEvents(ctx context.Context, in *bridgev1.SubscribeEventsRequest,
	_ ...grpc.CallOption) (bridgev1.DeviceBridge_SubscribeEventsClient, error) {
	c.requests = append(c.requests, in)
	s := c.streams[0]
	c.streams = c.streams[1:]
	return s, nil
}

func ev(epoch string, seq uint64) *bridgev1.DeviceEvent {
	return &bridgev1.DeviceEvent{Epoch: epoch, Sequence: seq, Type: "device-state"}
}

func streaming(streams ...*fakeStream) (*Bridge, *streamingClient) {
	c := &streamingClient{streams: streams}
	b := newBridge(c, defaultOptions())
	b.sleep = func(context.Context, time.Duration) error { return nil }
	return b, c
}

func TestSubscriptionResumesAfterTheLastEventWithTheSameFilters(t *testing.T) {
	b, c := streaming(
		&fakeStream{events: []*bridgev1.DeviceEvent{ev("e1", 1), ev("e1", 2)}, err: status.Error(codes.Unavailable, "gone")},
		&fakeStream{events: []*bridgev1.DeviceEvent{ev("e2", 1)}, err: io.EOF},
		&fakeStream{events: []*bridgev1.DeviceEvent{ev("e2", 2)}})
	s := b.Subscribe(context.Background(), &bridgev1.SubscribeEventsRequest{DeviceIds: []string{"d"}})
	var got []uint64
	for i := 0; i < 4; i++ {
		e, err := s.Next()
		if err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
		got = append(got, e.GetSequence())
	}
	if len(c.requests) != 3 || c.requests[0].ResumeAfter != nil {
		t.Fatalf("requests = %v", c.requests)
	}
	if r := c.requests[1]; r.GetResumeAfter().GetEpoch() != "e1" || r.GetResumeAfter().GetSequence() != 2 || r.GetDeviceIds()[0] != "d" {
		t.Fatalf("resumed with %v, want after e1/2 for device d", r)
	}
	if r := c.requests[2]; r.GetResumeAfter().GetEpoch() != "e2" || r.GetResumeAfter().GetSequence() != 1 {
		t.Fatalf("a stream the bridge ended resumed with %v, want after e2/1", r)
	}
	if s.Reconnects() != 2 || s.Position().GetSequence() != 2 || got[3] != 2 {
		t.Fatalf("reconnects %d, position %v, events %v", s.Reconnects(), s.Position(), got)
	}
}

func TestSubscriptionReturnsErrorsANewStreamCannotFix(t *testing.T) {
	b, c := streaming(&fakeStream{err: status.Error(codes.Unauthenticated, "unknown token")})
	_, err := b.Subscribe(context.Background(), &bridgev1.SubscribeEventsRequest{}).Next()
	if status.Code(err) != codes.Unauthenticated || len(c.requests) != 1 {
		t.Fatalf("Next = %v after %d streams; want UNAUTHENTICATED after 1", err, len(c.requests))
	}
}

func TestSubscriptionEndsWithItsContext(t *testing.T) {
	b, _ := streaming(&fakeStream{events: []*bridgev1.DeviceEvent{ev("e1", 1)}})
	ctx, cancel := context.WithCancel(context.Background())
	s := b.Subscribe(ctx, &bridgev1.SubscribeEventsRequest{ResumeAfter: &bridgev1.StreamPosition{Epoch: "e1", Sequence: 0}})
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := s.Next(); err != context.Canceled {
		t.Fatalf("Next after cancel = %v, want context.Canceled", err)
	}
}

func gapEv(epoch string, seq uint64, reason bridgev1.GapReason) *bridgev1.DeviceEvent {
	return &bridgev1.DeviceEvent{Epoch: epoch, Sequence: seq, Type: "gap",
		Body: &bridgev1.DeviceEvent_Gap{Gap: &bridgev1.Gap{Missed: 5, Reason: reason}}}
}

const slow = bridgev1.GapReason_GAP_REASON_SLOW_SUBSCRIBER

func nextN(t *testing.T, s *Subscription, n int) []string {
	t.Helper()
	var got []string
	for i := 0; i < n; i++ {
		e, err := s.Next()
		if err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
		got = append(got, fmt.Sprintf("%s/%d", e.GetType(), e.GetSequence()))
	}
	return got
}

func TestSubscriptionRecoversASlowSubscriberGapAfterTheLastEventAtOnce(t *testing.T) {
	first := &fakeStream{events: []*bridgev1.DeviceEvent{ev("e1", 1), ev("e1", 2), gapEv("e1", 9, slow)}}
	// The new stream overflows again before any event: that gap is returned.
	second := &fakeStream{events: []*bridgev1.DeviceEvent{gapEv("e1", 12, slow), ev("e1", 13),
		gapEv("e1", 20, bridgev1.GapReason_GAP_REASON_HISTORY_EXPIRED)}}
	b, c := streaming(first, second)
	slept := 0
	b.sleep = func(context.Context, time.Duration) error { slept++; return nil }
	s := b.Subscribe(context.Background(), &bridgev1.SubscribeEventsRequest{DeviceIds: []string{"d"}})
	got := nextN(t, s, 5)
	want := "[device-state/1 device-state/2 gap/12 device-state/13 gap/20]"
	if fmt.Sprint(got) != want {
		t.Fatalf("events %v, want %s", got, want)
	}
	if r := c.requests[1]; r.GetResumeAfter().GetSequence() != 2 || r.GetDeviceIds()[0] != "d" {
		t.Fatalf("recovered with %v, want after e1/2 (the last event, not the gap) for device d", r)
	}
	if s.GapRecoveries() != 1 || s.Reconnects() != 0 || slept != 0 {
		t.Fatalf("gap recoveries %d, reconnects %d, sleeps %d; want 1, 0, 0", s.GapRecoveries(), s.Reconnects(), slept)
	}
	if s.Position().GetSequence() != 20 {
		t.Fatalf("position %v, want the returned gap's e1/20", s.Position())
	}
}

func TestSubscriptionReturnsASlowSubscriberGapBeforeAnyEventOrWhenRecoveryIsOff(t *testing.T) {
	b, _ := streaming(&fakeStream{events: []*bridgev1.DeviceEvent{gapEv("e1", 9, slow), ev("e1", 10)}})
	if got := fmt.Sprint(nextN(t, b.Subscribe(context.Background(), &bridgev1.SubscribeEventsRequest{}), 2)); got != "[gap/9 device-state/10]" {
		t.Fatalf("events %s, want the gap first: nothing returned to resume after", got)
	}
	b, c := streaming(&fakeStream{events: []*bridgev1.DeviceEvent{ev("e1", 1), gapEv("e1", 9, slow)}})
	s := b.Subscribe(context.Background(), &bridgev1.SubscribeEventsRequest{}, RecoverGaps(false), grpc.WaitForReady(true))
	if got := fmt.Sprint(nextN(t, s, 2)); got != "[device-state/1 gap/9]" || len(c.requests) != 1 || s.GapRecoveries() != 0 {
		t.Fatalf("events %s after %d streams, %d recoveries; want the gap on one stream", got, len(c.requests), s.GapRecoveries())
	}
	if len(s.stream.opts) != 1 {
		t.Fatalf("call options %v: RecoverGaps is not one for gRPC", s.stream.opts)
	}
}
