package hivebridge

import (
	"math"
	"math/rand"
	"time"

	"google.golang.org/grpc/codes"
)

// RetryPolicy is how Send retries a request that has a request id.
//
// Only such a request is retried: the bridge never delivers one request id
// twice (a retry joins the request in flight or gets its stored outcome).
// Retried codes: UNAVAILABLE (not delivered, or the bridge is restarting)
// and RESOURCE_EXHAUSTED (a limit bit). ABORTED is not: the device may have
// the request, and the bridge answers ABORTED again until it answers. All
// attempts share the call's deadline.
type RetryPolicy struct {
	MaxAttempts    int
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	Multiplier     float64
}

// DefaultRetryPolicy: 5 attempts, 100 ms backoff doubling up to 5 s, jittered.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 5, InitialBackoff: 100 * time.Millisecond,
	MaxBackoff: 5 * time.Second, Multiplier: 2}

// backoff is the pause before retry number attempt (1 = the first retry):
// full jitter below the exponential ceiling.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	ceiling := float64(p.InitialBackoff) * math.Pow(p.Multiplier, float64(attempt-1))
	if ceiling > float64(p.MaxBackoff) {
		ceiling = float64(p.MaxBackoff)
	}
	return time.Duration(rand.Float64() * ceiling)
}

func retryable(c codes.Code) bool {
	return c == codes.Unavailable || c == codes.ResourceExhausted
}

// resumable codes end a subscription's stream for a reason a new stream can
// fix: the bridge went away or restarted, or --max-subscribers bit.
func resumable(c codes.Code) bool {
	return c == codes.Unavailable || c == codes.ResourceExhausted || c == codes.Canceled ||
		c == codes.Internal
}
