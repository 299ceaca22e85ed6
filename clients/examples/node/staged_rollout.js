// A staged rollout in Node.js on @hivebridge/client: one command to every
// connected device (of an account, with --account) as a fleet job, in two
// waves (10 %, then the rest after a pause) with an abort rule, watched to
// its end; prints each device's outcome and the job's counters. Fleet jobs
// need a bridge with --state-dir.
//
//   node clients/examples/node/staged_rollout.js --server 127.0.0.1:9090
//
// (see clients/examples/README.md for how to make the SDK importable).
const { Bridge, JobState, RequestStatus, commands, newRequestId } = require("@hivebridge/client");
const { readFileSync } = require("fs");

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function counters(job) {
  const c = job.counters;
  return `${c.succeeded}/${c.selected} succeeded, ${c.failed} failed, ${c.expired} expired, ` +
    `${c.skipped} skipped, ${c.inFlight} in flight, ${c.queued} queued, ${c.pending} pending`;
}

async function main() {
  const ca = arg("ca");
  const bridge = new Bridge(arg("server") ?? "127.0.0.1:9090", {
    token: arg("token"),
    tls: ca ? { rootCa: readFileSync(ca) } : undefined,
    timeoutMs: 15_000,
  });
  try {
    const rollout = {
      command: commands.deviceCommand("check_disk_space"),
      selector: { accountId: arg("account") ?? "", presence: 1 /* PRESENCE_ONLINE */ },
      queueTtlMs: 600_000, // a device's request waits 10 min at most
      maxRate: 20, // devices a second
      maxInFlight: 10,
      waves: [{ percent: 10, pauseMs: 2000 }, { percent: 100 }], // 10 %, a 2 s pause, then everyone
      abort: { window: 20, maxFailureRatio: 0.2 }, // stop when > 20 % of the last 20 fail
      wait: "result",
      description: "staged rollout example",
    };
    const dry = await bridge.startJob({ ...rollout, dryRun: true });
    console.log(`dry run: ${dry.deviceIds.length} devices selected`);
    const device = arg("device");
    if (device && !dry.deviceIds.includes(device)) throw new Error(`device ${device} is not selected`);

    const { job } = await bridge.startJob({ ...rollout, jobId: newRequestId() });
    console.log(`job ${job.jobId} started`);
    for await (const change of bridge.watchJob(job.jobId)) {
      const o = change.outcome;
      if (o) console.log(`  ${change.sequence} wave ${o.wave} ${o.deviceId} ${RequestStatus[o.status]} ${o.error || "-"}`);
      else console.log(`  ${change.sequence} ${JobState[change.job.state]} wave ${change.job.wave}`);
    }
    const done = await bridge.getJob(job.jobId);
    console.log(`job ${done.jobId} ${JobState[done.state]}: ${counters(done)}`);
    if (done.state !== JobState.JOB_STATE_COMPLETED || done.counters.succeeded !== done.counters.selected) {
      throw new Error("the rollout did not complete on every device");
    }
  } finally {
    bridge.close();
  }
  console.log("example ok");
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
