"""A staged rollout in Python on the hivebridge-client SDK: one command to
every connected device (of an account, with --account) as a fleet job, in two
waves (10 %, then the rest after a pause) with an abort rule, watched to its
end; prints each device's outcome and the job's counters.

Fleet jobs need a bridge with --state-dir. Install the SDK
(clients/python/README.md), or point PYTHONPATH at clients/python/src, then:

    python3 clients/examples/python/staged_rollout.py --server 127.0.0.1:9090

Add --token and --ca for a bridge with TLS and a backend policy.
"""

import argparse

import hivebridge_client as hb
from hivebridge_client import commands


def counters(job):
    c = job.counters
    return ("%d/%d succeeded, %d failed, %d expired, %d skipped, %d in flight, %d queued, %d pending"
            % (c.succeeded, c.selected, c.failed, c.expired, c.skipped, c.in_flight, c.queued, c.pending))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="127.0.0.1:9090", help="hivebridge gRPC host:port")
    parser.add_argument("--account", help="only this account's devices")
    parser.add_argument("--device", help="a device that must be among the selected (a check)")
    parser.add_argument("--token", help="bearer token of this backend (--backend-policy-file)")
    parser.add_argument("--ca", help="PEM file of the CA that signed the bridge's certificate (enables TLS)")
    args = parser.parse_args()

    tls = hb.TLS(root_ca=args.ca) if args.ca else None
    rollout = dict(
        account_id=args.account, presence="online",          # the selector, over the twins
        queue_ttl=600,                                         # a device's request waits 10 min at most
        max_rate=20, max_in_flight=10,                         # 20 devices a second, 10 awaiting at once
        waves=[(10, 2), 100],                                  # 10 %, a 2 s pause, then everyone
        abort_ratio=0.2, abort_window=20,                      # stop when > 20 % of the last 20 fail
        wait="result", description="staged rollout example")
    command = commands.device_command("check_disk_space")
    with hb.Bridge(args.server, token=args.token, tls=tls, timeout=15) as bridge:
        dry = bridge.start_job(command, dry_run=True, **rollout)
        print("dry run: %d devices selected" % len(dry.device_ids))
        if args.device and args.device not in dry.device_ids:
            raise SystemExit("device %s is not selected" % args.device)

        job = bridge.start_job(command, job_id=hb.new_request_id(), **rollout).job
        print("job %s started" % job.job_id)
        for change in bridge.watch_job(job.job_id):
            if change.HasField("outcome"):
                o = change.outcome
                print("  %d wave %d %s %s %s" % (change.sequence, o.wave, o.device_id,
                                                 hb.commands_pb2.RequestStatus.Name(o.status), o.error or "-"))
            else:
                print("  %d %s wave %d" % (change.sequence, hb.jobs_pb2.JobState.Name(change.job.state),
                                           change.job.wave))
        job = bridge.get_job(job.job_id)
        print("job %s %s: %s" % (job.job_id, hb.jobs_pb2.JobState.Name(job.state), counters(job)))
        if job.state != hb.jobs_pb2.JOB_STATE_COMPLETED or job.counters.succeeded != job.counters.selected:
            raise SystemExit("the rollout did not complete on every device")
    print("example ok")


if __name__ == "__main__":
    main()
