package hivebridge

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	bridgev1 "github.com/hivebridge/hivebridge/clients/go/gen/hive/bridge/v1"
)

// Bridge is a connection to one hivebridge's DeviceBridge and FleetJobs
// APIs, safe for concurrent use. Client and Jobs are the generated clients,
// for calls the helpers do not wrap.
type Bridge struct {
	Client bridgev1.DeviceBridgeClient
	Jobs   bridgev1.FleetJobsClient
	conn   *grpc.ClientConn
	opts   options
	sleep  func(context.Context, time.Duration) error // tests replace it
}

// Dial connects to target ("host:port"); the connection is made lazily, so
// Dial fails only on bad options.
func Dial(target string, opts ...Option) (*Bridge, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	conn, err := grpc.Dial(target, o.dialOptions()...)
	if err != nil {
		return nil, fmt.Errorf("hivebridge: dial %s: %w", target, err)
	}
	b := newBridge(bridgev1.NewDeviceBridgeClient(conn), o)
	b.Jobs = bridgev1.NewFleetJobsClient(conn)
	b.conn = conn
	return b, nil
}

func newBridge(client bridgev1.DeviceBridgeClient, o options) *Bridge {
	return &Bridge{Client: client, opts: o, sleep: sleepCtx}
}

// Close closes the connection; subscriptions on it end.
func (b *Bridge) Close() error { return b.conn.Close() }

// NewRequestID is a fresh random (version 4) UUID: set it as RequestId to
// make Send retryable.
func NewRequestID() string {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		panic("hivebridge: crypto/rand: " + err.Error())
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// withDefaultTimeout bounds ctx by the Bridge's timeout unless it has a deadline.
func (b *Bridge) withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || b.opts.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b.opts.timeout)
}

// Send sends one command and waits as req.Wait says. With req.RequestId set
// it is retried on UNAVAILABLE and RESOURCE_EXHAUSTED (RetryPolicy) within
// ctx's deadline; without, the first error is final. Errors are gRPC status
// errors: status.Code(err) is NotFound when the device is not connected,
// DeadlineExceeded when it did not answer in time, and so on (see the
// SendDeviceRequest comment in device_bridge.proto).
func (b *Bridge) Send(ctx context.Context, req *bridgev1.SendDeviceRequestRequest,
	opts ...grpc.CallOption) (*bridgev1.SendDeviceRequestResponse, error) {
	ctx, cancel := b.withDefaultTimeout(ctx)
	defer cancel()
	policy := b.opts.retry
	if req.GetRequestId() == "" || policy.MaxAttempts < 1 {
		policy.MaxAttempts = 1
	}
	for attempt := 1; ; attempt++ {
		reply, err := b.Client.SendDeviceRequest(ctx, req, opts...)
		if err == nil || attempt >= policy.MaxAttempts || !retryable(status.Code(err)) {
			return reply, err
		}
		pause := policy.backoff(attempt)
		if deadline, ok := ctx.Deadline(); ok && time.Now().Add(pause).After(deadline) {
			return reply, err
		}
		if b.sleep(ctx, pause) != nil {
			return reply, err
		}
	}
}

// ListDevices returns every device the request matches, all pages.
func (b *Bridge) ListDevices(ctx context.Context, req *bridgev1.ListDevicesRequest,
	opts ...grpc.CallOption) ([]*bridgev1.Device, error) {
	ctx, cancel := b.withDefaultTimeout(ctx)
	defer cancel()
	page := &bridgev1.ListDevicesRequest{}
	if req != nil {
		*page = bridgev1.ListDevicesRequest{AccountId: req.AccountId, PageSize: req.PageSize,
			Presence: req.Presence, Version: req.Version, PageToken: req.PageToken}
	}
	var devices []*bridgev1.Device
	for {
		reply, err := b.Client.ListDevices(ctx, page, opts...)
		if err != nil {
			return devices, err
		}
		devices = append(devices, reply.GetDevices()...)
		if reply.GetNextPageToken() == "" {
			return devices, nil
		}
		page.PageToken = reply.GetNextPageToken()
	}
}

// GetDevice describes one device and its twin.
func (b *Bridge) GetDevice(ctx context.Context, deviceID string, opts ...grpc.CallOption) (*bridgev1.Device, error) {
	ctx, cancel := b.withDefaultTimeout(ctx)
	defer cancel()
	reply, err := b.Client.GetDevice(ctx, &bridgev1.GetDeviceRequest{DeviceId: deviceID}, opts...)
	return reply.GetDevice(), err
}

// GetRequest reports what became of a request so far: RequestRecord.Status
// is QUEUED, SENT, ACKED, SUCCEEDED, FAILED, EXPIRED, CANCELLED or
// UNCONFIRMED. NotFound when the bridge does not know the id (never sent,
// or forgotten: the bridge's --dedupe-window, --request-retention for queued
// requests).
func (b *Bridge) GetRequest(ctx context.Context, requestID string,
	opts ...grpc.CallOption) (*bridgev1.RequestRecord, error) {
	ctx, cancel := b.withDefaultTimeout(ctx)
	defer cancel()
	reply, err := b.Client.GetRequest(ctx, &bridgev1.GetRequestRequest{RequestId: requestID}, opts...)
	return reply.GetRequest(), err
}

// CancelRequest cancels a queued request (Send with QueueTtl) so it is never
// delivered, and returns it as it stands afterwards (CANCELLED; cancelling
// it again is OK). FailedPrecondition when it was already handed to the
// device, or was not queued; NotFound as for GetRequest.
func (b *Bridge) CancelRequest(ctx context.Context, requestID string,
	opts ...grpc.CallOption) (*bridgev1.RequestRecord, error) {
	ctx, cancel := b.withDefaultTimeout(ctx)
	defer cancel()
	reply, err := b.Client.CancelRequest(ctx, &bridgev1.CancelRequestRequest{RequestId: requestID}, opts...)
	return reply.GetRequest(), err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
