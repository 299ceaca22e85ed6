package hivebridge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

// Option configures Dial.
type Option func(*options)

type options struct {
	token   string
	tls     *tls.Config
	timeout time.Duration
	retry   RetryPolicy
	dial    []grpc.DialOption
}

func defaultOptions() options {
	return options{timeout: 30 * time.Second, retry: DefaultRetryPolicy}
}

// WithToken sends `authorization: Bearer <token>` on every call, the
// credential the bridge's --backend-policy-file knows the backend by. Over
// a plaintext connection it travels in the clear: use TLS off loopback.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithTLS connects over TLS with this configuration (RootCAs for a private
// CA, Certificates for mTLS, ServerName to override the name checked).
// Without it the connection is plaintext.
func WithTLS(config *tls.Config) Option { return func(o *options) { o.tls = config } }

// WithTimeout sets the default deadline of each unary call (retries
// included) when the caller's context has none; 30 s by default.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithRetryPolicy replaces DefaultRetryPolicy for Send with a request id.
func WithRetryPolicy(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithDialOptions adds gRPC dial options (interceptors, a custom dialer...).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dial = append(o.dial, opts...) }
}

// TLSConfigFromCA is a client TLS configuration that trusts only the CA
// certificates in caPEM; serverName, when not empty, is the name the
// bridge's certificate must carry (instead of the dialled host).
func TLSConfigFromCA(caPEM []byte, serverName string) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("hivebridge: no PEM certificate in the CA data")
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}, nil
}

// keepaliveParams: while a call is open (a subscription), ping after 60 s
// without traffic so a dead bridge is noticed and the stream resumes. Never
// sooner than the bridge's --grpc-min-ping-interval (30 s), and never on an
// idle connection: the bridge counts those pings as strikes and closes.
var keepaliveParams = keepalive.ClientParameters{Time: 60 * time.Second, Timeout: 20 * time.Second}

// bearer is per-call credentials carrying the token.
type bearer struct {
	token  string
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity is false so that a token also works against a
// plaintext bridge on loopback; WithToken's comment warns about the rest.
func (b bearer) RequireTransportSecurity() bool { return false }

func (o options) dialOptions() []grpc.DialOption {
	opts := []grpc.DialOption{grpc.WithKeepaliveParams(keepaliveParams)}
	if o.tls != nil {
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(o.tls)))
	} else {
		// gRPC 1.33 (Debian bookworm's) has no credentials/insecure yet.
		opts = append(opts, grpc.WithInsecure()) //nolint:staticcheck
	}
	if o.token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: o.token}))
	}
	return append(opts, o.dial...)
}
