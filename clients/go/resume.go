package hivebridge

import (
	"context"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// receiver is a server stream as resumingStream reads it: a
// DeviceBridge_SubscribeEventsClient, a FleetJobs_WatchJobClient.
type receiver[R any] interface {
	Recv() (R, error)
}

// resumingStream is the reconnect loop Subscription and JobWatch share:
// one stream at a time, opened by `open` from where the caller's last reply
// left off; a stream that breaks for a reason a new one can fix (resumable)
// is reopened with backoff, and a resumed one waits for the bridge to be
// back instead of failing fast. The caller keeps its own resume point (an
// event position, a job sequence), which `open` reads and each reply
// advances.
type resumingStream[R any] struct {
	b    *Bridge
	ctx  context.Context
	opts []grpc.CallOption
	// open starts a stream under ctx with opts, resuming after the last
	// reply returned.
	open func(ctx context.Context, opts ...grpc.CallOption) (receiver[R], error)
	// endsWithStream: the bridge ends the stream OK only when nothing more
	// will come (WatchJob: the job ended), so io.EOF is the end; otherwise
	// (SubscribeEvents) a stream that ends OK is reopened like a broken one.
	endsWithStream bool

	mu         sync.Mutex
	reconnects int

	stream   receiver[R]
	cancel   context.CancelFunc
	failures int
	ended    bool
}

// Reconnects is how many times the stream was reopened.
func (r *resumingStream[R]) Reconnects() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconnects
}

// next blocks for the next reply; io.EOF once an endsWithStream stream
// ended, ctx's error once it ended, or an error a new stream cannot fix.
func (r *resumingStream[R]) next() (R, error) {
	var none R
	for {
		if r.ended {
			return none, io.EOF
		}
		if err := r.ctx.Err(); err != nil {
			r.close()
			return none, err
		}
		if r.stream == nil {
			if err := r.openStream(); err != nil {
				return none, err
			}
		}
		reply, err := r.stream.Recv()
		if err == nil {
			r.failures = 0
			return reply, nil
		}
		r.close()
		if r.ctx.Err() != nil {
			return none, r.ctx.Err()
		}
		if err == io.EOF && r.endsWithStream {
			r.ended = true
			return none, io.EOF
		}
		if err != io.EOF && !resumable(status.Code(err)) {
			return none, err
		}
		r.failures++
		r.mu.Lock()
		r.reconnects++
		r.mu.Unlock()
		failures := r.failures
		if failures > 8 {
			failures = 8
		}
		if err := r.b.sleep(r.ctx, r.b.opts.retry.backoff(failures)); err != nil {
			return none, err
		}
	}
}

func (r *resumingStream[R]) openStream() error {
	r.mu.Lock()
	resuming := r.reconnects > 0
	r.mu.Unlock()
	ctx, cancel := context.WithCancel(r.ctx)
	// A resumed stream waits for the bridge to be back instead of failing fast.
	opts := append([]grpc.CallOption{grpc.WaitForReady(resuming)}, r.opts...)
	stream, err := r.open(ctx, opts...)
	if err != nil {
		cancel()
		return err
	}
	r.stream, r.cancel = stream, cancel
	return nil
}

func (r *resumingStream[R]) close() {
	if r.cancel != nil {
		r.cancel()
	}
	r.stream, r.cancel = nil, nil
}
