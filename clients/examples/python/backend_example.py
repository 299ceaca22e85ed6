#!/usr/bin/python3
"""A hivebridge backend in Python: list devices, stop an app and wait for the
device's result, follow events and resume after a disconnect.

Run with Debian's python3 (python3-grpcio, python3-protobuf; protoc from
protobuf-compiler and grpc_python_plugin from protobuf-compiler-grpc):

    /usr/bin/python3 clients/examples/python/backend_example.py \
        --server 127.0.0.1:9090 --device d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b

The stubs are generated at start-up from proto/ into a temporary directory
(nothing generated is written to the repository); see generate_stubs.
"""

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "..", "proto"))
PROTO_FILES = ["hive/bridge/v1/commands.proto", "hive/bridge/v1/events.proto",
               "hive/bridge/v1/device_bridge.proto"]


def generate_stubs(proto_dir, out_dir):
    """Runs protoc on the API into out_dir; returns the imported modules.

    The API uses proto3 `optional`, which needs protoc >= 3.15. Debian's
    python3-grpc-tools bundles protoc 3.5, so by default this uses Debian's
    protoc (protobuf-compiler 3.21, matching python3-protobuf) with
    grpc_python_plugin (protobuf-compiler-grpc, matching python3-grpcio),
    and grpc_tools.protoc only when its bundled protoc is new enough.
    """
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if protoc and plugin:
        cmd = [protoc, "-I", proto_dir, "--plugin=protoc-gen-grpc_python=" + plugin,
               "--python_out=" + out_dir, "--grpc_python_out=" + out_dir]
        cmd += [os.path.join(proto_dir, f) for f in PROTO_FILES]
        rc = subprocess.call(cmd)
    else:
        import grpc_tools
        from grpc_tools import protoc as grpc_tools_protoc
        well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        cmd = ["grpc_tools.protoc", "-I", proto_dir, "-I", well_known,
               "--python_out=" + out_dir, "--grpc_python_out=" + out_dir]
        cmd += [os.path.join(proto_dir, f) for f in PROTO_FILES]
        rc = grpc_tools_protoc.main(cmd)
    if rc != 0:
        raise SystemExit("protoc failed on %s (needs protoc >= 3.15 for proto3 optional)" % proto_dir)
    sys.path.insert(0, out_dir)
    pb2 = importlib.import_module("hive.bridge.v1.device_bridge_pb2")
    grpc_pb2 = importlib.import_module("hive.bridge.v1.device_bridge_pb2_grpc")
    commands = importlib.import_module("hive.bridge.v1.commands_pb2")
    return pb2, grpc_pb2, commands


def read_events(stub, pb2, n, resume_after=None, timeout=15.0):
    """Subscribes, reads n events, then cancels the stream (a disconnect)."""
    request = pb2.SubscribeEventsRequest()
    if resume_after is not None:
        request.resume_after.epoch = resume_after[0]
        request.resume_after.sequence = resume_after[1]
    call = stub.SubscribeEvents(request, timeout=timeout)
    events = []
    try:
        for response in call:
            events.append(response.event)
            if len(events) == n:
                break
    finally:
        call.cancel()
    if len(events) < n:
        raise SystemExit("stream ended after %d of %d events" % (len(events), n))
    return events


def describe(event):
    return "event seq=%d epoch=%s type=%s device=%s" % (
        event.sequence, event.epoch, event.type or event.WhichOneof("body"), event.device_id)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="127.0.0.1:9090", help="hivebridge gRPC host:port")
    parser.add_argument("--device", required=True, help="device UUID to send the request to")
    parser.add_argument("--proto-dir", default=DEFAULT_PROTO_DIR, help="root of the .proto files")
    args = parser.parse_args()

    out_dir = tempfile.mkdtemp(prefix="hive-py-stubs-")
    try:
        pb2, pb2_grpc, commands = generate_stubs(args.proto_dir, out_dir)
        with grpc.insecure_channel(args.server) as channel:
            stub = pb2_grpc.DeviceBridgeStub(channel)

            # 1. Which devices are connected?
            devices = stub.ListDevices(pb2.ListDevicesRequest(), timeout=10).devices
            for d in devices:
                print("device %s account=%s address=%s" % (d.device_id, d.account_id, d.address))
            if not any(d.device_id == args.device for d in devices):
                raise SystemExit("device %s is not connected" % args.device)

            # 2. Stop an app instance and wait for the device's result.
            request = pb2.SendDeviceRequestRequest(
                device_id=args.device,
                request_id=str(uuid.uuid4()),  # idempotency key: retries never send twice
                wait=pb2.WAIT_MODE_RESULT,
                command=commands.Command(scheduler_action=commands.SchedulerAction(
                    action=commands.SchedulerAction.ACTION_STOP,
                    instance="ad51b914-688a-4a5f-a073-5c5121a010e2",
                    application=commands.Application(
                        appstore="Fractal App Store", name="wikijs", version="latest"))))
            try:
                response = stub.SendDeviceRequest(request, timeout=15)
            except grpc.RpcError as e:
                raise SystemExit("SendDeviceRequest failed: %s %s" % (e.code().name, e.details()))
            status = pb2.RequestStatus.Name(response.status)
            print("status %s" % status)
            print("result %s" % dict(response.result))
            if response.status != pb2.REQUEST_STATUS_SUCCEEDED:
                raise SystemExit("unexpected status %s: %s" % (status, response.error))

            # 3. Follow events, disconnect, and resume after the last one seen.
            first = read_events(stub, pb2, 2)
            for e in first:
                print(describe(e))
            position = (first[-1].epoch, first[-1].sequence)
            print("disconnected at epoch=%s sequence=%d" % position)
            resumed = read_events(stub, pb2, 1, resume_after=position)[0]
            print("resumed " + describe(resumed))
            if resumed.sequence <= position[1]:
                raise SystemExit("resumed at sequence %d, not after %d" % (resumed.sequence, position[1]))
        print("example ok")
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
