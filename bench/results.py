#!/usr/bin/env python3
"""bench/results.json: what scripts/bench.sh measured, gathered from its raw
outputs, with each figure next to its baseline, the ratio between them and the
target issue #18 ("Performance II") sets for it.

    results.py merge --raw DIR --mode full|smoke --out bench/results.json
    results.py check bench/results.json     # exit 1 naming the first missing or malformed part

Across repeated rounds the run with the median throughput represents its row
(its latencies with it), so every number in a row comes from one run.
"""
import argparse
import datetime
import glob
import json
import os
import re
import sys

SCHEMA = 1
CONCURRENCIES = [1, 16, 256]
SUBSCRIBERS = [1, 10, 100]
TARGETS = {
    "codec": "decode+encode <= 3x a simdjson on-demand parse of the same bytes (every value visited), and <= 5 "
             "heap allocations per message (decode+encode); RapidJSON parse-only kept as issue #6's baseline",
    "request": "bridge >= 0.5x the gRPC echo server's req/s at concurrency 1, 16 and 256, and bridge p99 <= 2x "
               "the echo's; each server's CPU per request over the measured window beside them (no target)",
    "fanout": "bridge >= 0.8x the websocketpp echo's message rate with 10 subscribers; zero loss below saturation",
    "remembered": "<= 128 bytes of memory per remembered request (the correlator's dedupe memory)",
    "scale": "<= 16 KiB RSS per idle authenticated device at 50,000 devices; where the descriptor limit stops "
             "short of that, the largest fleet it allows, smaller fleets to show the cost per device is flat, "
             "and the extrapolation",
    "twin": "the twin's cost on the event path: fan-out deliveries/s with --state-dir / without (no target; "
            "issue #16 asks for the ratio)",
    "queue": "queued requests: queueing and delivery rates, each / the same requests sent live on the same "
             "bridge (no target; issue #16 asks for the rate)",
    "jobs": "fleet jobs: devices/s a job reaches (StartJob to its end, every device acking) / the same requests "
            "sent live on the same bridge at the same concurrency (no target; issue #21 asks for the ratio)",
}
CODEC_RATIO_TARGET = 3.0  # decode+encode / simdjson_parse
CODEC_ALLOCS_TARGET = 5.0  # heap allocations per message, decode+encode
REQUEST_RATIO_TARGET = 0.5  # bridge req/s / echo req/s
REQUEST_P99_TARGET = 2.0  # bridge p99 / echo p99
FANOUT_RATIO_TARGET = 0.8  # bridge deliveries/s / echo messages/s, 10 subscribers
REMEMBERED_BYTES_TARGET = 128.0  # heap per remembered request, the round trip's shape (WAIT_MODE_ACK)
SCALE_KIB_TARGET = 16.0
SCALE_DEVICES_TARGET = 50000
CODEC_KINDS = ("simdjson_parse", "parse_only", "decode", "encode", "decode_encode")
REMEMBERED_SHAPES = ("ack", "result")


def read_json(path):
    with open(path) as f:
        return json.load(f)


def median_run(runs, key):
    """The run whose `key` is the median (the lower middle for an even count)."""
    ordered = sorted(runs, key=lambda run: run[key])
    return ordered[(len(ordered) - 1) // 2]


# ------------------------------------------------------------------ codec

def benchmark_runs(report):
    """Google Benchmark's runs by name: with repetitions the median aggregate,
    without them the one run."""
    chosen = {}
    for bench in report["benchmarks"]:
        if bench.get("run_type") == "aggregate" and bench.get("aggregate_name") != "median":
            continue
        chosen[bench.get("run_name", bench["name"])] = bench
    return chosen


def codec_section(path):
    report = read_json(path)
    cases = {}
    for name, bench in benchmark_runs(report).items():
        kind, case = name.split("/", 1)
        messages = bench.get("messages", 1)
        entry = cases.setdefault(case, {"name": case, "messages": int(messages)})
        # CPU time: on a shared 2-core machine wall time also counts the
        # time other processes ran instead of the benchmark.
        entry[kind] = {
            "cpu_ns_per_msg": to_ns(bench["cpu_time"], bench["time_unit"]) / messages,
            "real_ns_per_msg": to_ns(bench["real_time"], bench["time_unit"]) / messages,
            "allocs_per_msg": bench.get("allocs_per_msg"),
            "news_per_msg": bench.get("news_per_msg"),
        }
    rows = []
    for case in cases.values():
        both = case["decode_encode"]["cpu_ns_per_msg"]
        simdjson = case.get("simdjson_parse", {}).get("cpu_ns_per_msg")
        parse = case["parse_only"]["cpu_ns_per_msg"]
        # The target's ratio, to simdjson; issue #6's, to RapidJSON, for history.
        case["ratio"] = both / simdjson if simdjson else None
        case["ratio_parse_only"] = both / parse if parse else None
        case["met"] = case["ratio"] is not None and case["ratio"] <= CODEC_RATIO_TARGET
        allocs = case["decode_encode"]["allocs_per_msg"]
        case["allocs_met"] = allocs is not None and allocs <= CODEC_ALLOCS_TARGET
        rows.append(case)
    return {
        "target": TARGETS["codec"],
        "time": "cpu",
        "context": {k: report["context"].get(k) for k in ("date", "num_cpus", "mhz_per_cpu", "library_build_type")},
        "cases": rows,
    }


def to_ns(value, unit):
    return value * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]


# ------------------------------------------------------------------ request

def paired_ratio(row, pairs, key="ratio"):
    """Sets the row's ratio (row[key]) from rounds: each round's bridge figure
    over the baseline measured just before it, so that drift in what else the
    machine runs cancels out; the median over rounds, and their range."""
    ratios = sorted(b / e for b, e in pairs if e > 0)
    if ratios:
        row[key] = ratios[(len(ratios) - 1) // 2]
        row[key + "_range"] = [ratios[0], ratios[-1]]


def request_section(raw):
    runs = load_runs(os.path.join(raw, "request"), r"(echo|bridge)_c(\d+)_r(\d+)\.json")
    rows = []
    for c in CONCURRENCIES:
        row = {"concurrency": c}
        for target in ("echo", "bridge"):
            picked = [r for (t, cc, _), r in runs.items() if t == target and int(cc) == c]
            if picked:
                row[target] = median_run(picked, "rps")
                row[target + "_rounds_rps"] = [r["rps"] for (t, cc, _), r in sorted(runs.items())
                                               if t == target and int(cc) == c]
        rounds = [(runs[("bridge", str(c), rnd)], runs[("echo", str(c), rnd)])
                  for (t, cc, rnd) in runs if t == "echo" and int(cc) == c and ("bridge", str(c), rnd) in runs]
        paired_ratio(row, [(bridge["rps"], echo["rps"]) for bridge, echo in rounds])
        paired_ratio(row, [(bridge["latency_us"]["p99"], echo["latency_us"]["p99"]) for bridge, echo in rounds],
                     key="p99_ratio")
        # Each server's CPU over the measured window, per request (hive-loadgen
        # --server-pid): older raw outputs have none.
        paired_ratio(row, [(bridge["server_cpu_us_per_request"], echo["server_cpu_us_per_request"])
                           for bridge, echo in rounds
                           if "server_cpu_us_per_request" in bridge and "server_cpu_us_per_request" in echo],
                     key="cpu_ratio")
        if "ratio" in row:
            row["met"] = row["ratio"] >= REQUEST_RATIO_TARGET
        if "p99_ratio" in row:
            row["p99_met"] = row["p99_ratio"] <= REQUEST_P99_TARGET
        rows.append(row)
    return {"target": TARGETS["request"], "rounds": rounds_of(runs), "rows": rows,
            "bridge_requests": sum(r["requests"] for (t, _, _), r in runs.items() if t == "bridge")}


# ------------------------------------------------------------------ fan-out

def fanout_section(raw):
    runs = load_runs(os.path.join(raw, "fanout"), r"(echo|bridge)_s(\d+)_r(\d+)\.json")
    echo_runs = [r for (t, _, _), r in runs.items() if t == "echo"]
    baseline = median_run(echo_runs, "delivered_per_s") if echo_runs else None
    rows = []
    for s in SUBSCRIBERS:
        picked = [r for (t, ss, _), r in runs.items() if t == "bridge" and int(ss) == s]
        row = {"subscribers": s}
        if picked:
            row["bridge"] = median_run(picked, "delivered_per_s")
            row["bridge_rounds_delivered_per_s"] = [r["delivered_per_s"] for (t, ss, _), r in sorted(runs.items())
                                                    if t == "bridge" and int(ss) == s]
            paired_ratio(row, [(r["delivered_per_s"], runs[("echo", "1", rnd)]["delivered_per_s"])
                               for (t, ss, rnd), r in runs.items()
                               if t == "bridge" and int(ss) == s and ("echo", "1", rnd) in runs])
            if "ratio" in row:
                row["met"] = row["ratio"] >= FANOUT_RATIO_TARGET if s == 10 else None
        rows.append(row)
    after = os.path.join(raw, "fanout", "after_requests_s10.json")
    return {
        "after_requests": read_json(after) if os.path.exists(after) else None,
        "target": TARGETS["fanout"],
        "rounds": rounds_of(runs),
        "ratio_of": "bridge deliveries/s (every subscriber's receipts) / echo messages/s",
        "echo": baseline,
        "echo_rounds_delivered_per_s": sorted(r["delivered_per_s"] for r in echo_runs),
        "rows": rows,
        "loss": fanout_loss([r for (t, _, _), r in runs.items() if t == "bridge"]),
    }


def fanout_loss(bridge_runs):
    """Losses over every bridge fan-out run, every round and subscriber count.
    The load is closed-loop (an emitter's next event waits for every
    subscriber), so no run goes past the rate the bridge sustains: any loss
    here is loss below saturation."""
    lost = sum(r["lost"] for r in bridge_runs)
    gaps = sum(r["gaps"] for r in bridge_runs)
    return {"runs": len(bridge_runs), "lost": lost, "gaps": gaps,
            "met": bool(bridge_runs) and lost == 0 and gaps == 0}


# ------------------------------------------------------------------ device twin

def twin_section(raw):
    runs = load_runs(os.path.join(raw, "twin"), r"(memory|state)_s10_r(\d+)\.json")
    section = {"target": TARGETS["twin"], "rounds": rounds_of(runs), "subscribers": 10,
               "ratio_of": "deliveries/s with --state-dir / without, each round's pair"}
    for side in ("memory", "state"):
        picked = [r for (t, _), r in runs.items() if t == side]
        if picked:
            section[side] = median_run(picked, "delivered_per_s")
            section[side + "_rounds_delivered_per_s"] = [r["delivered_per_s"] for (t, _), r in sorted(runs.items())
                                                          if t == side]
    paired_ratio(section, [(runs[("state", rnd)]["delivered_per_s"], r["delivered_per_s"])
                           for (t, rnd), r in runs.items() if t == "memory" and ("state", rnd) in runs])
    return section


# ------------------------------------------------------------------ queued requests

def queue_section(raw):
    runs = load_runs(os.path.join(raw, "queue"), r"bridge_r(\d+)\.json")
    picked = list(runs.values())
    section = {"target": TARGETS["queue"], "rounds": rounds_of(runs),
               "ratio_of": "delivered/s (first connect to the last queued request received) / live req/s"}
    if picked:
        section["run"] = median_run(picked, "delivered_per_s")
        section["rounds_delivered_per_s"] = [r["delivered_per_s"] for _, r in sorted(runs.items())]
        paired_ratio(section, [(r["delivered_per_s"], r["live_rps"]) for r in picked])
        queueing = sorted(r["queued_per_s"] / r["live_rps"] for r in picked if r["live_rps"] > 0)
        if queueing:
            section["queueing_ratio"] = queueing[(len(queueing) - 1) // 2]
    return section


# ------------------------------------------------------------------ fleet jobs

def jobs_section(raw):
    runs = load_runs(os.path.join(raw, "jobs"), r"bridge_r(\d+)\.json")
    picked = list(runs.values())
    section = {"target": TARGETS["jobs"], "rounds": rounds_of(runs),
               "ratio_of": "job devices/s (StartJob to the end of its WatchJob stream) / live req/s, each "
                           "round's pair"}
    if picked:
        section["run"] = median_run(picked, "job_per_s")
        section["rounds_job_per_s"] = [r["job_per_s"] for _, r in sorted(runs.items())]
        paired_ratio(section, [(r["job_per_s"], r["live_rps"]) for r in picked])
    return section


# ------------------------------------------------------------------ remembered requests

def remembered_section(path):
    """Heap per remembered request (bench/correlator_bench.cc,
    BM_RememberedBytes/<shape>/<requests>): glibc's bytes in use after the
    fill minus before, per request, and the correlator's own estimate."""
    shapes = []
    for name, bench in sorted(benchmark_runs(read_json(path)).items()):
        m = re.match(r"BM_RememberedBytes/(\w+)/(\d+)", name)
        if not m:
            continue
        heap = bench.get("heap_bytes_per_request")
        shapes.append({
            "shape": m.group(1),
            "requests": int(bench.get("requests", m.group(2))),
            "remembered": int(bench.get("remembered", 0)),
            "heap_bytes_per_request": heap,
            "estimated_bytes_per_request": bench.get("estimated_bytes_per_request"),
            # The target is the round trip's (WAIT_MODE_ACK); a result's is evidence.
            "met": (heap is not None and heap <= REMEMBERED_BYTES_TARGET) if m.group(1) == "ack" else None,
        })
    return {"target": TARGETS["remembered"], "heap": "glibc mallinfo2: uordblks + hblkhd (in-use chunks with "
            "their headers, and mmapped blocks)", "shapes": shapes}


# ------------------------------------------------------------------ scale

def scale_section(raw):
    runs = []
    for meta_path in sorted(glob.glob(os.path.join(raw, "scale", "meta_*.json"))):
        meta = read_json(meta_path)
        run = dict(meta)
        for target in ("bridge", "echo"):
            path = os.path.join(raw, "scale", "%s_%s.json" % (target, meta["name"]))
            if os.path.exists(path):
                run[target] = read_json(path)
        bridge, echo = run.get("bridge"), run.get("echo")
        if bridge and "rss_per_device_kib" in bridge:
            run["met"] = (bridge["rss_per_device_kib"] <= SCALE_KIB_TARGET
                          and bridge["ready"] >= SCALE_DEVICES_TARGET)
            run["memory_met"] = bridge["rss_per_device_kib"] <= SCALE_KIB_TARGET
            if echo and echo.get("rss_per_device_kib"):
                run["ratio"] = bridge["rss_per_device_kib"] / echo["rss_per_device_kib"]
            if echo and echo.get("server_cpu_us_per_connect"):
                run["cpu_ratio"] = bridge["server_cpu_us_per_connect"] / echo["server_cpu_us_per_connect"]
        if run["devices"] < run["requested"]:
            run["capped_by"] = ("RLIMIT_NOFILE: the hard limit is %d descriptors per process, and cannot be "
                                "raised without CAP_SYS_RESOURCE" % run["file_limit"])
        runs.append(run)
    runs.sort(key=lambda run: run["devices"])
    section = {"target": TARGETS["scale"], "runs": runs}
    # What the largest fleet measured says of the target's, if the cost per
    # device stays as flat as the smaller fleets show it.
    target = next((run for run in runs if run["name"] == "target"), None)
    bridge = (target or {}).get("bridge") or {}
    if target and target.get("capped_by") and "rss_per_device_kib" in bridge:
        section["extrapolated"] = {"devices": target["requested"], "from_devices": bridge["ready"],
                                   "kib_per_device": bridge["rss_per_device_kib"],
                                   "mib": bridge["rss_per_device_kib"] * target["requested"] / 1024}
    return section


# ------------------------------------------------------------------ perf

PERF_LINE = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$")
CHILDREN_LINE = re.compile(r"^\s*([\d.]+)%\s+([\d.]+)%\s+\[(.)\]\s+(.*?)\s*$")
# Inclusive times worth a row: the bridge's own code, and the costs the hot
# spots are about (copies, allocation, locks, syscalls).
INCLUSIVE_SUFFIXES = ("::MergeImpl", "::CopyFrom", "::_InternalSerialize", "::ByteSizeLong", "Mutex::Lock",
                      "GraphCycles::GetId", "::SyncRepeatedFieldWithMap")
INCLUSIVE_NAMES = ("malloc", "__GI___libc_malloc", "__libc_sendmsg", "__libc_recvmsg", "epoll_wait")


def without_empty_columns(symbol):
    """perf pads a symbol and ends the row with its empty sort columns ("  -  -")."""
    return re.sub(r"(\s+-)+\s*$", "", symbol).strip()


def worth_inclusive_row(symbol):
    head = re.split(r"[(<]", symbol, maxsplit=1)[0].strip()
    return head.startswith("hive::") or head.endswith(INCLUSIVE_SUFFIXES) or head in INCLUSIVE_NAMES


def perf_section(raw):
    profiles = {}
    for path in sorted(glob.glob(os.path.join(raw, "perf", "*.txt"))):
        name = os.path.basename(path)[:-len(".txt")]
        if name.endswith(".dso") or name.endswith(".children"):
            continue
        profile = {"top": [], "dsos": [], "samples": None}
        for line in open(path, errors="replace"):
            if line.startswith("# Samples:"):
                profile["samples"] = line.split(":", 1)[1].split()[0]
            m = PERF_LINE.match(line)
            if m:
                profile["top"].append({"percent": float(m.group(1)), "dso": m.group(2),
                                       "symbol": without_empty_columns(m.group(4))})
        dso_path = os.path.join(raw, "perf", name + ".dso.txt")
        if os.path.exists(dso_path):
            for line in open(dso_path, errors="replace"):
                m = re.match(r"^\s*([\d.]+)%\s+(\S+)\s*$", line)
                if m:
                    profile["dsos"].append({"percent": float(m.group(1)), "dso": m.group(2)})
        profile["inclusive"] = []
        children_path = os.path.join(raw, "perf", name + ".children.txt")
        if os.path.exists(children_path):
            seen = set()
            for line in open(children_path, errors="replace"):
                m = CHILDREN_LINE.match(line)
                if not m:
                    continue
                symbol = without_empty_columns(m.group(4))
                if not worth_inclusive_row(symbol):
                    continue
                if symbol in seen:
                    continue
                seen.add(symbol)
                profile["inclusive"].append({"percent": float(m.group(1)), "self": float(m.group(2)),
                                             "symbol": symbol})
            profile["inclusive"] = profile["inclusive"][:30]
        load = os.path.join(raw, "perf", name + ".load.json")
        if os.path.exists(load):
            profile["load"] = read_json(load)
        profile["top"] = profile["top"][:25]
        profiles[name] = profile
    return profiles


# ------------------------------------------------------------------ shared

def load_runs(directory, pattern):
    runs = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        m = re.fullmatch(pattern, os.path.basename(path))
        if m:
            runs[m.groups()] = read_json(path)
    return runs


def rounds_of(runs):
    return max((int(key[-1]) for key in runs), default=0)


def merge(args):
    raw = args.raw
    commands = [line.rstrip("\n") for line in open(os.path.join(raw, "commands.txt")) if line.strip()]
    results = {
        "schema": SCHEMA,
        "mode": args.mode,
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": read_json(os.path.join(raw, "machine.json")),
        "codec": codec_section(os.path.join(raw, "codec.json")),
        "request": request_section(raw),
        "fanout": fanout_section(raw),
        "twin": twin_section(raw),
        "queue": queue_section(raw),
        "jobs": jobs_section(raw),
        "remembered": remembered_section(os.path.join(raw, "correlator.json")),
        "scale": scale_section(raw),
        "perf": perf_section(raw),
        "commands": commands,
    }
    load_at_end = os.path.join(raw, "load_average_at_end.txt")
    results["machine"]["load_average_at_end"] = (float(open(load_at_end).read()) if os.path.exists(load_at_end)
                                                 else os.getloadavg()[0])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1, sort_keys=False)
        f.write("\n")


# ------------------------------------------------------------------ check

class Invalid(Exception):
    pass


def need(condition, what):
    if not condition:
        raise Invalid(what)


def check_latency(latency, where):
    need(isinstance(latency, dict), where + ": no latency_us")
    for key in ("p50", "p99", "p999", "max", "samples"):
        need(isinstance(latency.get(key), (int, float)), "%s: latency_us.%s missing" % (where, key))


def check(args):
    try:
        with open(args.results) as f:
            results = json.load(f)
    except (OSError, ValueError) as error:
        print("results.py check: %s is not well-formed JSON: %s" % (args.results, error), file=sys.stderr)
        return 1
    try:
        need(results.get("schema") == SCHEMA, "schema is not %d" % SCHEMA)
        for section in ("machine", "codec", "request", "fanout", "twin", "queue", "jobs", "remembered", "scale",
                        "perf", "commands"):
            need(section in results, "no %s section" % section)
        for key in ("nproc", "cpu_model", "kernel", "compiler"):
            need(results["machine"].get(key) not in (None, ""), "machine.%s missing" % key)

        cases = {case["name"]: case for case in results["codec"]["cases"]}
        for name in ("seed_device_request", "instances", "instance_state", "device_version", "device_state",
                     "generic", "device_alive", "device_connected", "device_disconnected", "batch_50"):
            need(name in cases, "codec: no case %s" % name)
            for kind in CODEC_KINDS:
                need(kind in cases[name], "codec %s: no %s" % (name, kind))
                need(cases[name][kind]["allocs_per_msg"] is not None, "codec %s/%s: no allocs_per_msg" % (name, kind))
            need(isinstance(cases[name].get("ratio"), float), "codec %s: no ratio to simdjson" % name)
            need(isinstance(cases[name].get("ratio_parse_only"), float), "codec %s: no ratio to RapidJSON" % name)

        rows = {row["concurrency"]: row for row in results["request"]["rows"]}
        for c in CONCURRENCIES:
            need(c in rows, "request: no row for concurrency %d" % c)
            for target in ("echo", "bridge"):
                run = rows[c].get(target)
                where = "request c=%d %s" % (c, target)
                need(run is not None, where + ": missing")
                need(run["requests"] > 0, where + ": no request completed")
                check_latency(run.get("latency_us"), where)
                need(isinstance(run.get("server_cpu_us_per_request"), (int, float)),
                     where + ": no server CPU per request (hive-loadgen --server-pid)")
            for key in ("ratio", "p99_ratio", "cpu_ratio"):
                need(key in rows[c], "request c=%d: no %s" % (c, key))

        fanout = results["fanout"]
        need(fanout.get("echo") and fanout["echo"]["deliveries"] > 0, "fanout: no echo baseline deliveries")
        check_latency(fanout["echo"].get("latency_us"), "fanout echo")
        rows = {row["subscribers"]: row for row in fanout["rows"]}
        for s in SUBSCRIBERS:
            need(s in rows and rows[s].get("bridge"), "fanout: no bridge run with %d subscribers" % s)
            need(rows[s]["bridge"]["deliveries"] > 0, "fanout %d subscribers: nothing delivered" % s)
            need(rows[s]["bridge"]["errors"] == 0, "fanout %d subscribers: the bridge refused %d events (error "
                 "replies: a limit measured instead of the event path?)" % (s, rows[s]["bridge"]["errors"]))
            check_latency(rows[s]["bridge"].get("latency_us"), "fanout %d subscribers" % s)
            need("ratio" in rows[s], "fanout %d subscribers: no ratio" % s)
        loss = fanout.get("loss")
        need(loss and loss["runs"] >= len(SUBSCRIBERS), "fanout: no loss tally over the bridge runs")

        twin = results["twin"]
        for side in ("memory", "state"):
            run = twin.get(side)
            need(run and run["deliveries"] > 0, "twin: no %s fan-out run with deliveries" % side)
            need(run["errors"] == 0, "twin %s: the bridge refused %d events" % (side, run["errors"]))
        need("ratio" in twin, "twin: no ratio")

        queue = results["queue"]
        run = queue.get("run")
        need(run is not None, "queue: no run")
        need(run["queued"] > 0 and run["queue_error_count"] == 0,
             "queue: %d queued, errors %s" % (run["queued"], run["queue_errors"]))
        need(run["delivered"] == run["queued"], "queue: %d of %d queued requests delivered" %
             (run["delivered"], run["queued"]))
        need(run["live"]["requests"] > 0, "queue: no live request completed")
        need("ratio" in queue, "queue: no ratio")

        jobs = results["jobs"]
        run = jobs.get("run")
        need(run is not None, "jobs: no run")
        need(run["job_state"] == "JOB_STATE_COMPLETED", "jobs: the job ended %s (%s)" %
             (run["job_state"], run["end_reason"] or "no reason"))
        counters = run["counters"]
        need(counters["selected"] == run["devices"], "jobs: the job selected %d of %d devices" %
             (counters["selected"], run["devices"]))
        need(counters["succeeded"] == run["devices"], "jobs: %d of %d devices succeeded (%s)" %
             (counters["succeeded"], run["devices"], counters))
        need(run["received"] == run["devices"], "jobs: the devices received %d requests for %d devices" %
             (run["received"], run["devices"]))
        need(run["live"]["requests"] > 0, "jobs: no live request completed")
        need("ratio" in jobs, "jobs: no ratio")

        shapes = {shape["shape"]: shape for shape in results["remembered"]["shapes"]}
        for name in REMEMBERED_SHAPES:
            shape = shapes.get(name)
            need(shape is not None, "remembered: no %s shape (correlator_bench BM_RememberedBytes)" % name)
            need(shape["requests"] > 0 and shape["remembered"] == shape["requests"],
                 "remembered %s: %d of %d requests remembered" % (name, shape["remembered"], shape["requests"]))
            for key in ("heap_bytes_per_request", "estimated_bytes_per_request"):
                need(isinstance(shape.get(key), (int, float)) and shape[key] > 0, "remembered %s: no %s" % (name, key))

        runs = results["scale"]["runs"]
        need(runs, "scale: no runs")
        need(any(run["name"] == "target" for run in runs), "scale: no run at the target's device count")
        need(len({run["devices"] for run in runs}) >= 3,
             "scale: %d device counts measured; per-device memory needs at least 3 to show it is flat" %
             len({run["devices"] for run in runs}))
        for run in runs:
            for target in ("bridge", "echo"):
                side = run.get(target)
                need(side is not None, "scale %s: no %s run" % (run["name"], target))
                need(side["ready"] == side["devices"], "scale %s %s: only %d of %d devices ready" %
                     (run["name"], target, side["ready"], side["devices"]))
                need("rss_per_device_kib" in side, "scale %s %s: no RSS per device" % (run["name"], target))
        need(results["commands"], "no commands recorded")
    except (Invalid, KeyError, TypeError) as error:
        print("results.py check: %s: %s" % (args.results, error), file=sys.stderr)
        return 1
    print("results.py check: %s has every section" % args.results)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("merge")
    m.add_argument("--raw", required=True)
    m.add_argument("--mode", choices=("full", "smoke"), required=True)
    m.add_argument("--out", required=True)
    c = sub.add_parser("check")
    c.add_argument("results")
    args = parser.parse_args()
    if args.command == "merge":
        merge(args)
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
