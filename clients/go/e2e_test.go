package hivebridge

// End-to-end tests against real bridges and a simulated device, run by
// tests/sdk/go_sdk.sh under tests/sdk/bridge_harness.py (HIVE_SDK_E2E=1 and
// the HIVE_* variables it documents). Skipped by a plain `go test`.

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	bridgev1 "github.com/hivebridge/hivebridge/clients/go/gen/hive/bridge/v1"
)

func e2eEnv(t *testing.T, name string) string {
	t.Helper()
	if os.Getenv("HIVE_SDK_E2E") != "1" {
		t.Skip("not under tests/sdk/bridge_harness.py (HIVE_SDK_E2E=1)")
	}
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run under tests/sdk/bridge_harness.py", name)
	}
	return v
}

func mustCommand(c *bridgev1.Command, err error) *bridgev1.Command {
	if err != nil {
		panic(err)
	}
	return c
}

func everyKind(account string) map[string]*bridgev1.Command {
	instance := "ad51b914-688a-4a5f-a073-5c5121a010e2"
	stop := SchedulerAction(bridgev1.SchedulerAction_ACTION_STOP, instance,
		&bridgev1.Application{Appstore: proto.String("Fractal App Store"), Name: proto.String("wikijs")})
	stop.GetSchedulerAction().Account = &account
	return map[string]*bridgev1.Command{
		"upgrade_device":       UpgradeDevice("2.1.0"),
		"device_command":       mustCommand(DeviceCommand(bridgev1.DeviceCommand_ACTION_CHECK_DISK_SPACE, nil)),
		"scheduler_action":     stop,
		"app_instance_command": mustCommand(AppInstanceCommand(bridgev1.AppInstanceCommand_ACTION_CREATE_USER, instance, map[string]interface{}{"name": "ann"})),
		"raw":                  mustCommand(Raw("DeviceCommand.check_disk_space", map[string]interface{}{"path": "/data"})),
	}
}

func dial(t *testing.T, target string, opts ...Option) *Bridge {
	t.Helper()
	b, err := Dial(target, append([]Option{WithTimeout(15 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func next(t *testing.T, s *Subscription) *bridgev1.DeviceEvent {
	t.Helper()
	e, err := s.Next()
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return e
}

func TestE2ESendEveryKindInEveryWaitMode(t *testing.T) {
	device, account := e2eEnv(t, "HIVE_DEVICE_ID"), e2eEnv(t, "HIVE_ACCOUNT_ID")
	b := dial(t, e2eEnv(t, "HIVE_BRIDGE_TARGET"))
	want := map[bridgev1.WaitMode]bridgev1.RequestStatus{
		bridgev1.WaitMode_WAIT_MODE_NONE:   bridgev1.RequestStatus_REQUEST_STATUS_SENT,
		bridgev1.WaitMode_WAIT_MODE_ACK:    bridgev1.RequestStatus_REQUEST_STATUS_ACKED,
		bridgev1.WaitMode_WAIT_MODE_RESULT: bridgev1.RequestStatus_REQUEST_STATUS_SUCCEEDED,
	}
	for kind, command := range everyKind(account) {
		for wait, status := range want {
			reply, err := b.Send(context.Background(), &bridgev1.SendDeviceRequestRequest{
				DeviceId: device, Command: command, Wait: wait})
			if err != nil || reply.GetStatus() != status {
				t.Errorf("%s %s: %v, %v; want %s", kind, wait, reply.GetStatus(), err, status)
			}
		}
	}
}

func TestE2ERetryWithTheSameRequestIDGetsTheStoredOutcome(t *testing.T) {
	device := e2eEnv(t, "HIVE_DEVICE_ID")
	b := dial(t, e2eEnv(t, "HIVE_BRIDGE_TARGET"))
	req := &bridgev1.SendDeviceRequestRequest{DeviceId: device, RequestId: NewRequestID(),
		Command: UpgradeDevice(""), Wait: bridgev1.WaitMode_WAIT_MODE_RESULT}
	first, err := b.Send(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.Send(context.Background(), req)
	if err != nil || !proto.Equal(again.GetSentAt(), first.GetSentAt()) || again.GetRequestId() != req.RequestId {
		t.Fatalf("retry = %v, %v; want the first outcome %v (sent once)", again, err, first)
	}
	_, err = b.Send(context.Background(), &bridgev1.SendDeviceRequestRequest{DeviceId: "3f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f",
		Command: UpgradeDevice("")})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("absent device: %v; want NOT_FOUND", err)
	}
}

func TestE2EListGetAndSubscribeWithFiltersAndResume(t *testing.T) {
	device, account := e2eEnv(t, "HIVE_DEVICE_ID"), e2eEnv(t, "HIVE_ACCOUNT_ID")
	b := dial(t, e2eEnv(t, "HIVE_BRIDGE_TARGET"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	devices, err := b.ListDevices(ctx, &bridgev1.ListDevicesRequest{AccountId: account})
	if err != nil || len(devices) != 1 || devices[0].GetDeviceId() != device {
		t.Fatalf("ListDevices = %v, %v", devices, err)
	}
	got, err := b.GetDevice(ctx, device)
	if err != nil || got.GetAccountId() != account {
		t.Fatalf("GetDevice = %v, %v", got, err)
	}

	s := b.Subscribe(ctx, &bridgev1.SubscribeEventsRequest{DeviceIds: []string{device},
		Types: []string{"instances", "device-state"}})
	var last *bridgev1.DeviceEvent
	for i := 0; i < 3; i++ {
		last = next(t, s)
		if last.GetDeviceId() != device || (last.GetType() != "instances" && last.GetType() != "device-state") {
			t.Fatalf("event outside the filter: %v", last)
		}
	}
	resumed := b.Subscribe(ctx, &bridgev1.SubscribeEventsRequest{DeviceIds: []string{device}, ResumeAfter: s.Position()})
	s.Close()
	e := next(t, resumed)
	if e.GetEpoch() != last.GetEpoch() || e.GetSequence() <= last.GetSequence() {
		t.Fatalf("resumed at %s/%d, want after %s/%d", e.GetEpoch(), e.GetSequence(), last.GetEpoch(), last.GetSequence())
	}
}

func TestE2ETLSWithABearerTokenUnderABackendPolicy(t *testing.T) {
	target, device := e2eEnv(t, "HIVE_TLS_TARGET"), e2eEnv(t, "HIVE_TLS_DEVICE_ID")
	account, other := e2eEnv(t, "HIVE_ACCOUNT_ID"), e2eEnv(t, "HIVE_OTHER_ACCOUNT_ID")
	ca, err := os.ReadFile(e2eEnv(t, "HIVE_TLS_CA"))
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig, err := TLSConfigFromCA(ca, e2eEnv(t, "HIVE_TLS_SERVER_NAME"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b := dial(t, target, WithTLS(tlsConfig), WithToken(e2eEnv(t, "HIVE_TOKEN")))
	deadline := time.Now().Add(15 * time.Second)
	for {
		devices, err := b.ListDevices(ctx, &bridgev1.ListDevicesRequest{AccountId: account})
		if err != nil {
			t.Fatal(err)
		}
		if len(devices) == 1 && devices[0].GetDeviceId() == device {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("device %s never connected to the TLS bridge", device)
		}
		time.Sleep(50 * time.Millisecond)
	}
	reply, err := b.Send(ctx, &bridgev1.SendDeviceRequestRequest{DeviceId: device, RequestId: NewRequestID(),
		Command: UpgradeDevice(""), Wait: bridgev1.WaitMode_WAIT_MODE_RESULT})
	if err != nil || reply.GetStatus() != bridgev1.RequestStatus_REQUEST_STATUS_SUCCEEDED {
		t.Fatalf("Send over TLS = %v, %v", reply, err)
	}
	if _, err := b.ListDevices(ctx, &bridgev1.ListDevicesRequest{AccountId: other}); status.Code(err) != codes.PermissionDenied ||
		!strings.Contains(err.Error(), other) {
		t.Fatalf("another account: %v; want PERMISSION_DENIED naming it", err)
	}

	wrong := dial(t, target, WithTLS(tlsConfig), WithToken("wrong-token"))
	_, err = wrong.ListDevices(ctx, nil)
	if status.Code(err) != codes.Unauthenticated || status.Convert(err).Message() == "" || strings.Contains(err.Error(), "wrong-token") {
		t.Fatalf("wrong token: %v; want UNAUTHENTICATED with a message that does not echo the token", err)
	}
	if _, err := wrong.Subscribe(ctx, &bridgev1.SubscribeEventsRequest{}).Next(); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("subscription with a wrong token: %v; want UNAUTHENTICATED, not a retry", err)
	}
}

func TestE2EQueuedRequestGetRequestAndCancelRequest(t *testing.T) {
	b := dial(t, e2eEnv(t, "HIVE_BRIDGE_TARGET"))
	ctx := context.Background()
	offline := NewRequestID() // a device id that never connects: its requests stay queued
	queue := func() *bridgev1.SendDeviceRequestResponse {
		t.Helper()
		reply, err := b.Send(ctx, &bridgev1.SendDeviceRequestRequest{DeviceId: offline, RequestId: NewRequestID(),
			Command: UpgradeDevice(""), QueueTtl: durationpb.New(10 * time.Minute)})
		if err != nil || reply.GetStatus() != bridgev1.RequestStatus_REQUEST_STATUS_QUEUED || reply.GetExpiresAt() == nil {
			t.Fatalf("Send with QueueTtl to an offline device = %v, %v; want QUEUED with an expiry", reply, err)
		}
		return reply
	}
	queued := queue()
	record, err := b.GetRequest(ctx, queued.GetRequestId())
	if err != nil || record.GetStatus() != bridgev1.RequestStatus_REQUEST_STATUS_QUEUED || record.GetDeviceId() != offline {
		t.Fatalf("GetRequest = %v, %v; want QUEUED for device %s", record, err, offline)
	}

	other := queue()
	cancelled, err := b.CancelRequest(ctx, other.GetRequestId())
	if err != nil || cancelled.GetStatus() != bridgev1.RequestStatus_REQUEST_STATUS_CANCELLED {
		t.Fatalf("CancelRequest = %v, %v; want CANCELLED", cancelled, err)
	}
	for id, want := range map[string]bridgev1.RequestStatus{
		other.GetRequestId():  bridgev1.RequestStatus_REQUEST_STATUS_CANCELLED,
		queued.GetRequestId(): bridgev1.RequestStatus_REQUEST_STATUS_QUEUED, // the other one is untouched
	} {
		if got, err := b.GetRequest(ctx, id); err != nil || got.GetStatus() != want {
			t.Errorf("GetRequest %s = %v, %v; want %s", id, got, err, want)
		}
	}
	unknown := NewRequestID()
	if _, err := b.CancelRequest(ctx, unknown); status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), unknown) {
		t.Fatalf("CancelRequest of an unknown id: %v; want NOT_FOUND naming it", err)
	}
}

func TestE2EWatchDevicesStartsWithASnapshotHoldingTheConnectedDevice(t *testing.T) {
	device, account := e2eEnv(t, "HIVE_DEVICE_ID"), e2eEnv(t, "HIVE_ACCOUNT_ID")
	b := dial(t, e2eEnv(t, "HIVE_BRIDGE_TARGET"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := b.WatchDevices(ctx, &bridgev1.WatchDevicesRequest{AccountIds: []string{account}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	devices, err := w.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	var found *bridgev1.Device
	for _, d := range devices {
		if d.GetDeviceId() == device {
			found = d
		}
	}
	if found == nil || !found.GetOnline() || found.GetAccountId() != account {
		t.Fatalf("snapshot = %v; want the connected device %s of account %s, online", devices, device, account)
	}
	other, err := b.WatchDevices(ctx, &bridgev1.WatchDevicesRequest{AccountIds: []string{e2eEnv(t, "HIVE_OTHER_ACCOUNT_ID")}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if devices, err := other.Snapshot(); err != nil || len(devices) != 0 {
		t.Fatalf("snapshot of another account = %v, %v; want empty", devices, err)
	}
}

func TestE2ESubscriptionResumesAfterABridgeRestart(t *testing.T) {
	device := e2eEnv(t, "HIVE_DEVICE_ID")
	restart := e2eEnv(t, "HIVE_RESTART_COMMAND")
	b := dial(t, e2eEnv(t, "HIVE_BRIDGE_TARGET"))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	s := b.Subscribe(ctx, &bridgev1.SubscribeEventsRequest{DeviceIds: []string{device}})
	before := next(t, s)
	if out, err := exec.Command("sh", "-c", restart).CombinedOutput(); err != nil {
		t.Fatalf("restart: %v: %s", err, out)
	}
	sawGap := false
	for {
		e := next(t, s)
		if e.GetGap() != nil {
			sawGap = true
			continue
		}
		if e.GetEpoch() != before.GetEpoch() {
			break
		}
	}
	if s.Reconnects() < 1 || !sawGap {
		t.Fatalf("reconnects = %d, gap seen = %v; want a resume into the new epoch, starting with a gap", s.Reconnects(), sawGap)
	}
	reply, err := b.Send(ctx, &bridgev1.SendDeviceRequestRequest{DeviceId: device, RequestId: NewRequestID(),
		Command: UpgradeDevice(""), Wait: bridgev1.WaitMode_WAIT_MODE_RESULT})
	if err != nil || reply.GetStatus() != bridgev1.RequestStatus_REQUEST_STATUS_SUCCEEDED {
		t.Fatalf("Send after the restart = %v, %v", reply, err)
	}
}

func TestE2EFleetJobOverTheDeviceCompletesAndWatchSeesItsOutcome(t *testing.T) {
	device := e2eEnv(t, "HIVE_DEVICE_ID")
	b := dial(t, e2eEnv(t, "HIVE_BRIDGE_TARGET"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := &bridgev1.StartJobRequest{
		Target:   &bridgev1.JobTarget{Target: &bridgev1.JobTarget_Devices{Devices: &bridgev1.JobDeviceList{DeviceIds: []string{device}}}},
		Command:  UpgradeDevice("2.1.0"),
		Wait:     bridgev1.WaitMode_WAIT_MODE_RESULT,
		QueueTtl: durationpb.New(time.Minute),
		Rollout: &bridgev1.JobRollout{MaxRate: 10,
			Waves: []*bridgev1.JobWave{{Percent: 50}, {Percent: 100}},
			Abort: &bridgev1.JobAbortRule{MaxFailureRatio: 0.5}},
		DryRun: true,
	}
	dry, err := b.StartJob(ctx, req)
	if err != nil || len(dry.GetDeviceIds()) != 1 || dry.GetDeviceIds()[0] != device {
		t.Fatalf("dry run: %v %v", dry, err)
	}
	req.DryRun = false
	started, err := b.StartJob(ctx, req)
	if err != nil {
		t.Fatalf("StartJob: %v", err)
	}
	jobID := started.GetJob().GetJobId()
	w := b.WatchJob(ctx, jobID, 0)
	var outcomes []*bridgev1.JobDeviceOutcome
	for {
		change, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("WatchJob: %v", err)
		}
		if change.GetOutcome() != nil {
			outcomes = append(outcomes, change.GetOutcome())
		}
	}
	if len(outcomes) != 1 || outcomes[0].GetDeviceId() != device ||
		outcomes[0].GetStatus() != bridgev1.RequestStatus_REQUEST_STATUS_SUCCEEDED {
		t.Errorf("outcomes %v, want the device SUCCEEDED", outcomes)
	}
	if w.Job().GetState() != bridgev1.JobState_JOB_STATE_COMPLETED {
		t.Errorf("watch ended on %v", w.Job().GetState())
	}
	job, err := b.GetJob(ctx, jobID)
	if err != nil || job.GetState() != bridgev1.JobState_JOB_STATE_COMPLETED || job.GetCounters().GetSucceeded() != 1 {
		t.Errorf("GetJob: %v %v", job, err)
	}
	jobs, err := b.ListJobs(ctx, &bridgev1.ListJobsRequest{States: []bridgev1.JobState{bridgev1.JobState_JOB_STATE_COMPLETED}})
	found := false
	for _, j := range jobs {
		found = found || j.GetJobId() == jobID
	}
	if err != nil || !found {
		t.Errorf("ListJobs does not list %s: %v", jobID, err)
	}
	if cancelled, err := b.CancelJob(ctx, jobID); err != nil || cancelled.GetState() != bridgev1.JobState_JOB_STATE_COMPLETED {
		t.Errorf("CancelJob of an ended job: %v %v", cancelled, err)
	}
	if _, err := b.GetJob(ctx, NewRequestID()); status.Code(err) != codes.NotFound {
		t.Errorf("GetJob of an unknown job: %v, want NotFound", err)
	}
}

// slowBurst is 2,000 events (~500 KB: far over gRPC's flow-control window
// and the extra bridge's --subscriber-queue=8), marked 0 ... 1,999.
const slowBurst = 2000

// readSlowBurst subscribes on the harness's extra bridge to a device of its
// own (HIVE_EXTRA_DEVICE_COMMAND), reads its first warm-up event (the stream
// is open at the bridge), lets it send the burst while reading nothing, then
// reads up to the burst's last marker: the markers in order and the gaps.
func readSlowBurst(t *testing.T, opts ...grpc.CallOption) ([]int, []*bridgev1.Gap, *Subscription) {
	command := e2eEnv(t, "HIVE_EXTRA_DEVICE_COMMAND")
	b := dial(t, e2eEnv(t, "HIVE_EXTRA_TARGET"))
	device := NewRequestID() // a UUID: a device of this test's own
	cmd := exec.Command("sh", "-c", command+" "+device+" "+strconv.Itoa(slowBurst))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	s := b.Subscribe(ctx, &bridgev1.SubscribeEventsRequest{DeviceIds: []string{device},
		Types: []string{"sdk-warm", "sdk-burst"}}, opts...)
	if e := next(t, s); e.GetType() != "sdk-warm" {
		t.Fatalf("first event %v, want a warm-up", e)
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the device command: %v", err)
	}
	var markers []int
	var gaps []*bridgev1.Gap
	for len(markers) == 0 || markers[len(markers)-1] != slowBurst-1 {
		e := next(t, s)
		if e.GetGap() != nil {
			gaps = append(gaps, e.GetGap())
		} else if e.GetType() == "sdk-burst" {
			markers = append(markers, int(e.GetExtra().GetFields()["marker"].GetNumberValue()))
		}
	}
	return markers, gaps, s
}

func TestE2ESlowSubscriberGapIsRecoveredFromHistory(t *testing.T) {
	markers, gaps, s := readSlowBurst(t)
	t.Logf("%d markers, %d gaps, %d gap recoveries", len(markers), len(gaps), s.GapRecoveries())
	if len(gaps) != 0 {
		t.Fatalf("gaps returned: %v", gaps)
	}
	for i, m := range markers {
		if m != i {
			t.Fatalf("marker %d is %d (%d markers): every marker once, in order", i, m, len(markers))
		}
	}
	if len(markers) != slowBurst || s.GapRecoveries() < 1 || s.Reconnects() != 0 {
		t.Fatalf("%d markers, %d gap recoveries, %d reconnects; want %d, >= 1, 0",
			len(markers), s.GapRecoveries(), s.Reconnects(), slowBurst)
	}
}

func TestE2EWithoutGapRecoveryTheSlowSubscriberGapIsReturned(t *testing.T) {
	markers, gaps, s := readSlowBurst(t, RecoverGaps(false))
	t.Logf("%d markers, gaps %v", len(markers), gaps)
	if len(gaps) == 0 || len(markers) >= slowBurst || s.GapRecoveries() != 0 {
		t.Fatalf("%d gaps, %d markers, %d recoveries: want the overflow's gap and markers missing",
			len(gaps), len(markers), s.GapRecoveries())
	}
	for _, g := range gaps {
		if g.GetReason() != bridgev1.GapReason_GAP_REASON_SLOW_SUBSCRIBER {
			t.Fatalf("gap %v, want a slow subscriber's", g)
		}
	}
}
