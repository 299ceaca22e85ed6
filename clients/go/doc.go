// Package hivebridge is the Go client of hivebridge's DeviceBridge gRPC API:
// send commands to devices and follow their events, with a subscription that
// resumes by itself after a disconnect or a slow-subscriber gap.
//
//	b, err := hivebridge.Dial("bridge.internal:9443",
//		hivebridge.WithToken(token), hivebridge.WithTLS(tlsConfig))
//	if err != nil { ... }
//	defer b.Close()
//	reply, err := b.Send(ctx, &bridgev1.SendDeviceRequestRequest{
//		DeviceId:  device,
//		RequestId: hivebridge.NewRequestID(), // makes the call safe to retry
//		Command:   hivebridge.DeviceCommand(bridgev1.DeviceCommand_ACTION_CHECK_DISK_SPACE, nil),
//		Wait:      bridgev1.WaitMode_WAIT_MODE_RESULT,
//	})
//	if status.Code(err) == codes.NotFound { ... } // the device is not connected
//
// The generated messages and client are in package bridgev1
// (github.com/hivebridge/hivebridge/clients/go/gen/hive/bridge/v1); Bridge.Client
// gives the raw generated client for anything the helpers do not cover.
// Errors are gRPC status errors: switch on status.Code(err).
package hivebridge
