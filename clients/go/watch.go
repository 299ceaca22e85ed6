package hivebridge

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"

	bridgev1 "github.com/hivebridge/hivebridge/clients/go/gen/hive/bridge/v1"
)

// DeviceWatch is a WatchDevices stream: the twins of the devices its
// request matches. Next returns first the twin of every matching device the
// bridge knows (the snapshot: GetDevice() set, GetEvent() nil), then one
// response with GetSnapshotComplete() true, then a device's twin again with
// the event that changed it (GetEvent()) whenever one changes. A watcher
// that reads too slowly is sent the snapshot again and another end marker
// (nothing it missed is lost from the twins). It does not reopen by itself:
// Next returns the stream's error (ResourceExhausted at the bridge's
// --max-subscribers, Unauthenticated, ...) or ctx's end.
type DeviceWatch struct {
	stream bridgev1.DeviceBridge_WatchDevicesClient
	cancel context.CancelFunc
}

// WatchDevices opens a DeviceWatch for req's filters (nil: every device
// the caller may see). It lives until ctx ends or Close.
func (b *Bridge) WatchDevices(ctx context.Context, req *bridgev1.WatchDevicesRequest,
	opts ...grpc.CallOption) (*DeviceWatch, error) {
	if req == nil {
		req = &bridgev1.WatchDevicesRequest{}
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := b.Client.WatchDevices(ctx, req, opts...)
	if err != nil {
		cancel()
		return nil, err
	}
	return &DeviceWatch{stream: stream, cancel: cancel}, nil
}

// Next blocks for the next response.
func (w *DeviceWatch) Next() (*bridgev1.WatchDevicesResponse, error) {
	return w.stream.Recv()
}

// Snapshot reads up to the snapshot's end marker and returns its devices;
// Next then returns the changes.
func (w *DeviceWatch) Snapshot() ([]*bridgev1.Device, error) {
	var devices []*bridgev1.Device
	for {
		reply, err := w.Next()
		if err == io.EOF {
			return devices, errors.New("hivebridge: the watch ended before its snapshot was complete")
		}
		if err != nil {
			return devices, err
		}
		if reply.GetSnapshotComplete() {
			return devices, nil
		}
		devices = append(devices, reply.GetDevice())
	}
}

// Close ends the watch.
func (w *DeviceWatch) Close() { w.cancel() }
