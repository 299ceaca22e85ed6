// Command staged-rollout is a staged rollout in Go on the Go SDK
// (clients/go): one command to every connected device (of an account, with
// --account) as a fleet job, in two waves (10 %, then the rest after a
// pause) with an abort rule, watched to its end; it prints each device's
// outcome and the job's counters. Fleet jobs need a bridge with --state-dir.
//
//	staged-rollout --server 127.0.0.1:9090
//
// --token and --ca call a bridge with a backend policy and TLS.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	hivebridge "github.com/hivebridge/hivebridge/clients/go"
	bridgev1 "github.com/hivebridge/hivebridge/clients/go/gen/hive/bridge/v1"
)

func main() {
	server := flag.String("server", "127.0.0.1:9090", "hivebridge gRPC `host:port`")
	account := flag.String("account", "", "only this account's `UUID` devices")
	device := flag.String("device", "", "a device `UUID` that must be among the selected (a check)")
	token := flag.String("token", "", "bearer `token` of this backend (--backend-policy-file)")
	ca := flag.String("ca", "", "PEM `file` of the CA that signed the bridge's certificate (enables TLS)")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*server, *account, *device, *token, *ca); err != nil {
		fmt.Fprintln(os.Stderr, "staged-rollout:", err)
		os.Exit(1)
	}
	fmt.Println("example ok")
}

func counters(job *bridgev1.Job) string {
	c := job.GetCounters()
	return fmt.Sprintf("%d/%d succeeded, %d failed, %d expired, %d skipped, %d in flight, %d queued, %d pending",
		c.GetSucceeded(), c.GetSelected(), c.GetFailed(), c.GetExpired(), c.GetSkipped(), c.GetInFlight(),
		c.GetQueued(), c.GetPending())
}

func run(server, account, device, token, ca string) error {
	opts := []hivebridge.Option{hivebridge.WithTimeout(15 * time.Second)}
	if token != "" {
		opts = append(opts, hivebridge.WithToken(token))
	}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return err
		}
		tlsConfig, err := hivebridge.TLSConfigFromCA(pem, "")
		if err != nil {
			return err
		}
		opts = append(opts, hivebridge.WithTLS(tlsConfig))
	}
	b, err := hivebridge.Dial(server, opts...)
	if err != nil {
		return err
	}
	defer b.Close()
	ctx := context.Background()

	command, err := hivebridge.DeviceCommand(bridgev1.DeviceCommand_ACTION_CHECK_DISK_SPACE, nil)
	if err != nil {
		return err
	}
	req := &bridgev1.StartJobRequest{
		JobId: hivebridge.NewRequestID(), // the idempotency key: starting it again returns this job
		Target: &bridgev1.JobTarget{Target: &bridgev1.JobTarget_Selector{Selector: &bridgev1.DeviceSelector{
			AccountId: account, Presence: bridgev1.Presence_PRESENCE_ONLINE}}},
		Command:  command,
		Wait:     bridgev1.WaitMode_WAIT_MODE_RESULT,
		QueueTtl: durationpb.New(10 * time.Minute), // a device's request waits 10 min at most
		Rollout: &bridgev1.JobRollout{
			MaxRate: 20, MaxInFlight: 10, // 20 devices a second, 10 awaiting at once
			Waves: []*bridgev1.JobWave{ // 10 %, a 2 s pause, then everyone
				{Percent: 10, PauseAfter: durationpb.New(2 * time.Second)}, {Percent: 100}},
			Abort: &bridgev1.JobAbortRule{Window: 20, MaxFailureRatio: 0.2}, // > 20 % of the last 20 failed
		},
		Description: "staged rollout example",
		DryRun:      true,
	}
	dry, err := b.StartJob(ctx, req)
	if err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	fmt.Printf("dry run: %d devices selected\n", len(dry.GetDeviceIds()))
	if device != "" && !contains(dry.GetDeviceIds(), device) {
		return fmt.Errorf("device %s is not selected", device)
	}

	req.DryRun = false
	started, err := b.StartJob(ctx, req)
	if err != nil {
		return fmt.Errorf("StartJob: %w", err)
	}
	jobID := started.GetJob().GetJobId()
	fmt.Printf("job %s started\n", jobID)
	w := b.WatchJob(ctx, jobID, 0)
	for {
		change, err := w.Next()
		if err == io.EOF { // the job ended
			break
		}
		if err != nil {
			return fmt.Errorf("WatchJob: %w", err)
		}
		if o := change.GetOutcome(); o != nil {
			why := o.GetError()
			if why == "" {
				why = "-"
			}
			fmt.Printf("  %d wave %d %s %s %s\n", change.GetSequence(), o.GetWave(), o.GetDeviceId(), o.GetStatus(), why)
		} else {
			fmt.Printf("  %d %s wave %d\n", change.GetSequence(), change.GetJob().GetState(), change.GetJob().GetWave())
		}
	}
	job, err := b.GetJob(ctx, jobID)
	if err != nil {
		return err
	}
	fmt.Printf("job %s %s: %s\n", jobID, job.GetState(), counters(job))
	if job.GetState() != bridgev1.JobState_JOB_STATE_COMPLETED || job.GetCounters().GetSucceeded() != job.GetCounters().GetSelected() {
		return fmt.Errorf("the rollout did not complete on every device")
	}
	return nil
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
