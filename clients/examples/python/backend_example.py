"""A hivebridge backend in Python on the hivebridge-client SDK: list devices,
stop an app and wait for the device's result, read the device's twin, queue a
command for an offline device and cancel it, follow events and resume after a
disconnect.

Install the SDK (clients/python/README.md), or point PYTHONPATH at
clients/python/src, then:

    python3 clients/examples/python/backend_example.py \\
        --server 127.0.0.1:9090 --device d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b

Add --token and --ca for a bridge with TLS and a backend policy.
"""

import argparse
import uuid

import hivebridge_client as hb
from hivebridge_client import commands


def read_events(bridge, n, resume_after=None):
    """Subscribes, reads n events, then cancels the stream (a disconnect)."""
    subscription = bridge.subscribe(resume_after=resume_after)
    events = [next(subscription) for _ in range(n)]
    subscription.cancel()
    return events, subscription.position


def describe(event):
    return "event seq=%d epoch=%s type=%s device=%s" % (
        event.sequence, event.epoch, event.type or event.WhichOneof("body"), event.device_id)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="127.0.0.1:9090", help="hivebridge gRPC host:port")
    parser.add_argument("--device", required=True, help="device UUID to send the request to")
    parser.add_argument("--token", help="bearer token of this backend (--backend-policy-file)")
    parser.add_argument("--ca", help="PEM file of the CA that signed the bridge's certificate (enables TLS)")
    args = parser.parse_args()

    tls = hb.TLS(root_ca=args.ca) if args.ca else None
    with hb.Bridge(args.server, token=args.token, tls=tls, timeout=15) as bridge:
        devices = bridge.list_devices()
        for d in devices:
            print("device %s account=%s address=%s" % (d.device_id, d.account_id, d.address))
        if not any(d.device_id == args.device for d in devices):
            raise SystemExit("device %s is not connected" % args.device)

        try:
            reply = bridge.send(
                args.device,
                commands.scheduler_action(
                    "stop", instance="ad51b914-688a-4a5f-a073-5c5121a010e2",
                    application={"appstore": "Fractal App Store", "name": "wikijs", "version": "latest"}),
                wait="result",
                request_id=hb.new_request_id())  # idempotency key: retried safely, never sent twice
        except hb.BridgeError as e:
            raise SystemExit("SendDeviceRequest failed: %s %s" % (e.code.name, e.details))
        status = hb.commands_pb2.RequestStatus.Name(reply.status)
        print("status %s" % status)
        print("result %s" % commands.from_struct(reply.result))
        if reply.status != hb.commands_pb2.REQUEST_STATUS_SUCCEEDED:
            raise SystemExit("unexpected status %s: %s" % (status, reply.error))

        # The device's twin: what the bridge remembers of it, online or not.
        twin = bridge.get_device(args.device)
        print("twin online=%s protocol=%s replica=%s" % (twin.online, twin.protocol, twin.replica))

        # A command for a device that is offline waits in the bridge's queue
        # (queue_ttl) and is delivered when it connects; until then it can be
        # looked up and cancelled.
        offline = str(uuid.uuid4())
        queued = bridge.send(offline, commands.device_command("reboot"), queue_ttl=3600,
                             request_id=hb.new_request_id())
        print("queued %s for %s: %s" % (queued.request_id, offline, hb.commands_pb2.RequestStatus.Name(queued.status)))
        cancelled = bridge.cancel_request(queued.request_id)
        print("cancelled: %s" % hb.commands_pb2.RequestStatus.Name(cancelled.status))
        if cancelled.status != hb.commands_pb2.REQUEST_STATUS_CANCELLED:
            raise SystemExit("the queued request was not cancelled")

        first, position = read_events(bridge, 2)
        for e in first:
            print(describe(e))
        print("disconnected at epoch=%s sequence=%d" % position)
        resumed = read_events(bridge, 1, resume_after=position)[0][0]
        print("resumed " + describe(resumed))
        if resumed.sequence <= position[1]:
            raise SystemExit("resumed at sequence %d, not after %d" % (resumed.sequence, position[1]))
    print("example ok")


if __name__ == "__main__":
    main()
