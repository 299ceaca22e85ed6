"""hivebridge_client against real bridges and a simulated device.

Run under tests/sdk/bridge_harness.py, which starts them and sets HIVE_*
(see its docstring). Only the RPCs the bridge implements today are used:
SendDeviceRequest (queue_ttl too: the harness gives the plaintext bridge a
--state-dir), GetRequest, CancelRequest, SubscribeEvents, WatchDevices,
ListDevices and GetDevice; and FleetJobs (the --state-dir again). The
slow-subscriber tests use the harness's extra bridge (HIVE_EXTRA_TARGET, a
--subscriber-queue of 8) and its device command.
"""

import asyncio
import os
import shlex
import subprocess
import threading
import unittest
import uuid

import grpc

import hivebridge_client as hb
from hivebridge_client import aio, commands

ENV = os.environ
TARGET, DEVICE, ACCOUNT = ENV["HIVE_BRIDGE_TARGET"], ENV["HIVE_DEVICE_ID"], ENV["HIVE_ACCOUNT_ID"]
TLS = hb.TLS(root_ca=ENV["HIVE_TLS_CA"], server_name=ENV["HIVE_TLS_SERVER_NAME"])
S = hb.commands_pb2  # RequestStatus values
INSTANCE = "ad51b914-688a-4a5f-a073-5c5121a010e2"

EVERY_KIND = [
    commands.upgrade_device(version="2.1.0"),
    commands.device_command("check_disk_space"),
    commands.scheduler_action("stop", instance=INSTANCE, account=ACCOUNT,
                              application={"appstore": "Fractal App Store", "name": "wikijs"}),
    commands.app_instance_command("create_user", instance=INSTANCE, arguments={"name": "ann"}),
    commands.raw("DeviceCommand.check_disk_space", {"path": "/data"}),
]


def take(subscription, n, timeout=15.0, until=None):
    """The first n events (or up to the one `until` accepts); cancels the
    subscription after, or when `timeout` passes first (then fails)."""
    timer = threading.Timer(timeout, subscription.cancel)
    timer.start()
    events = []
    try:
        for event in subscription:
            events.append(event)
            if (until and until(event)) or (not until and len(events) == n):
                return events
    finally:
        timer.cancel()
        subscription.cancel()
    raise AssertionError("subscription ended after %d events: %s" % (len(events), [e.type for e in events]))


def wait_connected(bridge, device):
    for _ in range(200):
        if any(d.device_id == device for d in bridge.list_devices(account_id=ACCOUNT)):
            return
        threading.Event().wait(0.05)
    raise AssertionError("device %s did not connect" % device)


def status_name(status):
    return S.RequestStatus.Name(status)


class Sync(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bridge = hb.Bridge(TARGET, timeout=15)

    @classmethod
    def tearDownClass(cls):
        cls.bridge.close()

    # test_0_*: before test_9 restarts the bridge.
    def test_0_queued_request_get_request_and_cancel_request(self):
        offline = str(uuid.uuid4())  # never connects: its requests stay queued
        queued = self.bridge.send(offline, EVERY_KIND[1], request_id=hb.new_request_id(), queue_ttl=600)
        self.assertEqual(status_name(queued.status), "REQUEST_STATUS_QUEUED")
        self.assertTrue(queued.HasField("expires_at"))
        record = self.bridge.get_request(queued.request_id)
        self.assertEqual(status_name(record.status), "REQUEST_STATUS_QUEUED")
        self.assertEqual((record.request_id, record.device_id), (queued.request_id, offline))

        other = self.bridge.send(offline, EVERY_KIND[0], request_id=hb.new_request_id(), queue_ttl=600)
        self.assertEqual(status_name(other.status), "REQUEST_STATUS_QUEUED")
        cancelled = self.bridge.cancel_request(other.request_id)
        self.assertEqual(status_name(cancelled.status), "REQUEST_STATUS_CANCELLED")
        self.assertEqual(status_name(self.bridge.get_request(other.request_id).status), "REQUEST_STATUS_CANCELLED")
        self.assertEqual(status_name(self.bridge.get_request(queued.request_id).status), "REQUEST_STATUS_QUEUED",
                         "cancelling one request leaves the other queued")
        unknown = str(uuid.uuid4())
        with self.assertRaisesRegex(hb.NotFound, unknown):
            self.bridge.cancel_request(unknown)
        with self.assertRaises(hb.NotFound):
            self.bridge.get_request(unknown)

    def test_0_fleet_job_over_the_device_completes_and_watch_sees_its_outcome(self):
        wait_connected(self.bridge, DEVICE)
        dry = self.bridge.start_job(EVERY_KIND[1], device_ids=[DEVICE], queue_ttl=60, max_rate=10, dry_run=True)
        self.assertEqual(list(dry.device_ids), [DEVICE])
        started = self.bridge.start_job(EVERY_KIND[1], device_ids=[DEVICE], queue_ttl=60, max_rate=10,
                                        waves=[(50, 0), 100], abort_ratio=0.5, wait="result",
                                        description="python e2e")
        job_id = started.job.job_id
        watch = self.bridge.watch_job(job_id)
        timer = threading.Timer(30, watch.cancel)
        timer.start()
        try:
            changes = list(watch)
        finally:
            timer.cancel()
        outcomes = [c.outcome for c in changes if c.HasField("outcome")]
        self.assertEqual([(o.device_id, status_name(o.status)) for o in outcomes],
                         [(DEVICE, "REQUEST_STATUS_SUCCEEDED")])
        self.assertEqual(hb.jobs_pb2.JobState.Name(watch.job.state), "JOB_STATE_COMPLETED")
        job = self.bridge.get_job(job_id)
        self.assertEqual(hb.jobs_pb2.JobState.Name(job.state), "JOB_STATE_COMPLETED")
        self.assertEqual((job.counters.selected, job.counters.succeeded), (1, 1))
        self.assertIn(job_id, [j.job_id for j in self.bridge.list_jobs(states=["completed"])])
        self.assertEqual(self.bridge.cancel_job(job_id).state, job.state, "an ended job is returned as it is")
        with self.assertRaises(hb.NotFound):
            self.bridge.get_job(str(uuid.uuid4()))

    def test_0_watch_devices_starts_with_a_snapshot_holding_the_connected_device(self):
        wait_connected(self.bridge, DEVICE)
        with self.bridge.watch_devices(account_ids=[ACCOUNT]) as watch:
            snapshot = {d.device_id: d for d in watch.snapshot()}
        self.assertIn(DEVICE, snapshot)
        self.assertTrue(snapshot[DEVICE].online)
        self.assertEqual(snapshot[DEVICE].account_id, ACCOUNT)
        with self.bridge.watch_devices(account_ids=[ENV["HIVE_OTHER_ACCOUNT_ID"]]) as watch:
            self.assertEqual(watch.snapshot(), [])

    def test_1_every_command_kind_in_every_wait_mode(self):
        expected = {"none": S.REQUEST_STATUS_SENT, "ack": S.REQUEST_STATUS_ACKED,
                    "result": S.REQUEST_STATUS_SUCCEEDED}
        for command in EVERY_KIND:
            for wait, status in expected.items():
                with self.subTest(kind=command.WhichOneof("kind"), wait=wait):
                    reply = self.bridge.send(DEVICE, command, wait=wait)
                    self.assertEqual(S.RequestStatus.Name(reply.status), S.RequestStatus.Name(status))
                    uuid.UUID(reply.request_id)
                    if wait == "result":
                        self.assertTrue(reply.HasField("result_latency"))

    def test_2_a_retry_with_the_same_request_id_gets_the_stored_outcome(self):
        rid = hb.new_request_id()
        first = self.bridge.send(DEVICE, EVERY_KIND[1], request_id=rid, wait="result")
        again = self.bridge.send(DEVICE, EVERY_KIND[1], request_id=rid, wait="result")
        self.assertEqual(again.request_id, rid)
        self.assertEqual(again.status, S.REQUEST_STATUS_SUCCEEDED)
        self.assertEqual(again.sent_at, first.sent_at, "sent once: the retry reports the first send")
        with self.assertRaisesRegex(hb.InvalidArgument, "request_id"):
            self.bridge.send(DEVICE, EVERY_KIND[0], request_id=rid)

    def test_3_errors_by_status_code(self):
        with self.assertRaisesRegex(hb.NotFound, "not connected"):
            self.bridge.send(str(uuid.uuid4()), EVERY_KIND[1])
        with self.assertRaises(hb.InvalidArgument):
            self.bridge.send("not-a-uuid", EVERY_KIND[1])

    def test_4_unreachable_bridge_is_retried_only_with_a_request_id(self):
        with socket_port() as port:
            dead = hb.Bridge("127.0.0.1:%d" % port, timeout=1.5,
                             retry=hb.RetryPolicy(max_attempts=3, initial_backoff=0.05))
            sleeps = []
            dead._sleep = sleeps.append
            with self.assertRaises(hb.Unavailable):
                dead.send(DEVICE, EVERY_KIND[1])
            self.assertEqual(sleeps, [])
            with self.assertRaises(hb.Unavailable):
                dead.send(DEVICE, EVERY_KIND[1], request_id=hb.new_request_id())
            self.assertEqual(len(sleeps), 2)
            dead.close()

    def test_5_list_and_get_the_connected_device(self):
        devices = {d.device_id: d for d in self.bridge.list_devices(account_id=ACCOUNT)}
        self.assertIn(DEVICE, devices)
        device = self.bridge.get_device(DEVICE)
        self.assertEqual(device.account_id, ACCOUNT)
        self.assertTrue(device.address.startswith("127.0.0.1:"))
        self.assertEqual(self.bridge.list_devices(account_id=ENV["HIVE_OTHER_ACCOUNT_ID"]), [])

    def test_6_subscribe_filters_by_device_and_type(self):
        events = take(self.bridge.subscribe(device_ids=[DEVICE], types=["instances", "device-state"]), 3)
        for e in events:
            self.assertEqual(e.device_id, DEVICE)
            self.assertIn(e.type, ("instances", "device-state"))

    def test_7_resume_after_a_position_continues_from_it(self):
        first = take(self.bridge.subscribe(device_ids=[DEVICE]), 2)
        resumed = take(self.bridge.subscribe(device_ids=[DEVICE], resume_after=first[-1]), 1)[0]
        self.assertEqual(resumed.epoch, first[-1].epoch)
        self.assertGreater(resumed.sequence, first[-1].sequence)

    def test_8_tls_with_a_bearer_token_under_a_backend_policy(self):
        device = ENV["HIVE_TLS_DEVICE_ID"]
        with hb.Bridge(ENV["HIVE_TLS_TARGET"], token=ENV["HIVE_TOKEN"], tls=TLS, timeout=15) as bridge:
            wait_connected(bridge, device)
            reply = bridge.send(device, EVERY_KIND[2], wait="result", request_id=hb.new_request_id())
            self.assertEqual(reply.status, S.REQUEST_STATUS_SUCCEEDED)
            with self.assertRaisesRegex(hb.PermissionDenied, ENV["HIVE_OTHER_ACCOUNT_ID"]):
                bridge.list_devices(account_id=ENV["HIVE_OTHER_ACCOUNT_ID"])
        with hb.Bridge(ENV["HIVE_TLS_TARGET"], token="wrong-token", tls=TLS) as bridge:
            with self.assertRaises(hb.Unauthenticated) as caught:
                bridge.list_devices()
            self.assertTrue(caught.exception.details)
            self.assertNotIn("wrong-token", caught.exception.details)
            with self.assertRaises(hb.Unauthenticated):  # a subscription does not retry it
                take(bridge.subscribe(), 1)
        with hb.Bridge(ENV["HIVE_TLS_TARGET"], tls=TLS) as bridge:
            with self.assertRaises(hb.Unauthenticated):
                bridge.get_device(device)
        with hb.Bridge(ENV["HIVE_TLS_TARGET"], token=ENV["HIVE_TOKEN"], timeout=3) as plaintext:
            with self.assertRaises(hb.Unavailable):
                plaintext.list_devices()

    def test_9_subscription_and_send_survive_a_bridge_restart(self):
        subscription = self.bridge.subscribe(device_ids=[DEVICE])
        before = take_some(subscription, 2)
        restart_bridge()
        # The same Bridge works again once the bridge is back: its channel
        # reconnects, and connect_timeout waits for the device to return.
        reply = self.bridge.send(DEVICE, EVERY_KIND[1], wait="result", request_id=hb.new_request_id(),
                                 connect_timeout=10, timeout=30)
        self.assertEqual(reply.status, S.REQUEST_STATUS_SUCCEEDED)
        after = take(subscription, 0, timeout=30,
                     until=lambda e: e.epoch != before[-1].epoch and e.WhichOneof("body") != "gap")
        self.assertGreaterEqual(subscription.reconnects, 1)
        self.assertIn("gap", [e.WhichOneof("body") for e in after],
                      "a new epoch starts with a gap event: the subscriber knows it missed events")


def take_some(subscription, n):
    """The next n events, leaving the subscription open."""
    return [next(subscription) for _ in range(n)]


def restart_bridge():
    subprocess.run(ENV["HIVE_RESTART_COMMAND"], shell=True, check=True)


class socket_port:
    """A loopback port nobody listens on (bound, never listened, so connects are refused)."""

    def __enter__(self):
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()


class Asyncio(unittest.TestCase):
    def test_send_subscribe_resume_and_a_wrong_token(self):
        async def run():
            async with aio.Bridge(TARGET, timeout=15) as bridge:
                for command in EVERY_KIND:
                    reply = await bridge.send(DEVICE, command, wait="result", request_id=hb.new_request_id())
                    self.assertEqual(reply.status, S.REQUEST_STATUS_SUCCEEDED)
                self.assertIn(DEVICE, [d.device_id for d in await bridge.list_devices()])
                self.assertEqual((await bridge.get_device(DEVICE)).account_id, ACCOUNT)
                first = await atake(bridge.subscribe(device_ids=[DEVICE], types=["instances", "device-state"]), 2)
                self.assertTrue(all(e.type in ("instances", "device-state") for e in first))
                resumed = await atake(bridge.subscribe(device_ids=[DEVICE], resume_after=first[-1]), 1)
                self.assertGreater(resumed[0].sequence, first[-1].sequence)

                # Survives a bridge restart: resumes by itself, into the new epoch.
                subscription = bridge.subscribe(device_ids=[DEVICE])
                before = await asyncio.wait_for(subscription.__anext__(), 15)
                await asyncio.get_running_loop().run_in_executor(None, restart_bridge)
                while True:
                    event = await asyncio.wait_for(subscription.__anext__(), 30)
                    if event.epoch != before.epoch and event.WhichOneof("body") != "gap":
                        break
                await subscription.aclose()
                self.assertGreaterEqual(subscription.reconnects, 1)
            async with aio.Bridge(TARGET, timeout=15) as bridge:
                offline = str(uuid.uuid4())
                queued = await bridge.send(offline, EVERY_KIND[1], request_id=hb.new_request_id(), queue_ttl=600)
                self.assertEqual(queued.status, S.REQUEST_STATUS_QUEUED)
                cancelled = await bridge.cancel_request(queued.request_id)
                self.assertEqual(cancelled.status, S.REQUEST_STATUS_CANCELLED)
                self.assertEqual((await bridge.get_request(queued.request_id)).status, S.REQUEST_STATUS_CANCELLED)
                async with bridge.watch_devices(device_ids=[DEVICE]) as watch:
                    snapshot = await asyncio.wait_for(watch.snapshot(), 15)
                self.assertEqual([d.device_id for d in snapshot], [DEVICE])
                # A fleet job over the one device, watched to its end.
                started = await bridge.start_job(EVERY_KIND[0], device_ids=[DEVICE], queue_ttl=60, max_rate=10)
                watch = bridge.watch_job(started.job.job_id)
                changes = [c async for c in watch]
                self.assertEqual([c.outcome.device_id for c in changes if c.HasField("outcome")], [DEVICE])
                self.assertEqual(watch.job.state, hb.jobs_pb2.JOB_STATE_COMPLETED)
                self.assertEqual((await bridge.get_job(started.job.job_id)).counters.succeeded, 1)
                self.assertTrue(await bridge.list_jobs())
                self.assertEqual((await bridge.cancel_job(started.job.job_id)).state, hb.jobs_pb2.JOB_STATE_COMPLETED)
            async with aio.Bridge(ENV["HIVE_TLS_TARGET"], token="wrong-token", tls=TLS) as bridge:
                with self.assertRaises(hb.Unauthenticated):
                    await bridge.list_devices()
            async with aio.Bridge(ENV["HIVE_TLS_TARGET"], token=ENV["HIVE_TOKEN"], tls=TLS) as bridge:
                self.assertIn(ENV["HIVE_TLS_DEVICE_ID"],
                              [d.device_id for d in await bridge.list_devices(account_id=ACCOUNT)])
        asyncio.run(run())


async def atake(subscription, n, timeout=15.0):
    events = []
    try:
        while len(events) < n:
            events.append(await asyncio.wait_for(subscription.__anext__(), timeout))
    finally:
        await subscription.aclose()
    return events


BURST = 2000  # ~500 KB of events: far over gRPC's flow-control window and the queue of 8


class SlowBurst:
    """A device of its own on the extra bridge (--subscriber-queue=8): it
    sends `sdk-warm` events until go(), then BURST `sdk-burst` events marked
    0 ... BURST-1 at once, while the test's subscriber reads nothing."""

    TYPES = ["sdk-warm", "sdk-burst"]

    def __init__(self):
        self.device = str(uuid.uuid4())
        self.proc = subprocess.Popen(shlex.split(ENV["HIVE_EXTRA_DEVICE_COMMAND"]) + [self.device, str(BURST)],
                                     stdin=subprocess.PIPE)

    def go(self):
        """Sends the burst; returns once the bridge has read all of it."""
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.close()
        assert self.proc.wait(30) == 0, "the device command failed"

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Collected:
    """What a subscriber read of a burst: the markers in order and the gaps."""

    def __init__(self):
        self.markers, self.gaps = [], []

    def add(self, event):
        """Takes one event; True once the burst's last marker arrived."""
        if event.WhichOneof("body") == "gap":
            self.gaps.append(event.gap)
        elif event.type == "sdk-burst":
            self.markers.append(int(event.extra["marker"]))
        return self.markers[-1:] == [BURST - 1]


class SlowSubscriber(unittest.TestCase):
    """A subscriber that reads nothing while a burst overflows its queue at
    the bridge gets every event back from the bridge's history, once, in
    order, without seeing the slow-subscriber gap; with recover_gaps=False
    it sees the gap (the burst really overflows)."""

    def read_burst(self, recover_gaps):
        burst = SlowBurst()
        self.addCleanup(burst.close)
        bridge = hb.Bridge(ENV["HIVE_EXTRA_TARGET"], timeout=15)
        self.addCleanup(bridge.close)
        subscription = bridge.subscribe(device_ids=[burst.device], types=SlowBurst.TYPES,
                                        recover_gaps=recover_gaps)
        timer = threading.Timer(60, subscription.cancel)
        timer.start()
        self.addCleanup(timer.cancel)
        self.addCleanup(subscription.cancel)
        got = Collected()
        # The first warm event: the stream is open at the bridge. Then the
        # burst arrives while this reads nothing.
        self.assertEqual(next(subscription).type, "sdk-warm")
        burst.go()
        for event in subscription:
            if got.add(event):
                return got, subscription
        self.fail("the subscription ended after markers %s... and gaps %s" % (got.markers[:5], got.gaps))

    def test_a_slow_subscriber_gap_is_recovered_from_history(self):
        got, subscription = self.read_burst(recover_gaps=True)
        self.assertEqual(got.gaps, [])
        self.assertEqual(got.markers, list(range(BURST)))
        self.assertGreaterEqual(subscription.gap_recoveries, 1)
        self.assertEqual(subscription.reconnects, 0)

    def test_without_recover_gaps_the_gap_is_delivered(self):
        got, subscription = self.read_burst(recover_gaps=False)
        self.assertTrue(got.gaps and all(g.reason == hb.events_pb2.GAP_REASON_SLOW_SUBSCRIBER for g in got.gaps),
                        got.gaps)
        self.assertLess(len(got.markers), BURST)
        self.assertEqual(subscription.gap_recoveries, 0)

    def test_asyncio_recovers_alike(self):
        async def run():
            burst = SlowBurst()
            try:
                async with aio.Bridge(ENV["HIVE_EXTRA_TARGET"], timeout=15) as bridge:
                    subscription = bridge.subscribe(device_ids=[burst.device], types=SlowBurst.TYPES)
                    got = Collected()
                    try:
                        first = await asyncio.wait_for(subscription.__anext__(), 15)
                        self.assertEqual(first.type, "sdk-warm")
                        await asyncio.get_running_loop().run_in_executor(None, burst.go)
                        while not got.add(await asyncio.wait_for(subscription.__anext__(), 30)):
                            pass
                    finally:
                        await subscription.aclose()
                    return got, subscription
            finally:
                burst.close()

        got, subscription = asyncio.run(run())
        self.assertEqual(got.gaps, [])
        self.assertEqual(got.markers, list(range(BURST)))
        self.assertGreaterEqual(subscription.gap_recoveries, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
