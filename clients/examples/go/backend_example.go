// Command backend-example is a hivebridge backend in Go on the Go SDK
// (clients/go): it lists devices, stops an app and waits for the device's
// result, reads the device's twin, queues a command for an offline device
// and cancels it, follows events and resumes after a disconnect.
//
//	backend-example --server 127.0.0.1:9090 --device d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b
//
// --token and --ca call a bridge with a backend policy and TLS.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	hivebridge "github.com/hivebridge/hivebridge/clients/go"
	bridgev1 "github.com/hivebridge/hivebridge/clients/go/gen/hive/bridge/v1"
)

func main() {
	server := flag.String("server", "127.0.0.1:9090", "hivebridge gRPC `host:port`")
	device := flag.String("device", "", "device `UUID` to send the request to (required)")
	token := flag.String("token", "", "bearer `token` of this backend (--backend-policy-file)")
	ca := flag.String("ca", "", "PEM `file` of the CA that signed the bridge's certificate (enables TLS)")
	flag.Parse()
	if *device == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "backend-example: --device UUID is required; no other arguments")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*server, *device, *token, *ca); err != nil {
		fmt.Fprintln(os.Stderr, "backend-example:", err)
		os.Exit(1)
	}
	fmt.Println("example ok")
}

func run(server, device, token, ca string) error {
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

	// 1. Which devices are connected?
	devices, err := b.ListDevices(ctx, nil)
	if err != nil {
		return fmt.Errorf("ListDevices: %w", err)
	}
	found := false
	for _, d := range devices {
		fmt.Printf("device %s account=%s address=%s\n", d.GetDeviceId(), d.GetAccountId(), d.GetAddress())
		found = found || d.GetDeviceId() == device
	}
	if !found {
		return fmt.Errorf("device %s is not connected", device)
	}

	// 2. Stop an app instance and wait for the device's result.
	stop := hivebridge.SchedulerAction(bridgev1.SchedulerAction_ACTION_STOP, "ad51b914-688a-4a5f-a073-5c5121a010e2",
		&bridgev1.Application{Appstore: proto.String("Fractal App Store"), Name: proto.String("wikijs"),
			Version: proto.String("latest")})
	res, err := b.Send(ctx, &bridgev1.SendDeviceRequestRequest{
		DeviceId:  device,
		RequestId: hivebridge.NewRequestID(), // idempotency key: retried safely, never sent twice
		Wait:      bridgev1.WaitMode_WAIT_MODE_RESULT,
		Command:   stop,
	})
	if err != nil {
		return fmt.Errorf("SendDeviceRequest: %s %s", status.Code(err), status.Convert(err).Message())
	}
	// encoding/json sorts map keys, so the line is stable across runs.
	result, err := json.Marshal(res.GetResult().AsMap())
	if err != nil {
		return fmt.Errorf("result: %w", err)
	}
	fmt.Printf("status %s\n", res.GetStatus())
	fmt.Printf("result %s\n", result)
	if res.GetStatus() != bridgev1.RequestStatus_REQUEST_STATUS_SUCCEEDED {
		return fmt.Errorf("unexpected status %s: %s", res.GetStatus(), res.GetError())
	}

	// 3. The device's twin: what the bridge remembers of it, online or not.
	twin, err := b.GetDevice(ctx, device)
	if err != nil {
		return fmt.Errorf("GetDevice: %w", err)
	}
	fmt.Printf("twin online=%t protocol=%s replica=%s\n", twin.GetOnline(), twin.GetProtocol(), twin.GetReplica())

	// 4. A command for an offline device waits in the bridge's queue
	// (QueueTtl) and is delivered when it connects; until then it can be
	// looked up and cancelled.
	offline := hivebridge.NewRequestID() // any UUID: a device the bridge has not seen
	queued, err := b.Send(ctx, &bridgev1.SendDeviceRequestRequest{
		DeviceId:  offline,
		RequestId: hivebridge.NewRequestID(),
		Command:   hivebridge.UpgradeDevice(""),
		QueueTtl:  durationpb.New(time.Hour),
	})
	if err != nil {
		return fmt.Errorf("SendDeviceRequest (queued): %s %s", status.Code(err), status.Convert(err).Message())
	}
	fmt.Printf("queued %s for %s: %s\n", queued.GetRequestId(), offline, queued.GetStatus())
	cancelled, err := b.CancelRequest(ctx, queued.GetRequestId())
	if err != nil {
		return fmt.Errorf("CancelRequest: %w", err)
	}
	fmt.Printf("cancelled: %s\n", cancelled.GetStatus())
	if cancelled.GetStatus() != bridgev1.RequestStatus_REQUEST_STATUS_CANCELLED {
		return fmt.Errorf("the queued request was not cancelled")
	}

	// 5. Follow events, disconnect, and resume after the last one seen.
	first, position, err := readEvents(b, 2, nil)
	if err != nil {
		return err
	}
	for _, e := range first {
		fmt.Println(describe(e))
	}
	fmt.Printf("disconnected at epoch=%s sequence=%d\n", position.GetEpoch(), position.GetSequence())
	resumed, _, err := readEvents(b, 1, position)
	if err != nil {
		return err
	}
	fmt.Println("resumed " + describe(resumed[0]))
	if resumed[0].GetSequence() <= position.GetSequence() {
		return fmt.Errorf("resumed at sequence %d, not after %d", resumed[0].GetSequence(), position.GetSequence())
	}
	return nil
}

// readEvents subscribes, reads n events, then ends the subscription (a
// disconnect); it returns them and the position to resume after.
func readEvents(b *hivebridge.Bridge, n int, resumeAfter *bridgev1.StreamPosition) ([]*bridgev1.DeviceEvent, *bridgev1.StreamPosition, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s := b.Subscribe(ctx, &bridgev1.SubscribeEventsRequest{ResumeAfter: resumeAfter})
	var events []*bridgev1.DeviceEvent
	for len(events) < n {
		e, err := s.Next()
		if err != nil {
			return nil, nil, fmt.Errorf("SubscribeEvents: %w", err)
		}
		events = append(events, e)
	}
	return events, s.Position(), nil
}

func describe(e *bridgev1.DeviceEvent) string {
	kind := e.GetType()
	if kind == "" {
		// An event without a type is still named by the field set in its body.
		m := e.ProtoReflect()
		if f := m.WhichOneof(m.Descriptor().Oneofs().ByName("body")); f != nil {
			kind = string(f.Name())
		}
	}
	return fmt.Sprintf("event seq=%d epoch=%s type=%s device=%s", e.GetSequence(), e.GetEpoch(), kind, e.GetDeviceId())
}
