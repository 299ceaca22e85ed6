// Command backend-example is a hivebridge backend in Go: it lists devices,
// stops an app and waits for the device's result, follows events and resumes
// after a disconnect.
//
//	backend-example --server 127.0.0.1:9090 --device d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b
//
// The hivebridge/gen/hive/bridge/v1 package is generated from proto/ at build
// time (clients/examples/go/CMakeLists.txt; by hand: clients/examples/README.md).
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	bridgev1 "hivebridge/gen/hive/bridge/v1"
)

func main() {
	server := flag.String("server", "127.0.0.1:9090", "hivebridge gRPC `host:port`")
	device := flag.String("device", "", "device `UUID` to send the request to (required)")
	flag.Parse()
	if *device == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "backend-example: --device UUID is required; no other arguments")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*server, *device); err != nil {
		fmt.Fprintln(os.Stderr, "backend-example:", err)
		os.Exit(1)
	}
	fmt.Println("example ok")
}

func run(server, device string) error {
	// gRPC 1.33 (Debian bookworm) predates credentials/insecure.
	conn, err := grpc.Dial(server, grpc.WithInsecure())
	if err != nil {
		return fmt.Errorf("dial %s: %w", server, err)
	}
	defer conn.Close()
	client := bridgev1.NewDeviceBridgeClient(conn)

	// 1. Which devices are connected?
	if err := listDevices(client, device); err != nil {
		return err
	}

	// 2. Stop an app instance and wait for the device's result.
	if err := stopApp(client, device); err != nil {
		return err
	}

	// 3. Follow events, disconnect, and resume after the last one seen.
	first, err := readEvents(client, 2, nil)
	if err != nil {
		return err
	}
	for _, e := range first {
		fmt.Println(describe(e))
	}
	last := first[len(first)-1]
	position := &bridgev1.StreamPosition{Epoch: last.GetEpoch(), Sequence: last.GetSequence()}
	fmt.Printf("disconnected at epoch=%s sequence=%d\n", position.Epoch, position.Sequence)
	resumed, err := readEvents(client, 1, position)
	if err != nil {
		return err
	}
	fmt.Println("resumed " + describe(resumed[0]))
	if resumed[0].GetSequence() <= position.Sequence {
		return fmt.Errorf("resumed at sequence %d, not after %d", resumed[0].GetSequence(), position.Sequence)
	}
	return nil
}

func listDevices(client bridgev1.DeviceBridgeClient, device string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := client.ListDevices(ctx, &bridgev1.ListDevicesRequest{})
	if err != nil {
		return fmt.Errorf("ListDevices: %w", err)
	}
	found := false
	for _, d := range res.GetDevices() {
		fmt.Printf("device %s account=%s address=%s\n", d.GetDeviceId(), d.GetAccountId(), d.GetAddress())
		found = found || d.GetDeviceId() == device
	}
	if !found {
		return fmt.Errorf("device %s is not connected", device)
	}
	return nil
}

func stopApp(client bridgev1.DeviceBridgeClient, device string) error {
	requestID, err := newUUID()
	if err != nil {
		return err
	}
	req := &bridgev1.SendDeviceRequestRequest{
		DeviceId:  device,
		RequestId: requestID, // idempotency key: retries never send twice
		Wait:      bridgev1.WaitMode_WAIT_MODE_RESULT,
		Command: &bridgev1.Command{Kind: &bridgev1.Command_SchedulerAction{
			SchedulerAction: &bridgev1.SchedulerAction{
				Action:   bridgev1.SchedulerAction_ACTION_STOP,
				Instance: proto.String("ad51b914-688a-4a5f-a073-5c5121a010e2"),
				Application: &bridgev1.Application{
					Appstore: proto.String("Fractal App Store"),
					Name:     proto.String("wikijs"),
					Version:  proto.String("latest"),
				},
			},
		}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := client.SendDeviceRequest(ctx, req)
	if err != nil {
		return fmt.Errorf("SendDeviceRequest: %w", err)
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
	return nil
}

// readEvents subscribes, reads n events, then cancels the stream: a disconnect.
func readEvents(client bridgev1.DeviceBridgeClient, n int, resumeAfter *bridgev1.StreamPosition) ([]*bridgev1.DeviceEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	stream, err := client.SubscribeEvents(ctx, &bridgev1.SubscribeEventsRequest{ResumeAfter: resumeAfter})
	if err != nil {
		return nil, fmt.Errorf("SubscribeEvents: %w", err)
	}
	var events []*bridgev1.DeviceEvent
	for len(events) < n {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("stream ended after %d of %d events", len(events), n)
		}
		if err != nil {
			return nil, fmt.Errorf("SubscribeEvents: %w", err)
		}
		events = append(events, res.GetEvent())
	}
	return events, nil
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

// newUUID returns a random (version 4) UUID; Debian's Go packages this example
// builds against do not include a UUID library.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("request id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
