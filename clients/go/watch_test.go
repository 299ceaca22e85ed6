package hivebridge

import (
	"context"
	"io"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bridgev1 "github.com/hivebridge/hivebridge/clients/go/gen/hive/bridge/v1"
)

// fakeWatch is one WatchDevices stream: its responses, then err.
type fakeWatch struct {
	grpc.ClientStream
	replies []*bridgev1.WatchDevicesResponse
	err     error
}

func (w *fakeWatch) Recv() (*bridgev1.WatchDevicesResponse, error) {
	if len(w.replies) == 0 {
		return nil, w.err
	}
	r := w.replies[0]
	w.replies = w.replies[1:]
	return r, nil
}

type watchingClient struct {
	bridgev1.DeviceBridgeClient
	stream  *fakeWatch
	request *bridgev1.WatchDevicesRequest
}

func (c *watchingClient) WatchDevices(ctx context.Context, in *bridgev1.WatchDevicesRequest,
	_ ...grpc.CallOption) (bridgev1.DeviceBridge_WatchDevicesClient, error) {
	c.request = in
	return c.stream, nil
}

func twin(id string) *bridgev1.WatchDevicesResponse {
	return &bridgev1.WatchDevicesResponse{Device: &bridgev1.Device{DeviceId: id}}
}

func TestWatchSnapshotEndsAtTheMarkerAndNextReturnsTheChanges(t *testing.T) {
	change := &bridgev1.WatchDevicesResponse{Device: &bridgev1.Device{DeviceId: "a"},
		Event: &bridgev1.DeviceEvent{Type: "device-state"}}
	c := &watchingClient{stream: &fakeWatch{replies: []*bridgev1.WatchDevicesResponse{
		twin("a"), twin("b"), {SnapshotComplete: true}, change}, err: status.Error(codes.Unavailable, "gone")}}
	w, err := newBridge(c, defaultOptions()).WatchDevices(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if c.request == nil {
		t.Fatal("a nil request must be sent as an empty one")
	}
	devices, err := w.Snapshot()
	if err != nil || len(devices) != 2 || devices[0].GetDeviceId() != "a" || devices[1].GetDeviceId() != "b" {
		t.Fatalf("Snapshot = %v, %v; want a and b", devices, err)
	}
	if got, err := w.Next(); err != nil || got.GetEvent().GetType() != "device-state" {
		t.Fatalf("Next after the snapshot = %v, %v; want the change", got, err)
	}
	if _, err := w.Next(); status.Code(err) != codes.Unavailable {
		t.Fatalf("Next at the stream's end = %v; want its error", err)
	}
}

func TestWatchSnapshotCutShortIsAnError(t *testing.T) {
	c := &watchingClient{stream: &fakeWatch{replies: []*bridgev1.WatchDevicesResponse{twin("a")}, err: io.EOF}}
	w, _ := newBridge(c, defaultOptions()).WatchDevices(context.Background(), &bridgev1.WatchDevicesRequest{})
	if devices, err := w.Snapshot(); err == nil || len(devices) != 1 {
		t.Fatalf("Snapshot of a stream that ended early = %v, %v; want an error", devices, err)
	}
}
