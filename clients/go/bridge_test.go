package hivebridge

import (
	"context"
	"regexp"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bridgev1 "github.com/hivebridge/hivebridge/clients/go/gen/hive/bridge/v1"
)

// scriptedClient answers SendDeviceRequest from a script of errors.
type scriptedClient struct {
	bridgev1.DeviceBridgeClient
	errs     []error
	requests []*bridgev1.SendDeviceRequestRequest
}

func (c *scriptedClient) SendDeviceRequest(ctx context.Context, in *bridgev1.SendDeviceRequestRequest,
	_ ...grpc.CallOption) (*bridgev1.SendDeviceRequestResponse, error) {
	c.requests = append(c.requests, in)
	if len(c.errs) > 0 {
		err := c.errs[0]
		c.errs = c.errs[1:]
		if err != nil {
			return nil, err
		}
	}
	return &bridgev1.SendDeviceRequestResponse{RequestId: in.RequestId, Status: bridgev1.RequestStatus_REQUEST_STATUS_ACKED}, nil
}

func scripted(codes ...codes.Code) (*Bridge, *scriptedClient, *[]time.Duration) {
	c := &scriptedClient{}
	for _, code := range codes {
		c.errs = append(c.errs, status.Error(code, "bridge says no"))
	}
	b := newBridge(c, defaultOptions())
	var sleeps []time.Duration
	b.sleep = func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }
	return b, c, &sleeps
}

func TestSendWithRequestIDRetriesUnavailableAndResourceExhausted(t *testing.T) {
	b, c, sleeps := scripted(codes.Unavailable, codes.ResourceExhausted)
	id := NewRequestID()
	reply, err := b.Send(context.Background(), &bridgev1.SendDeviceRequestRequest{RequestId: id})
	if err != nil || reply.RequestId != id {
		t.Fatalf("Send = %v, %v; want the reply for %s", reply, err, id)
	}
	if len(c.requests) != 3 || len(*sleeps) != 2 {
		t.Fatalf("attempts = %d, sleeps = %d; want 3 and 2", len(c.requests), len(*sleeps))
	}
}

func TestSendWithoutRequestIDIsNotRetried(t *testing.T) {
	b, c, _ := scripted(codes.Unavailable)
	_, err := b.Send(context.Background(), &bridgev1.SendDeviceRequestRequest{})
	if status.Code(err) != codes.Unavailable || len(c.requests) != 1 {
		t.Fatalf("Send = %v after %d attempts; want UNAVAILABLE after 1", err, len(c.requests))
	}
}

func TestSendNeverRetriesAborted(t *testing.T) {
	b, c, _ := scripted(codes.Aborted)
	_, err := b.Send(context.Background(), &bridgev1.SendDeviceRequestRequest{RequestId: NewRequestID()})
	if status.Code(err) != codes.Aborted || len(c.requests) != 1 {
		t.Fatalf("Send = %v after %d attempts; want ABORTED after 1", err, len(c.requests))
	}
}

func TestSendGivesUpAfterMaxAttempts(t *testing.T) {
	b, c, _ := scripted(codes.Unavailable, codes.Unavailable, codes.Unavailable, codes.Unavailable)
	b.opts.retry.MaxAttempts = 3
	_, err := b.Send(context.Background(), &bridgev1.SendDeviceRequestRequest{RequestId: NewRequestID()})
	if status.Code(err) != codes.Unavailable || len(c.requests) != 3 {
		t.Fatalf("Send = %v after %d attempts; want UNAVAILABLE after 3", err, len(c.requests))
	}
}

func TestSendDoesNotSleepPastTheDeadline(t *testing.T) {
	b, c, sleeps := scripted(codes.Unavailable)
	b.opts.retry = RetryPolicy{MaxAttempts: 5, InitialBackoff: time.Hour, MaxBackoff: time.Hour, Multiplier: 1}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// A jittered hour-long backoff is, all but certainly, past a 1 s deadline.
	for i := 0; i < 3 && len(c.requests) < 2; i++ {
		c.requests, c.errs = nil, []error{status.Error(codes.Unavailable, "down")}
		_, err := b.Send(ctx, &bridgev1.SendDeviceRequestRequest{RequestId: NewRequestID()})
		if status.Code(err) == codes.Unavailable && len(c.requests) == 1 && len(*sleeps) == 0 {
			return
		}
	}
	t.Fatalf("retried past the deadline: %d attempts, sleeps %v", len(c.requests), *sleeps)
}

func TestNewRequestIDIsARandomVersion4UUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := NewRequestID(), NewRequestID()
	if !re.MatchString(a) || a == b {
		t.Fatalf("NewRequestID = %q, %q", a, b)
	}
}

func TestCommandBuildersSetTheirKind(t *testing.T) {
	raw, err := Raw("DeviceCommand.check_disk_space", map[string]interface{}{"path": "/data", "n": []interface{}{1, "x"}})
	if err != nil || raw.GetRaw().GetPayload().AsMap()["path"] != "/data" {
		t.Fatalf("Raw = %v, %v", raw, err)
	}
	if _, err := Raw("X.y", map[string]interface{}{"bad": make(chan int)}); err == nil {
		t.Fatal("Raw accepted a value JSON cannot hold")
	}
	dc, _ := DeviceCommand(bridgev1.DeviceCommand_ACTION_REBOOT, nil)
	if dc.GetDeviceCommand().GetAction() != bridgev1.DeviceCommand_ACTION_REBOOT || dc.GetDeviceCommand().Arguments != nil {
		t.Fatalf("DeviceCommand = %v", dc)
	}
	if UpgradeDevice("").GetUpgradeDevice().Version != nil || UpgradeDevice("2.0").GetUpgradeDevice().GetVersion() != "2.0" {
		t.Fatal("UpgradeDevice version")
	}
	if SchedulerAction(bridgev1.SchedulerAction_ACTION_STOP, "i", nil).GetSchedulerAction().GetInstance() != "i" {
		t.Fatal("SchedulerAction instance")
	}
}

func TestTLSConfigFromCARefusesNonPEM(t *testing.T) {
	if _, err := TLSConfigFromCA([]byte("not a certificate"), ""); err == nil {
		t.Fatal("accepted a CA file with no certificate")
	}
}
