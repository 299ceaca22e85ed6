"""hivebridge_client's own logic, without a bridge: command builders, the
retry rule (only with a request_id, only retryable codes, within the
deadline), the resume cursor, the resuming streams (sync and asyncio), the
device watch and the error mapping."""

import asyncio
import unittest

import grpc

import hivebridge_client as hb
from hivebridge_client import _resume, aio, commands


class FakeRpcError(grpc.RpcError):
    def __init__(self, code, details="bridge says no"):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


class ScriptedStub:
    """Answers SendDeviceRequest from a script of errors and replies."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.requests = []

    def SendDeviceRequest(self, request, timeout=None, metadata=None):
        self.requests.append((request, timeout, metadata))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class AsyncScriptedStub(ScriptedStub):
    async def _send(self, request, timeout, metadata):
        return ScriptedStub.SendDeviceRequest(self, request, timeout, metadata)

    def SendDeviceRequest(self, request, timeout=None, metadata=None):
        return self._send(request, timeout, metadata)


def sync_bridge(stub, **kwargs):
    bridge = hb.Bridge("127.0.0.1:1", **kwargs)
    bridge.stub = stub
    bridge.sleeps = []
    bridge._sleep = bridge.sleeps.append
    return bridge


DEVICE = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b"
OK = hb.api.SendDeviceRequestResponse(status=hb.commands_pb2.REQUEST_STATUS_ACKED)


class CommandBuilders(unittest.TestCase):
    def test_each_kind_sets_its_oneof_and_action(self):
        cases = {
            "upgrade_device": commands.upgrade_device(version="2.0"),
            "device_command": commands.device_command("reboot"),
            "scheduler_action": commands.scheduler_action("start", instance="i"),
            "app_instance_command": commands.app_instance_command("configure", arguments={"a": 1}),
            "raw": commands.raw("X.y", {"k": "v"}),
        }
        for kind, command in cases.items():
            self.assertEqual(command.WhichOneof("kind"), kind)
        self.assertEqual(cases["device_command"].device_command.action,
                         hb.commands_pb2.DeviceCommand.ACTION_REBOOT)
        self.assertEqual(cases["upgrade_device"].upgrade_device.version, "2.0")

    def test_dicts_become_nested_structs_and_back(self):
        command = commands.raw("A.b", {"x": {"y": [1, "two", None, True]}})
        self.assertEqual(commands.from_struct(command.raw.payload), {"x": {"y": [1.0, "two", None, True]}})

    def test_application_and_links_from_dicts(self):
        command = commands.scheduler_action(
            "stop", application={"appstore": "Fractal App Store", "name": "wikijs"},
            links={"web": {"domain": "example.org"}})
        self.assertEqual(command.scheduler_action.application.name, "wikijs")
        self.assertEqual(command.scheduler_action.links["web"].domain, "example.org")

    def test_unknown_action_names_the_choices(self):
        with self.assertRaisesRegex(ValueError, r"SchedulerAction action 'pause': expected one of start, stop"):
            commands.scheduler_action("pause")

    def test_send_refuses_what_is_not_a_command(self):
        with self.assertRaisesRegex(TypeError, "command: expected a hive.bridge.v1.Command"):
            sync_bridge(ScriptedStub()).send(DEVICE, {"raw": "x"})

    def test_bad_wait_mode_is_named(self):
        with self.assertRaisesRegex(ValueError, "wait 'done'"):
            sync_bridge(ScriptedStub()).send(DEVICE, commands.raw("A.b"), wait="done")


class SendRetries(unittest.TestCase):
    def test_with_request_id_unavailable_is_retried_with_the_same_request(self):
        stub = ScriptedStub(FakeRpcError(grpc.StatusCode.UNAVAILABLE),
                            FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED), OK)
        bridge = sync_bridge(stub, token="t0k")
        rid = hb.new_request_id()
        self.assertEqual(bridge.send(DEVICE, commands.raw("A.b"), request_id=rid), OK)
        self.assertEqual(len(stub.requests), 3)
        self.assertEqual({r.request_id for r, _, _ in stub.requests}, {rid})
        self.assertEqual(len(bridge.sleeps), 2)
        self.assertEqual(stub.requests[0][2], (("authorization", "Bearer t0k"),))

    def test_without_request_id_the_first_error_is_final(self):
        stub = ScriptedStub(FakeRpcError(grpc.StatusCode.UNAVAILABLE), OK)
        with self.assertRaises(hb.Unavailable):
            sync_bridge(stub).send(DEVICE, commands.raw("A.b"))
        self.assertEqual(len(stub.requests), 1)

    def test_aborted_is_never_retried(self):
        stub = ScriptedStub(FakeRpcError(grpc.StatusCode.ABORTED, "connection closed"), OK)
        with self.assertRaises(hb.Aborted) as caught:
            sync_bridge(stub).send(DEVICE, commands.raw("A.b"), request_id=hb.new_request_id())
        self.assertEqual(caught.exception.details, "connection closed")
        self.assertEqual(len(stub.requests), 1)

    def test_gives_up_after_max_attempts(self):
        stub = ScriptedStub(*[FakeRpcError(grpc.StatusCode.UNAVAILABLE)] * 3)
        bridge = sync_bridge(stub, retry=hb.RetryPolicy(max_attempts=3))
        with self.assertRaises(hb.Unavailable):
            bridge.send(DEVICE, commands.raw("A.b"), request_id=hb.new_request_id())
        self.assertEqual(len(stub.requests), 3)

    def test_every_attempt_shares_one_deadline(self):
        stub = ScriptedStub(FakeRpcError(grpc.StatusCode.UNAVAILABLE), OK)
        sync_bridge(stub).send(DEVICE, commands.raw("A.b"), request_id="r", timeout=5)
        first, second = stub.requests[0][1], stub.requests[1][1]
        self.assertLessEqual(first, 5)
        self.assertLessEqual(second, first)

    def test_no_retry_when_the_backoff_would_pass_the_deadline(self):
        stub = ScriptedStub(FakeRpcError(grpc.StatusCode.UNAVAILABLE), OK)
        bridge = sync_bridge(stub, retry=hb.RetryPolicy(initial_backoff=10, max_backoff=10))
        bridge._retry = hb.RetryPolicy(initial_backoff=10, max_backoff=10)
        hb._retry.random.seed(1)
        with self.assertRaises(hb.Unavailable):
            bridge.send(DEVICE, commands.raw("A.b"), request_id="r", timeout=0.001)

    def test_asyncio_client_follows_the_same_rule(self):
        async def run():
            bridge = aio.Bridge("127.0.0.1:1")
            bridge.stub = AsyncScriptedStub(FakeRpcError(grpc.StatusCode.UNAVAILABLE), OK,
                                            FakeRpcError(grpc.StatusCode.UNAVAILABLE), OK)

            async def no_sleep(_):
                pass
            bridge._sleep = no_sleep
            self.assertEqual(await bridge.send(DEVICE, commands.raw("A.b"), request_id="r"), OK)
            with self.assertRaises(hb.Unavailable):
                await bridge.send(DEVICE, commands.raw("A.b"))
            self.assertEqual(len(bridge.stub.requests), 3)
            await bridge.close()
        asyncio.run(run())


class ResumeCursor(unittest.TestCase):
    def test_next_request_resumes_after_the_last_event_keeping_filters(self):
        request = hb.api.SubscribeEventsRequest(device_ids=[DEVICE], types=["device-state"])
        cursor = _resume.Cursor(request, None)
        self.assertFalse(cursor.request().HasField("resume_after"))
        cursor.advance(hb.events_pb2.DeviceEvent(epoch="e1", sequence=41))
        cursor.advance(hb.events_pb2.DeviceEvent(epoch="e1", sequence=42))
        nxt = cursor.request()
        self.assertEqual((nxt.resume_after.epoch, nxt.resume_after.sequence), ("e1", 42))
        self.assertEqual(list(nxt.device_ids), [DEVICE])
        self.assertEqual(list(nxt.types), ["device-state"])
        self.assertFalse(request.HasField("resume_after"), "the caller's request is not changed")

    def test_starts_from_the_given_position(self):
        cursor = _resume.Cursor(hb.api.SubscribeEventsRequest(), ("e0", 7))
        self.assertEqual(cursor.request().resume_after.sequence, 7)

    def test_transient_codes_resume_and_caller_errors_do_not(self):
        self.assertIn(grpc.StatusCode.UNAVAILABLE, _resume.RESUMABLE)
        self.assertNotIn(grpc.StatusCode.UNAUTHENTICATED, _resume.RESUMABLE)
        self.assertNotIn(grpc.StatusCode.INVALID_ARGUMENT, _resume.RESUMABLE)


class FakeStream:
    """A SubscribeEvents call: yields its events, then raises its error (if any)."""

    def __init__(self, events, error=None):
        self.events, self.error, self.cancelled = events, error, False

    def __iter__(self):
        for e in self.events:
            yield hb.api.SubscribeEventsResponse(event=e)
        if self.error:
            raise self.error

    def cancel(self):
        self.cancelled = True


class StreamingStub:
    def __init__(self, *streams):
        self.streams, self.requests = list(streams), []

    def SubscribeEvents(self, request, metadata=None, wait_for_ready=None):
        self.requests.append((request, wait_for_ready))
        return self.streams.pop(0)


def event(epoch, sequence):
    return hb.events_pb2.DeviceEvent(epoch=epoch, sequence=sequence, type="device-state")


class SubscriptionResumes(unittest.TestCase):
    def test_a_broken_stream_is_reopened_after_the_last_event_with_the_same_filters(self):
        first = FakeStream([event("e1", 1), event("e1", 2)], FakeRpcError(grpc.StatusCode.UNAVAILABLE))
        second = FakeStream([event("e2", 1)])
        stub = StreamingStub(first, second)
        bridge = sync_bridge(stub)
        bridge._retry = hb.RetryPolicy(initial_backoff=0.001, max_backoff=0.001)
        subscription = bridge.subscribe(device_ids=["d"])
        got = [next(subscription) for _ in range(3)]
        self.assertEqual([(e.epoch, e.sequence) for e in got], [("e1", 1), ("e1", 2), ("e2", 1)])
        resumed, wait_for_ready = stub.requests[1]
        self.assertEqual((resumed.resume_after.epoch, resumed.resume_after.sequence), ("e1", 2))
        self.assertEqual(list(resumed.device_ids), ["d"])
        self.assertTrue(wait_for_ready, "a resumed stream waits for the bridge to come back")
        self.assertFalse(stub.requests[0][1], "the first stream fails fast")
        self.assertEqual(subscription.reconnects, 1)
        self.assertEqual(subscription.position, ("e2", 1))
        self.assertTrue(first.cancelled)

    def test_an_error_a_new_stream_cannot_fix_is_raised(self):
        stub = StreamingStub(FakeStream([], FakeRpcError(grpc.StatusCode.UNAUTHENTICATED, "unknown token")))
        subscription = sync_bridge(stub).subscribe()
        with self.assertRaisesRegex(hb.Unauthenticated, "unknown token"):
            next(subscription)
        self.assertEqual(len(stub.requests), 1)

    def test_resume_false_raises_instead(self):
        stub = StreamingStub(FakeStream([event("e1", 1)], FakeRpcError(grpc.StatusCode.UNAVAILABLE)))
        subscription = sync_bridge(stub).subscribe(resume=False)
        self.assertEqual(next(subscription).sequence, 1)
        with self.assertRaises(hb.Unavailable):
            next(subscription)

    def test_resume_after_is_sent_on_the_first_stream(self):
        stub = StreamingStub(FakeStream([event("e1", 8)]))
        subscription = sync_bridge(stub).subscribe(resume_after=("e1", 7))
        next(subscription)
        self.assertEqual(stub.requests[0][0].resume_after.sequence, 7)


def gap(epoch, sequence, reason=hb.events_pb2.GAP_REASON_SLOW_SUBSCRIBER, missed=5):
    return hb.events_pb2.DeviceEvent(epoch=epoch, sequence=sequence, type="gap",
                                     gap=hb.events_pb2.Gap(missed=missed, reason=reason))


class GapRecovery(unittest.TestCase):
    """A slow-subscriber gap after an event delivered since the last recovery
    is not delivered: a new stream resumes at once after that event; any
    other gap is delivered as before."""

    def test_the_rule(self):
        cursor = _resume.Cursor(hb.api.SubscribeEventsRequest(), None)
        self.assertFalse(cursor.recovers(gap("e1", 5)), "no event delivered yet: nothing to resume after")
        cursor.advance(gap("e1", 5))
        self.assertFalse(cursor.recovers(gap("e1", 9)), "a delivered gap is no progress")
        cursor.advance(event("e1", 6))
        self.assertFalse(cursor.recovers(event("e1", 7)))
        self.assertFalse(cursor.recovers(gap("e1", 9, hb.events_pb2.GAP_REASON_HISTORY_EXPIRED)))
        self.assertTrue(cursor.recovers(gap("e1", 9)))
        self.assertEqual((cursor.position, cursor.gap_recoveries), (("e1", 6), 1), "the cursor stays at the event")
        self.assertFalse(cursor.recovers(gap("e1", 12)), "no event since the last recovery: delivered")
        cursor.advance(event("e1", 7))
        self.assertTrue(cursor.recovers(gap("e1", 12)))
        self.assertEqual(cursor.gap_recoveries, 2)

    def test_off_it_never_recovers(self):
        cursor = _resume.Cursor(hb.api.SubscribeEventsRequest(), None, recover_gaps=False)
        cursor.advance(event("e1", 1))
        self.assertFalse(cursor.recovers(gap("e1", 9)))

    def test_a_job_stream_has_no_gaps(self):
        self.assertFalse(_resume.JobCursor(hb.jobs_pb2.WatchJobRequest(job_id="j")).recovers(gap("e1", 2)))

    def test_a_subscription_resumes_after_the_last_event_at_once(self):
        first = FakeStream([event("e1", 1), event("e1", 2), gap("e1", 9)], FakeRpcError(grpc.StatusCode.UNAVAILABLE))
        # The new stream overflows again before any event: that gap is delivered.
        second = FakeStream([gap("e1", 12), event("e1", 13)])
        stub = StreamingStub(first, second)
        bridge = sync_bridge(stub)
        subscription = bridge.subscribe(device_ids=["d"])
        got = [next(subscription) for _ in range(4)]
        self.assertEqual([(e.type, e.sequence) for e in got],
                         [("device-state", 1), ("device-state", 2), ("gap", 12), ("device-state", 13)])
        resumed, wait_for_ready = stub.requests[1]
        self.assertEqual((resumed.resume_after.epoch, resumed.resume_after.sequence), ("e1", 2))
        self.assertEqual(list(resumed.device_ids), ["d"])
        self.assertTrue(first.cancelled, "the overflowed call is cancelled")
        self.assertEqual((subscription.gap_recoveries, subscription.reconnects, bridge.sleeps), (1, 0, []))
        self.assertEqual(subscription.position, ("e1", 13))

    def test_off_or_without_resume_the_gap_is_delivered(self):
        for kwargs in ({"recover_gaps": False}, {"resume": False}):
            stub = StreamingStub(FakeStream([event("e1", 1), gap("e1", 9)]))
            subscription = sync_bridge(stub).subscribe(**kwargs)
            self.assertEqual([next(subscription).type for _ in range(2)], ["device-state", "gap"], kwargs)
            self.assertEqual((subscription.position, subscription.gap_recoveries), (("e1", 9), 0))
            self.assertEqual(len(stub.requests), 1)

    def test_asyncio_subscription_recovers_alike(self):
        first = AsyncStream([hb.api.SubscribeEventsResponse(event=e) for e in (event("e1", 1), gap("e1", 9))])
        second = AsyncStream([hb.api.SubscribeEventsResponse(event=event("e1", 2))])
        stub = AsyncStreamingStub(first, second)

        got, subscription, sleeps = take_two_async(stub)
        self.assertEqual(got, [1, 2])
        self.assertEqual(stub.requests[1][1].resume_after.sequence, 1)
        self.assertEqual((subscription.gap_recoveries, subscription.reconnects, sleeps), (1, 0, []))
        self.assertTrue(first.cancelled)


class FakeWatchCall:
    """A WatchDevices call: an iterator of its responses, then its error (or the end)."""

    def __init__(self, responses, error=None):
        self.responses, self.error, self.cancelled = list(responses), error, False

    def __next__(self):
        if self.responses:
            return self.responses.pop(0)
        if self.error:
            raise self.error
        raise StopIteration

    def cancel(self):
        self.cancelled = True


class WatchStub:
    def __init__(self, call):
        self.call, self.requests = call, []

    def WatchDevices(self, request, metadata=None):
        self.requests.append(request)
        return self.call


def twin(device_id):
    return hb.api.WatchDevicesResponse(device=hb.api.Device(device_id=device_id))


class DeviceWatches(unittest.TestCase):
    def test_snapshot_stops_at_the_marker_then_the_changes_then_the_error(self):
        change = hb.api.WatchDevicesResponse(device=hb.api.Device(device_id="a"), event=event("e1", 3))
        call = FakeWatchCall([twin("a"), twin("b"), hb.api.WatchDevicesResponse(snapshot_complete=True), change],
                             FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "max-subscribers"))
        stub = WatchStub(call)
        with sync_bridge(stub).watch_devices(account_ids=["acc"], alive=True) as watch:
            self.assertEqual([d.device_id for d in watch.snapshot()], ["a", "b"])
            self.assertEqual(next(watch).event.sequence, 3)
            with self.assertRaisesRegex(hb.ResourceExhausted, "max-subscribers"):
                next(watch)
        self.assertEqual(list(stub.requests[0].account_ids), ["acc"])
        self.assertTrue(stub.requests[0].alive)
        self.assertTrue(call.cancelled, "leaving the with block ends the call")

    def test_a_snapshot_cut_short_is_an_error(self):
        watch = sync_bridge(WatchStub(FakeWatchCall([twin("a")]))).watch_devices()
        with self.assertRaisesRegex(hb.BridgeError, "before its snapshot was complete"):
            watch.snapshot()


JOB = "5f0c1b2a-3d4e-4f60-8a7b-9c0d1e2f3a4b"


class JobsStub:
    """FleetJobs: StartJob/GetJob/CancelJob answer from a script, ListJobs
    from its pages, WatchJob from its streams."""

    def __init__(self, replies=(), pages=(), streams=()):
        self.replies, self.pages, self.streams = list(replies), list(pages), list(streams)
        self.requests = []

    def _answer(self, name, request, timeout, metadata):
        self.requests.append((name, request))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def StartJob(self, request, timeout=None, metadata=None):
        return self._answer("StartJob", request, timeout, metadata)

    def GetJob(self, request, timeout=None, metadata=None):
        return self._answer("GetJob", request, timeout, metadata)

    def CancelJob(self, request, timeout=None, metadata=None):
        return self._answer("CancelJob", request, timeout, metadata)

    def ListJobs(self, request, timeout=None, metadata=None):
        self.requests.append(("ListJobs", request))
        return self.pages.pop(0)

    def WatchJob(self, request, metadata=None, wait_for_ready=None):
        self.requests.append(("WatchJob", request, wait_for_ready))
        return self.streams.pop(0)


def jobs_bridge(stub):
    bridge = sync_bridge(None)
    bridge.jobs_stub = stub
    bridge._retry = hb.RetryPolicy(initial_backoff=0.001, max_backoff=0.001)
    return bridge


def change(sequence, state=hb.jobs_pb2.JOB_STATE_RUNNING, device=None):
    response = hb.jobs_pb2.WatchJobResponse(sequence=sequence, job=hb.jobs_pb2.Job(job_id=JOB, state=state))
    if device:
        response.outcome.device_id = device
        response.outcome.status = hb.commands_pb2.REQUEST_STATUS_SUCCEEDED
    return response


class JobStream:
    """A WatchJob call: its responses, then its error or the end (the job ended)."""

    def __init__(self, responses, error=None):
        self.responses, self.error, self.cancelled = responses, error, False

    def __iter__(self):
        yield from self.responses
        if self.error:
            raise self.error

    def cancel(self):
        self.cancelled = True


class Jobs(unittest.TestCase):
    def test_start_job_builds_the_selector_the_rollout_and_the_command(self):
        stub = JobsStub(replies=[hb.jobs_pb2.StartJobResponse(device_ids=[DEVICE])])
        reply = jobs_bridge(stub).start_job(
            commands.upgrade_device(version="2.0.0"), account_id="acc", presence="online", version="1.0.0",
            fields={"device-state.state.mode": "eco"}, queue_ttl=60, max_rate=5, max_in_flight=3,
            waves=[(10, 300), 100], abort_ratio=0.2, abort_window=50, wait="result", job_id=JOB,
            dry_run=True, description="to 2")
        self.assertEqual(list(reply.device_ids), [DEVICE])
        name, request = stub.requests[0]
        self.assertEqual(name, "StartJob")
        selector = request.target.selector
        self.assertEqual((selector.account_id, selector.presence, selector.version),
                         ("acc", hb.api.PRESENCE_ONLINE, "1.0.0"))
        self.assertEqual((selector.fields[0].event_type, selector.fields[0].path,
                          selector.fields[0].equals.string_value), ("device-state", "state.mode", "eco"))
        self.assertEqual(request.command.upgrade_device.version, "2.0.0")
        self.assertEqual(request.queue_ttl.seconds, 60)
        self.assertEqual([(w.percent, w.pause_after.seconds) for w in request.rollout.waves], [(10, 300), (100, 0)])
        self.assertEqual((request.rollout.abort.window, request.rollout.abort.max_failure_ratio), (50, 0.2))
        self.assertEqual((request.rollout.max_rate, request.rollout.max_in_flight), (5, 3))
        self.assertEqual((request.wait, request.job_id, request.dry_run, request.description),
                         (hb.api.WAIT_MODE_RESULT, JOB, True, "to 2"))

    def test_start_job_refuses_a_list_with_a_selector_and_a_missing_ttl(self):
        bridge = jobs_bridge(JobsStub())
        with self.assertRaisesRegex(ValueError, "device_ids names the devices"):
            bridge.start_job(commands.upgrade_device(), device_ids=[DEVICE], account_id="acc", queue_ttl=1, max_rate=1)
        with self.assertRaisesRegex(ValueError, "queue_ttl is required"):
            bridge.start_job(commands.upgrade_device(), device_ids=[DEVICE], max_rate=1)
        with self.assertRaisesRegex(ValueError, "TYPE.PATH"):
            bridge.start_job(commands.upgrade_device(), fields={"mode": 1}, queue_ttl=1, max_rate=1)
        with self.assertRaisesRegex(ValueError, "presence 'sometimes'"):
            bridge.start_job(commands.upgrade_device(), presence="sometimes", queue_ttl=1, max_rate=1)

    def test_get_cancel_and_every_page_of_list_jobs(self):
        job = hb.jobs_pb2.Job(job_id=JOB, state=hb.jobs_pb2.JOB_STATE_COMPLETED)
        stub = JobsStub(replies=[hb.jobs_pb2.GetJobResponse(job=job), hb.jobs_pb2.CancelJobResponse(job=job),
                                 FakeRpcError(grpc.StatusCode.NOT_FOUND, "no job")],
                        pages=[hb.jobs_pb2.ListJobsResponse(jobs=[job], next_page_token="p2"),
                               hb.jobs_pb2.ListJobsResponse(jobs=[job])])
        bridge = jobs_bridge(stub)
        self.assertEqual(bridge.get_job(JOB).state, hb.jobs_pb2.JOB_STATE_COMPLETED)
        self.assertEqual(bridge.cancel_job(JOB).job_id, JOB)
        with self.assertRaisesRegex(hb.NotFound, "no job"):
            bridge.get_job(JOB)
        self.assertEqual(len(bridge.list_jobs(states=["running", "completed"], page_size=1)), 2)
        first, second = stub.requests[3][1], stub.requests[4][1]
        self.assertEqual(list(first.states), [hb.jobs_pb2.JOB_STATE_RUNNING, hb.jobs_pb2.JOB_STATE_COMPLETED])
        self.assertEqual((first.page_token, second.page_token, second.page_size), ("", "p2", 1))

    def test_watch_job_resumes_after_the_last_sequence_and_ends_with_the_stream(self):
        first = JobStream([change(1), change(2, device=DEVICE)], FakeRpcError(grpc.StatusCode.UNAVAILABLE))
        second = JobStream([change(3, state=hb.jobs_pb2.JOB_STATE_COMPLETED)])
        stub = JobsStub(streams=[first, second])
        watch = jobs_bridge(stub).watch_job(JOB)
        self.assertEqual([r.sequence for r in watch], [1, 2, 3])
        self.assertEqual(stub.requests[1][1].resume_after, 2)
        self.assertTrue(stub.requests[1][2], "a resumed stream waits for the bridge to come back")
        self.assertEqual(watch.job.state, hb.jobs_pb2.JOB_STATE_COMPLETED)
        self.assertEqual((watch.sequence, watch.reconnects), (3, 1))
        self.assertEqual(len(stub.requests), 2, "an OK end is the job's end: no new stream")

    def test_watch_job_raises_what_a_new_stream_cannot_fix(self):
        stub = JobsStub(streams=[JobStream([], FakeRpcError(grpc.StatusCode.NOT_FOUND, "no job"))])
        with self.assertRaisesRegex(hb.NotFound, "no job"):
            list(jobs_bridge(stub).watch_job(JOB, resume_after=4))
        self.assertEqual(stub.requests[0][1].resume_after, 4)

    def test_asyncio_client_shares_the_plans(self):
        class AsyncJobsStub(JobsStub):
            async def _get(self, request):
                return JobsStub.GetJob(self, request)

            def GetJob(self, request, timeout=None, metadata=None):
                return self._get(request)

        job = hb.jobs_pb2.Job(job_id=JOB)

        async def run():
            bridge = aio.Bridge("127.0.0.1:1")
            bridge.jobs_stub = AsyncJobsStub(replies=[hb.jobs_pb2.GetJobResponse(job=job)])
            try:
                return await bridge.get_job(JOB)
            finally:
                await bridge.close()

        self.assertEqual(asyncio.run(run()).job_id, JOB)


class AsyncStream:
    """A grpc.aio streaming call: its responses, then its error or the end."""

    def __init__(self, responses, error=None):
        self.responses, self.error, self.cancelled = list(responses), error, False

    async def _responses(self):
        for response in self.responses:
            yield response
        if self.error:
            raise self.error

    def __aiter__(self):
        return self._responses()

    def cancel(self):
        self.cancelled = True


class AsyncStreamingStub:
    """SubscribeEvents and WatchJob from one list of AsyncStreams."""

    def __init__(self, *streams):
        self.streams, self.requests = list(streams), []

    def _open(self, name, request, wait_for_ready):
        self.requests.append((name, request, wait_for_ready))
        return self.streams.pop(0)

    def SubscribeEvents(self, request, metadata=None, wait_for_ready=None):
        return self._open("SubscribeEvents", request, wait_for_ready)

    def WatchJob(self, request, metadata=None, wait_for_ready=None):
        return self._open("WatchJob", request, wait_for_ready)


def async_streaming_bridge(stub):
    bridge = aio.Bridge("127.0.0.1:1", retry=hb.RetryPolicy(initial_backoff=0.001, max_backoff=0.001))
    bridge.stub = bridge.jobs_stub = stub
    bridge.sleeps = []

    async def sleep(seconds):
        bridge.sleeps.append(seconds)
    bridge._sleep = sleep
    return bridge


def take_two_async(stub, **subscribe):
    """The sequences of the first two events of an asyncio subscription on
    `stub`, the subscription, and the backoff sleeps it took."""
    async def run():
        bridge = async_streaming_bridge(stub)
        subscription = bridge.subscribe(**subscribe)
        got = [(await subscription.__anext__()).sequence for _ in range(2)]
        await subscription.aclose()
        await bridge.close()
        return got, subscription, bridge.sleeps

    return asyncio.run(run())


class StreamsResumeAlike(unittest.TestCase):
    """The sync and asyncio Subscription and JobWatch share one resume loop:
    a broken stream is reopened after the last item; an OK end reopens a
    subscription but is a job watch's last."""

    def test_a_subscription_that_ends_ok_is_reopened(self):
        first, second = FakeStream([event("e1", 1)]), FakeStream([event("e1", 2)])
        stub = StreamingStub(first, second)
        bridge = sync_bridge(stub)
        bridge._retry = hb.RetryPolicy(initial_backoff=0.001, max_backoff=0.001)
        subscription = bridge.subscribe()
        self.assertEqual([next(subscription).sequence for _ in range(2)], [1, 2])
        self.assertEqual(stub.requests[1][0].resume_after.sequence, 1)
        self.assertEqual(subscription.reconnects, 1)
        self.assertTrue(first.cancelled)

    def test_asyncio_subscription_reopens_after_the_last_event(self):
        first = AsyncStream([hb.api.SubscribeEventsResponse(event=event("e1", 1))],
                            FakeRpcError(grpc.StatusCode.UNAVAILABLE))
        second = AsyncStream([hb.api.SubscribeEventsResponse(event=event("e1", 2))])
        stub = AsyncStreamingStub(first, second)

        got, subscription, sleeps = take_two_async(stub, device_ids=["d"])
        self.assertEqual(got, [1, 2])
        _, resumed, wait_for_ready = stub.requests[1]
        self.assertEqual((resumed.resume_after.epoch, resumed.resume_after.sequence), ("e1", 1))
        self.assertEqual(list(resumed.device_ids), ["d"])
        self.assertTrue(wait_for_ready, "a resumed stream waits for the bridge to come back")
        self.assertFalse(stub.requests[0][2], "the first stream fails fast")
        self.assertEqual((subscription.reconnects, subscription.position, len(sleeps)), (1, ("e1", 2), 1))
        self.assertTrue(first.cancelled and second.cancelled)

    def test_asyncio_job_watch_resumes_and_ends_with_the_stream(self):
        stub = AsyncStreamingStub(AsyncStream([change(1)], FakeRpcError(grpc.StatusCode.UNAVAILABLE)),
                                  AsyncStream([change(2, state=hb.jobs_pb2.JOB_STATE_COMPLETED)]))

        async def run():
            bridge = async_streaming_bridge(stub)
            watch = bridge.watch_job(JOB)
            got = [r.sequence async for r in watch]
            await bridge.close()
            return got, watch

        got, watch = asyncio.run(run())
        self.assertEqual(got, [1, 2])
        self.assertEqual(stub.requests[1][1].resume_after, 1)
        self.assertEqual(watch.job.state, hb.jobs_pb2.JOB_STATE_COMPLETED)
        self.assertEqual((watch.sequence, watch.reconnects), (2, 1))
        self.assertEqual(len(stub.requests), 2, "an OK end is the job's end: no new stream")

    def test_asyncio_streams_raise_what_a_new_stream_cannot_fix(self):
        stub = AsyncStreamingStub(AsyncStream([], FakeRpcError(grpc.StatusCode.NOT_FOUND, "no job")),
                                  AsyncStream([], FakeRpcError(grpc.StatusCode.UNAVAILABLE)))

        async def run():
            bridge = async_streaming_bridge(stub)
            try:
                with self.assertRaisesRegex(hb.NotFound, "no job"):
                    [r async for r in bridge.watch_job(JOB)]
                with self.assertRaises(hb.Unavailable):
                    [e async for e in bridge.subscribe(resume=False)]
            finally:
                await bridge.close()

        asyncio.run(run())
        self.assertEqual(len(stub.requests), 2)


class Errors(unittest.TestCase):
    def test_each_code_has_its_class_and_keeps_details(self):
        error = hb._errors.from_rpc_error(FakeRpcError(grpc.StatusCode.NOT_FOUND, "device D is not connected"))
        self.assertIsInstance(error, hb.NotFound)
        self.assertIsInstance(error, hb.BridgeError)
        self.assertEqual(str(error), "NOT_FOUND: device D is not connected")
        other = hb._errors.from_rpc_error(FakeRpcError(grpc.StatusCode.DATA_LOSS))
        self.assertIs(type(other), hb.BridgeError)


if __name__ == "__main__":
    unittest.main()
