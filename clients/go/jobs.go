package hivebridge

import (
	"context"
	"sync"

	"google.golang.org/grpc"
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
// newest first, all pages. A listed job's spec has no explicit device list
// (GetJob has it).
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
	request *bridgev1.WatchJobRequest
	stream  *resumingStream[*bridgev1.WatchJobResponse]

	mu       sync.Mutex
	sequence uint64
	job      *bridgev1.Job
}

// WatchJob returns a JobWatch of the job, starting after resumeAfter (0:
// from the start). It lives until the job ends or ctx does.
func (b *Bridge) WatchJob(ctx context.Context, jobID string, resumeAfter uint64, opts ...grpc.CallOption) *JobWatch {
	w := &JobWatch{request: &bridgev1.WatchJobRequest{JobId: jobID, ResumeAfter: resumeAfter}, sequence: resumeAfter}
	w.stream = &resumingStream[*bridgev1.WatchJobResponse]{b: b, ctx: ctx, opts: opts, open: w.open,
		endsWithStream: true}
	return w
}

// Sequence is the sequence of the last message Next returned (resume a
// later watch after it).
func (w *JobWatch) Sequence() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sequence
}

// Job is the job as of the last message Next returned, without its spec
// (GetJob has it); nil before the first.
func (w *JobWatch) Job() *bridgev1.Job {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.job
}

// Reconnects is how many times the watch resumed on a new stream.
func (w *JobWatch) Reconnects() int { return w.stream.Reconnects() }

// Next blocks for the next change; io.EOF once the job ended and every
// change was returned.
func (w *JobWatch) Next() (*bridgev1.WatchJobResponse, error) {
	reply, err := w.stream.next()
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.sequence, w.job = reply.GetSequence(), reply.GetJob()
	w.mu.Unlock()
	return reply, nil
}

// open starts a stream after the last sequence returned.
func (w *JobWatch) open(ctx context.Context, opts ...grpc.CallOption) (receiver[*bridgev1.WatchJobResponse], error) {
	request := proto.Clone(w.request).(*bridgev1.WatchJobRequest)
	w.mu.Lock()
	request.ResumeAfter = w.sequence
	w.mu.Unlock()
	return w.stream.b.Jobs.WatchJob(ctx, request, opts...)
}

// Close ends the watch's current stream. Cancelling the context is the
// usual way to end a watch early.
func (w *JobWatch) Close() { w.stream.close() }
