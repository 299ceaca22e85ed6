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

// StartJob starts a fleet job (FleetJobs.StartJob: one command to many
// devices, paced, in waves, with an abort rule; the bridge needs
// --state-dir), or with req.DryRun returns the devices it would select
// (StartJobResponse.DeviceIds). With req.JobId set, starting it again
// returns the same job. Not retried: set JobId and call again to retry.
func (b *Bridge) StartJob(ctx context.Context, req *bridgev1.StartJobRequest,
	opts ...grpc.CallOption) (*bridgev1.StartJobResponse, error) {
	ctx, cancel := b.withDefaultTimeout(ctx)
	defer cancel()
	return b.Jobs.StartJob(ctx, req, opts...)
}

// GetJob returns the job as it stands (state, wave, counters); NotFound for
// an unknown job id.
func (b *Bridge) GetJob(ctx context.Context, jobID string, opts ...grpc.CallOption) (*bridgev1.Job, error) {
	ctx, cancel := b.withDefaultTimeout(ctx)
	defer cancel()
	reply, err := b.Jobs.GetJob(ctx, &bridgev1.GetJobRequest{JobId: jobID}, opts...)
	return reply.GetJob(), err
}

// ListJobs returns every job the request matches (req.States; nil for all),
// newest first, all pages.
func (b *Bridge) ListJobs(ctx context.Context, req *bridgev1.ListJobsRequest,
	opts ...grpc.CallOption) ([]*bridgev1.Job, error) {
	ctx, cancel := b.withDefaultTimeout(ctx)
	defer cancel()
	page := &bridgev1.ListJobsRequest{}
	if req != nil {
		page = proto.Clone(req).(*bridgev1.ListJobsRequest)
	}
	var jobs []*bridgev1.Job
	for {
		reply, err := b.Jobs.ListJobs(ctx, page, opts...)
		if err != nil {
			return jobs, err
		}
		jobs = append(jobs, reply.GetJobs()...)
		if reply.GetNextPageToken() == "" {
			return jobs, nil
		}
		page.PageToken = reply.GetNextPageToken()
	}
}

// CancelJob stops a running job (no device is sent its command after it
// returns; its queued requests are cancelled) and returns it; a job that
// already ended is returned as it is.
func (b *Bridge) CancelJob(ctx context.Context, jobID string, opts ...grpc.CallOption) (*bridgev1.Job, error) {
	ctx, cancel := b.withDefaultTimeout(ctx)
	defer cancel()
	reply, err := b.Jobs.CancelJob(ctx, &bridgev1.CancelJobRequest{JobId: jobID}, opts...)
	return reply.GetJob(), err
}

// JobWatch is a job's changes (WatchJob): the job, then each device's
// outcome and each change of its state, until the job ends: then Next
// returns io.EOF. A broken stream (the bridge restarted, the network
// dropped) is reopened after the last sequence Next returned, as a
// Subscription is; errors a new stream cannot fix (NotFound, a wrong token)
// are returned by Next, as is ctx's end.
type JobWatch struct {
	b       *Bridge
	ctx     context.Context
	request *bridgev1.WatchJobRequest
	opts    []grpc.CallOption

	mu         sync.Mutex
	sequence   uint64
	job        *bridgev1.Job
	reconnects int

	stream   bridgev1.FleetJobs_WatchJobClient
	cancel   context.CancelFunc
	failures int
	ended    bool
}

// WatchJob returns a JobWatch of the job, starting after resumeAfter (0:
// from the start). It lives until the job ends or ctx does.
func (b *Bridge) WatchJob(ctx context.Context, jobID string, resumeAfter uint64, opts ...grpc.CallOption) *JobWatch {
	return &JobWatch{b: b, ctx: ctx, request: &bridgev1.WatchJobRequest{JobId: jobID, ResumeAfter: resumeAfter},
		sequence: resumeAfter, opts: opts}
}

// Sequence is the sequence of the last message Next returned (resume a
// later watch after it).
func (w *JobWatch) Sequence() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sequence
}

// Job is the job as of the last message Next returned; nil before the first.
func (w *JobWatch) Job() *bridgev1.Job {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.job
}

// Reconnects is how many times the watch resumed on a new stream.
func (w *JobWatch) Reconnects() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reconnects
}

// Next blocks for the next change; io.EOF once the job ended and every
// change was returned.
func (w *JobWatch) Next() (*bridgev1.WatchJobResponse, error) {
	for {
		if w.ended {
			return nil, io.EOF
		}
		if err := w.ctx.Err(); err != nil {
			w.close()
			return nil, err
		}
		if w.stream == nil {
			if err := w.open(); err != nil {
				return nil, err
			}
		}
		reply, err := w.stream.Recv()
		if err == nil {
			w.failures = 0
			w.mu.Lock()
			w.sequence, w.job = reply.GetSequence(), reply.GetJob()
			w.mu.Unlock()
			return reply, nil
		}
		w.close()
		if w.ctx.Err() != nil {
			return nil, w.ctx.Err()
		}
		if err == io.EOF { // the bridge ended the stream OK: the job ended
			w.ended = true
			return nil, io.EOF
		}
		if !resumable(status.Code(err)) {
			return nil, err
		}
		w.failures++
		w.mu.Lock()
		w.reconnects++
		w.mu.Unlock()
		failures := w.failures
		if failures > 8 {
			failures = 8
		}
		if err := w.b.sleep(w.ctx, w.b.opts.retry.backoff(failures)); err != nil {
			return nil, err
		}
	}
}

func (w *JobWatch) open() error {
	request := proto.Clone(w.request).(*bridgev1.WatchJobRequest)
	w.mu.Lock()
	request.ResumeAfter = w.sequence
	resuming := w.reconnects > 0
	w.mu.Unlock()
	ctx, cancel := context.WithCancel(w.ctx)
	// A resumed stream waits for the bridge to be back instead of failing fast.
	opts := append([]grpc.CallOption{grpc.WaitForReady(resuming)}, w.opts...)
	stream, err := w.b.Jobs.WatchJob(ctx, request, opts...)
	if err != nil {
		cancel()
		return err
	}
	w.stream, w.cancel = stream, cancel
	return nil
}

// Close ends the watch's current stream. Cancelling the context is the
// usual way to end a watch early.
func (w *JobWatch) Close() { w.close() }

func (w *JobWatch) close() {
	if w.cancel != nil {
		w.cancel()
	}
	w.stream, w.cancel = nil, nil
}
