#!/usr/bin/env python3
"""Renders docs/PERFORMANCE.md from bench/results.json: the tables of
issues #18, #16 and #21 with each figure's ratio to its same-run baseline and whether
issue #18's target is met, the bridge's perf profiles, the hot-spot analysis (kept by
hand in bench/hot_spots.md, because a profile does not explain itself), the
machine and the exact commands.

    performance_report.py bench/results.json --hot-spots bench/hot_spots.md --out docs/PERFORMANCE.md
"""
import argparse
import json
import os
import sys


def num(value, digits=0):
    if value is None:
        return "–"
    if digits == 0:
        return "{:,.0f}".format(value)
    return "{:,.{d}f}".format(value, d=digits)


def ratio(value):
    return "–" if value is None else "{:.2f}×".format(value)


def ratio_with_range(row):
    """The median of the rounds' ratios, and their spread when there were several."""
    spread = row.get("ratio_range")
    if spread and spread[0] != spread[1]:
        return "{} ({:.2f}–{:.2f})".format(ratio(row.get("ratio")), spread[0], spread[1])
    return ratio(row.get("ratio"))


def small_ratio_with_range(row):
    """As ratio_with_range, to three decimals: for ratios far below 1, which two would round away."""
    value, spread = row.get("ratio"), row.get("ratio_range")
    if value is None:
        return "–"
    text = "{:.3f}×".format(value)
    if spread and spread[0] != spread[1]:
        text += " ({:.3f}–{:.3f})".format(spread[0], spread[1])
    return text


def met(value):
    if value is None:
        return "–"
    return "**met**" if value else "**not met**"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def code(symbol):
    """A symbol as inline code, shortened: template arguments say little here."""
    text = symbol.strip()
    if len(text) > 110:
        text = text[:107] + "..."
    return "`{}`".format(text.replace("|", "\\|"))


def latency(run, key):
    return num(run["latency_us"][key], 0) if run else "–"


# ------------------------------------------------------------------ sections

def per_concurrency(rows, key):
    return ", ".join("{}: {}".format(r["concurrency"], ratio(r.get(key))) for r in rows)


def scale_target_run(results):
    return next((run for run in results["scale"]["runs"] if run["name"] == "target"), {})


def summary(results):
    codec = results["codec"]["cases"]
    worst = max(codec, key=lambda c: c["ratio"])
    request = results["request"]["rows"]
    fan10 = next((r for r in results["fanout"]["rows"] if r["subscribers"] == 10), {})
    loss = results["fanout"]["loss"]
    remembered = next(s for s in results["remembered"]["shapes"] if s["shape"] == "ack")
    scale = scale_target_run(results)
    bridge_scale = scale.get("bridge", {})
    allocs = [c["decode_encode"]["allocs_per_msg"] for c in codec]
    rows = [
        ["Codec: decode+encode ≤ 3× a simdjson on-demand parse of the same bytes",
         "{} of {} cases; worst {} ({})".format(sum(c["met"] for c in codec), len(codec), ratio(worst["ratio"]),
                                               worst["name"]),
         met(all(c["met"] for c in codec))],
        ["Codec: ≤ 5 heap allocations per message (decode+encode)",
         "{} of {} cases; {}–{} per message".format(sum(c["allocs_met"] for c in codec), len(codec),
                                                    num(min(allocs), 1), num(max(allocs), 1)),
         met(all(c["allocs_met"] for c in codec))],
        ["Round trip: ≥ 0.5× gRPC echo req/s at 1, 16, 256", per_concurrency(request, "ratio"),
         met(all(r.get("met") for r in request))],
        ["Round trip: p99 ≤ 2× the echo's at 1, 16, 256", per_concurrency(request, "p99_ratio"),
         met(all(r.get("p99_met") for r in request))],
        ["Round trip: bridge CPU µs per request (a column, no target)",
         ", ".join("{}: {} µs ({} echo)".format(r["concurrency"],
                                               num(r.get("bridge", {}).get("server_cpu_us_per_request")),
                                               ratio(r.get("cpu_ratio"))) for r in request),
         "–"],
        ["Fan-out: ≥ 0.8× websocketpp echo msg/s with 10 subscribers", ratio(fan10.get("ratio")),
         met(fan10.get("met"))],
        ["Fan-out: zero loss below saturation",
         "{} lost, {} gaps in {} bridge runs (closed loop: see §3)".format(num(loss["lost"]), num(loss["gaps"]),
                                                                           loss["runs"]),
         met(loss["met"])],
        ["Memory per remembered request ≤ 128 bytes",
         "{} bytes of heap (the correlator's estimate: {}), round-trip shape, {} remembered".format(
             num(remembered["heap_bytes_per_request"]), num(remembered["estimated_bytes_per_request"]),
             num(remembered["requests"])),
         met(remembered["met"])],
        ["Scale: ≤ 16 KiB per idle device at 50,000 devices", scale_measured(results, scale),
         "**not measured** at 50,000 (≤ 16 KiB {} at {})".format(
             "met" if scale.get("memory_met") else "not met", num(bridge_scale.get("ready")))
         if scale.get("capped_by") else met(scale.get("met"))],
    ]
    return table(["target (issue #18)", "measured", "status"], rows)


def scale_measured(results, scale):
    """The target fleet's cost per device, the smaller fleets' beside it, and
    the extrapolation when the target could not be measured."""
    bridge = scale.get("bridge", {})
    text = "{} KiB/device at {} devices{}".format(num(bridge.get("rss_per_device_kib"), 1), num(bridge.get("ready")),
                                                  " (capped: see §7)" if scale.get("capped_by") else "")
    smaller = [run for run in results["scale"]["runs"] if run is not scale and run.get("bridge")]
    if smaller:
        text += "; {}".format(", ".join("{}: {}".format(num(run["bridge"]["ready"]),
                                                        num(run["bridge"].get("rss_per_device_kib"), 1))
                                        for run in smaller))
    extrapolated = results["scale"].get("extrapolated")
    if extrapolated:
        text += "; extrapolated to {}: {} MiB".format(num(extrapolated["devices"]), num(extrapolated["mib"]))
    return text


def machine(results):
    m = results["machine"]
    rows = [
        ["CPU", "{} × {}".format(m["nproc"], m["cpu_model"])],
        ["memory", "{} MiB".format(num(m.get("memory_mib")))],
        ["kernel", m["kernel"]],
        ["compiler", m["compiler"]],
        ["build", "CMAKE_BUILD_TYPE={}".format(m.get("build_type") or "?")],
        ["gRPC / protobuf / websocketpp", "{} / {} / {} (Debian)".format(m.get("grpc"), m.get("protobuf"),
                                                                        m.get("websocketpp"))],
        ["RLIMIT_NOFILE (hard)", num(m.get("file_limit"))],
        ["load average (1 min) at start / end", "{} / {}".format(num(m.get("load_average_at_start"), 2),
                                                                 num(m.get("load_average_at_end"), 2))],
        ["commit", m.get("commit") or "?"],
    ]
    return table(["", ""], rows)


def codec_table(results):
    rows = []
    for c in results["codec"]["cases"]:
        rows.append([
            c["name"] + (" ({} msgs/frame)".format(c["messages"]) if c["messages"] > 1 else ""),
            num(c["simdjson_parse"]["cpu_ns_per_msg"]),
            num(c["parse_only"]["cpu_ns_per_msg"]),
            num(c["decode"]["cpu_ns_per_msg"]),
            num(c["encode"]["cpu_ns_per_msg"]),
            num(c["decode_encode"]["cpu_ns_per_msg"]),
            ratio(c["ratio"]),
            met(c["met"]),
            ratio(c["ratio_parse_only"]),
            num(c["decode_encode"]["allocs_per_msg"], 1),
            met(c["allocs_met"]),
            "{} / {}".format(num(c["decode"]["allocs_per_msg"], 1), num(c["encode"]["allocs_per_msg"], 1)),
            "{} / {}".format(num(c["simdjson_parse"]["allocs_per_msg"], 1), num(c["parse_only"]["allocs_per_msg"], 1)),
        ])
    return table(["message", "simdjson ns", "RapidJSON parse-only ns", "decode ns", "encode ns", "decode+encode ns",
                  "ratio to simdjson (≤ 3×)", "status", "ratio to RapidJSON (issue #6)",
                  "allocs decode+encode (≤ 5)", "status", "allocs decode / encode", "allocs simdjson / RapidJSON"],
                 rows)


def cpu_per_request(run):
    return num(run and run.get("server_cpu_us_per_request"))


def request_table(results):
    rows = []
    for r in results["request"]["rows"]:
        echo, bridge = r.get("echo"), r.get("bridge")
        rows.append([
            r["concurrency"],
            num(echo and echo["rps"]), num(bridge and bridge["rps"]), ratio_with_range(r), met(r.get("met")),
            "{} / {} / {}".format(latency(echo, "p50"), latency(echo, "p99"), latency(echo, "p999")),
            "{} / {} / {}".format(latency(bridge, "p50"), latency(bridge, "p99"), latency(bridge, "p999")),
            ratio(r.get("p99_ratio")), met(r.get("p99_met")),
            cpu_per_request(echo), cpu_per_request(bridge), ratio(r.get("cpu_ratio")),
            num(bridge and bridge["error_count"]),
        ])
    text = table(["concurrency", "echo req/s", "bridge req/s", "ratio (≥ 0.5; range over rounds)", "status",
                  "echo p50/p99/p99.9 µs", "bridge p50/p99/p99.9 µs", "p99 ratio (≤ 2×)", "status",
                  "echo CPU µs/req¹", "bridge CPU µs/req¹", "CPU ratio", "bridge errors"], rows)
    text += ("\n\n¹ Each server process's CPU time (utime + stime of /proc/PID/stat, every thread) over exactly "
             "the measured window (hive-loadgen reads it next to the window's own tallies), divided by the calls "
             "completed in it. The bridge's figure leaves out the simulated devices' process, the device leg's "
             "other end; the echo has no device leg. The ratios are each round's pair, the median over rounds; "
             "the p99 ratio likewise.")
    return text


def fanout_table(results):
    fanout = results["fanout"]
    echo = fanout["echo"]
    rows = [["echo (baseline)", "–", num(echo["delivered_per_s"]), num(echo["events_per_s"]),
             "{} / {} / {}".format(latency(echo, "p50"), latency(echo, "p99"), latency(echo, "p999")),
             "1.00×", "–", "{} / {}".format(echo["lost"], 0)]]
    for r in fanout["rows"]:
        b = r.get("bridge")
        rows.append(["bridge", r["subscribers"], num(b and b["delivered_per_s"]), num(b and b["events_per_s"]),
                     "{} / {} / {}".format(latency(b, "p50"), latency(b, "p99"), latency(b, "p999")),
                     ratio_with_range(r), met(r.get("met")) if r.get("met") is not None else "–",
                     "{} / {}".format(b["lost"], b["gaps"]) if b else "–"])
    after = fanout.get("after_requests")
    fresh = next((r for r in fanout["rows"] if r["subscribers"] == 10 and r.get("bridge")), None)
    if after and fresh:
        rows.append(["bridge after the round-trip runs¹", 10, num(after["delivered_per_s"]),
                     num(after["events_per_s"]),
                     "{} / {} / {}".format(latency(after, "p50"), latency(after, "p99"), latency(after, "p999")),
                     "{} of the fresh bridge".format(ratio(after["delivered_per_s"] /
                                                          fresh["bridge"]["delivered_per_s"])),
                     "–", "{} / {}".format(after["lost"], after["gaps"])])
    text = table(["server", "subscribers", "deliveries/s", "events/s", "device→subscriber p50/p99/p99.9 µs",
                  "ratio to echo (range over rounds)", "status (10 subs ≥ 0.8)", "lost / gaps"], rows)
    loss = fanout["loss"]
    text += ("\n\nLoss below saturation: {} lost and {} gaps over all {} bridge runs (every round and subscriber "
             "count), **{}**. The load is closed-loop (an emitter sends its next event only once every subscriber "
             "has the last), so no run offers more than the bridge delivers.".format(
                 num(loss["lost"]), num(loss["gaps"]), loss["runs"], "met" if loss["met"] else "not met"))
    if after and fresh:
        text += ("\n\n¹ Evidence, not a target: the same 10-subscriber load on the round-trip phase's bridge, "
                 "right after it completed {} requests (measured windows only), which it remembers for the "
                 "5-minute `--dedupe-window`; see Hot spots.".format(num(results["request"].get("bridge_requests"))))
    return text


def twin_table(results):
    twin = results.get("twin") or {}
    rows = []
    for side, label in (("memory", "twins in memory (no `--state-dir`)"),
                        ("state", "twins persisted (`--state-dir`)")):
        run = twin.get(side)
        if not run:
            return "(not measured in this run: `make bench` from a version with the twin phase)"
        rows.append([label, num(run and run["delivered_per_s"]), num(run and run["events_per_s"]),
                     "{} / {} / {}".format(latency(run, "p50"), latency(run, "p99"), latency(run, "p999")),
                     "1.00×" if side == "memory" else ratio_with_range(twin),
                     "{} / {}".format(run["lost"], run["gaps"]) if run else "–"])
    return table(["bridge", "deliveries/s", "events/s", "device→subscriber p50/p99/p99.9 µs",
                  "ratio (range over rounds)", "lost / gaps"], rows)


def queue_table(results):
    queue = results.get("queue") or {}
    run = queue.get("run")
    if not run:
        return "(not measured in this run: `make bench` from a version with the queue phase)"
    live = run["live"]
    rows = [
        ["live requests, devices online (baseline)", num(live["rps"]),
         "{} / {} / {}".format(latency(live, "p50"), latency(live, "p99"), latency(live, "p999")), "1.00×"],
        ["queueing for offline devices (answered QUEUED)", num(run["queued_per_s"]), "–",
         ratio(queue.get("queueing_ratio"))],
        ["delivery as the devices connect", num(run["delivered_per_s"]), "–", ratio_with_range(queue)],
    ]
    text = table(["", "requests/s", "p50/p99/p99.9 µs", "ratio to live"], rows)
    text += ("\n\n{} requests for {} devices, {} calls in flight; all {} delivered in {} s from the first "
             "connect (the devices were all authenticated after {} s)."
             .format(num(run["queued"]), num(run["devices"]), run["concurrency"], num(run["delivered"]),
                     num(run["delivery_s"], 2), num(run["connect_s"], 2)))
    return text


def jobs_table(results):
    jobs = results.get("jobs") or {}
    run = jobs.get("run")
    if not run:
        return "(not measured in this run: `make bench` from a version with the jobs phase)"
    live = run["live"]
    rows = [
        ["live requests, devices online (baseline)", num(live["rps"]),
         "{} / {} / {}".format(latency(live, "p50"), latency(live, "p99"), latency(live, "p999")), "1.00×"],
        ["fleet job, StartJob to its end (devices/s)", num(run["job_per_s"]), "–", small_ratio_with_range(jobs)],
    ]
    text = table(["", "requests/s", "p50/p99/p99.9 µs", "ratio to live"], rows)
    counters = run["counters"]
    text += ("\n\nA job over {} online devices (a selector on their account), `max_in_flight` {} and "
             "`max_rate` the largest StartJob accepts; the baseline keeps as many calls in flight. It ended {} "
             "after {} s ({} s from its `created_at` to its `ended_at`): {} of {} devices acked, {} failed; "
             "WatchJob sent {} messages. Devices/s per round: {}."
             .format(num(run["devices"]), run["concurrency"], run["job_state"].replace("JOB_STATE_", ""),
                     num(run["job_s"], 2), num(run["job_server_s"], 2), num(counters["succeeded"]),
                     num(counters["selected"]), num(counters["failed"]), num(run["watch_messages"]),
                     ", ".join(num(r) for r in jobs.get("rounds_job_per_s", []))))
    return text


def remembered_table(results):
    section = results["remembered"]
    rows = []
    for shape in section["shapes"]:
        heap = shape["heap_bytes_per_request"]
        rows.append([
            {"ack": "round trip (WAIT_MODE_ACK, acked)",
             "result": "with a small result (WAIT_MODE_RESULT)"}.get(shape["shape"], shape["shape"]),
            num(shape["remembered"]), num(heap), num(shape["estimated_bytes_per_request"]),
            met(shape["met"]) if shape["met"] is not None else "–",
            num(heap * WINDOW_REQUESTS / 1e6),
        ])
    return table(["shape", "remembered", "heap bytes per request", "correlator's estimate, bytes",
                  "≤ 128 B", "MB for 5 min at 20,000 req/s"], rows)


# Requests the dedupe window remembers at issue #18's rate: 5 minutes at 20,000 req/s.
WINDOW_REQUESTS = 5 * 60 * 20000


def scale_table(results):
    rows = []
    for run in results["scale"]["runs"]:
        for target in ("bridge", "echo"):
            side = run.get(target)
            if not side:
                continue
            rows.append([
                "hivebridge" if target == "bridge" else "websocketpp echo (stock config)",
                "{} of {}".format(num(side["ready"]), num(run["requested"])),
                side["addresses"],
                num(side["connect_rate"]),
                "{} → {}".format(num(side.get("rss_before_kib")), num(side.get("rss_after_kib"))),
                num(side.get("rss_per_device_kib"), 2),
                ratio(run.get("ratio")) if target == "bridge" else "1.00×",
                met(run.get("memory_met")) if target == "bridge" else "–",
                num(side.get("server_cpu_us_per_connect")),
                ratio(run.get("cpu_ratio")) if target == "bridge" else "1.00×",
                "{} s".format(num(side.get("loadgen_cpu_s"), 1)),
            ])
    text = table(["server", "devices ready", "127.0.0.x addresses", "connects/s", "RSS KiB idle → loaded",
                  "KiB per device", "ratio to echo", "≤ 16 KiB", "server CPU µs per connect", "ratio to echo",
                  "load generator CPU"], rows)
    for run in results["scale"]["runs"]:
        if run.get("capped_by"):
            text += ("\n\n**{} devices asked, {} measured**: capped by {}. Every device is one descriptor in "
                     "the bridge and one in the load generator, so one bridge process here cannot hold more "
                     "than the limit; the 50,000-device target is **not measured** on this machine."
                     .format(num(run["requested"]), num(run["devices"]), run["capped_by"]))
    extrapolated = results["scale"].get("extrapolated")
    if extrapolated:
        per_device = [run["bridge"]["rss_per_device_kib"] for run in results["scale"]["runs"]
                      if run.get("bridge") and "rss_per_device_kib" in run["bridge"]]
        text += ("\n\n**Extrapolated to {} devices**: {} KiB per device (measured at {} devices) × {} = {} MiB "
                 "over the idle bridge. Per device, the fleets measured ({} devices) span {}–{} KiB; the "
                 "extrapolation holds as far as the cost stays that flat."
                 .format(num(extrapolated["devices"]), num(extrapolated["kib_per_device"], 2),
                         num(extrapolated["from_devices"]), num(extrapolated["devices"]), num(extrapolated["mib"]),
                         ", ".join(num(run["bridge"]["ready"]) for run in results["scale"]["runs"]
                                   if run.get("bridge")),
                         num(min(per_device), 2), num(max(per_device), 2)))
    return text


def profile_tables(results):
    out = []
    titles = {"request": "Round trip (SendDeviceRequest, concurrency 256)",
              "fanout": "Fan-out (10 subscribers)"}
    for name, profile in results["perf"].items():
        out.append("### {}\n".format(titles.get(name, name)))
        if profile.get("samples"):
            out.append("{} samples of the bridge process (`perf record --call-graph dwarf -F 199 -p`), by "
                       "self time:\n".format(profile["samples"]))
        if profile.get("dsos"):
            out.append("By library: " + ", ".join("{} {:.1f} %".format(d["dso"], d["percent"])
                                                  for d in profile["dsos"][:8]) + ".\n")
        rows = [[num(t["percent"], 2), t["dso"], code(t["symbol"])] for t in profile["top"][:20]]
        out.append(table(["self %", "library", "symbol"], rows))
        out.append("")
        if profile.get("inclusive"):
            out.append("Inclusive time (the function and what it calls) of the bridge's own code and of the "
                       "costs the hot spots are about:\n")
            rows = [[num(t["percent"], 1), num(t["self"], 1), code(t["symbol"])] for t in profile["inclusive"]]
            out.append(table(["incl. %", "self %", "symbol"], rows))
            out.append("")
    if not out:
        return "perf was not available for this run (install Debian `linux-perf`)."
    return "\n".join(out)


METHOD = """\
- **Baselines run in the same run, interleaved.** Each round runs the echo baseline and then the bridge
  at the same setting. A row's ratio is the median over rounds of each round's bridge figure divided by
  the baseline measured just before it (the range is in brackets); its absolute numbers come from the
  round with the median throughput, and results.json keeps every round. On a shared 2-core VM the
  absolute numbers move with whatever else runs; the paired ratios move less.
- **Each phase has a bridge of its own** (Release build, default flags), so that one phase's state does
  not weigh on the next: the round-trip bridge remembers its requests for 5 minutes (see Hot spots).
  The bridges run with `--device-event-rate=0` when they have that option: the fan-out measures the
  event path, not the per-device rate limit (a policy), and results.py refuses fan-out results in which
  the bridge answered events with errors.
- **Codec**: Google Benchmark, CPU time per message (wall time on a busy machine also counts time the
  benchmark was not running), median of 3 repetitions. Inputs are the seed fixture and the golden files
  minified, as a device sends them. The simdjson baseline (libsimdjson-dev 3.0, issue #18's) is an
  on-demand parse with one `ondemand::parser` kept across iterations and the bytes padded once, that
  visits every value: each key and string unescaped, each number converted, each bool and null read
  (on demand, what is not asked for is skipped, not parsed); a case it cannot read to the end stops the
  benchmark. Allocations are counted in the benchmark binary by a replaced global `operator new` and an
  interposed `malloc` (bench/alloc_counter.cc); RapidJSON's parse-only baseline allocates through
  `malloc` directly. (Google Benchmark's "library was built as DEBUG"
  warning is about Debian's libbenchmark, not the code measured.)
- **Round trip**: `hive-loadgen --mode=request` keeps N `SendDeviceRequest` calls (WAIT_MODE_ACK, the
  seed's SchedulerAction.stop) in flight with the gRPC callback API over one channel, against 1,000
  `hive-device-sim` devices answering `--on-request ack`. The baseline is `bench/grpc_echo_server`, which
  serves the same method and answers ACKED at once, so the client code is identical. Latency is call
  start to completion. CPU per request: with `--server-pid`, hive-loadgen reads the server's utime +
  stime (/proc/PID/stat, clock ticks) next to the tallies that open and close the measured window, and
  divides by the calls completed in it.
- **Fan-out**: `hive-loadgen --mode=fanout`: 8 WebSocket devices each keep 8 `device-state` events in
  flight; an event's slot sends the next one only when every subscriber has received it (closed loop:
  the rate is what the bridge sustains without dropping). Each subscriber is a SubscribeEvents stream
  on its own connection. The event carries its send time, so latency is device send → subscriber
  receipt in one process. The baseline is the same 8×8 devices against `bench/ws_echo_server`
  (websocketpp's stock `config::asio`), with the same frame size; the ratio is the bridge's
  deliveries/s (every subscriber's receipts) over the echo's messages/s. The load generator's sockets
  set TCP_NODELAY (see Hot spots, item 7).
- **Twin**: the fan-out above with 10 subscribers, each round against a fresh bridge without and then
  with `--state-dir`; the ratio is the paired deliveries/s (with / without).
- **Queued requests**: `hive-loadgen --mode=queue` queues its requests with blocking calls (16 threads)
  while the devices are offline, then starts `hive-device-sim`'s client in-process for them and times
  from the first connect until the devices have received every queued request; then it runs the
  round-trip load (same concurrency, warm-up and window as the round trip) on the same bridge and
  devices as the baseline. Each round uses devices of a seed of its own, so they start offline.
- **Fleet jobs**: `hive-loadgen --mode=job` connects the devices (`hive-device-sim`'s client in-process,
  acking every request, an account of each round's own), starts a job over them with a selector on
  that account (online devices) and reads its WatchJob stream to the end; `rollout.max_rate` is the
  largest double (StartJob accepts any finite rate above zero), so only `max_in_flight` (the
  concurrency) and the bridge's own cost pace it. Then the round-trip load runs at the same
  concurrency on the same bridge and devices as the baseline (a shorter window than the round trip's,
  to keep the phase under a minute). Each round uses devices of a seed of their own.
- **Memory per remembered request**: `correlator_bench`'s `BM_RememberedBytes` fills a `RequestCorrelator`
  (its budgets unlimited) with 100,000 requests of the round trip's shape: UUID request ids, 1,000 devices
  (`device-000123`) of one account, each on a connection of its own; Await, MarkSent, OnAck (and for the
  result shape OnResult with `{"ok":true,"temperature":21.5}`), each waiter done. The heap is glibc's
  `mallinfo2()` (`uordblks + hblkhd`: chunks in use with their headers, which are real memory, and
  mmapped blocks) after the fill minus before, per request, in a binary on glibc's malloc; the bridge
  itself runs on tcmalloc, whose size classes round differently and keep no per-chunk header. The
  correlator's estimate (`remembered().bytes / entries`: for a request nobody waits for, its packed
  record's exact size plus 24 bytes) is what `--max-remembered-bytes` counts.
- **Scale**: `hive-loadgen --mode=scale` runs `hive-device-sim`'s client in-process: idle devices
  authenticating with minted HS256 tokens, spread over 127.0.0.x destination addresses when more than
  one address's ephemeral ports are needed (websocketpp's client closes and reopens its socket in
  `async_connect`, so it cannot bind a source address; another destination address opens the same
  fresh port range, so hive-device-sim needs no `--source-addresses`). RSS is the server's VmRSS after
  every device is ready and 3 s of idling, minus its VmRSS before the first connect; CPU per connect is
  the server's utime + stime over the connect phase. The baseline is the websocketpp echo server
  holding the same number of idle connections. Smaller fleets (1,000 and 5,000 devices) run first, each
  on a fresh bridge, to show whether the cost per device is flat up to the largest fleet measured.
- **Profiles**: `perf record --call-graph dwarf` of the bridge (the Release build has no frame
  pointers) during an extra run of each load, so the measured runs are not slowed by sampling.
- Timed asserts do not belong in tests: `make test` runs `bench.smoke` (the same script with tiny
  durations), which only checks that every benchmark runs and the results have every section."""


def render(results, hot_spots):
    generated = results["generated_at"]
    smoke = results["mode"] != "full"
    parts = [
        "# Performance",
        "",
        "Generated by `make bench` ({}) from [bench/results.json](../bench/results.json); the analysis "
        "comes from [bench/hot_spots.md](../bench/hot_spots.md). Every figure is a ratio to a baseline "
        "measured in the same run on the same machine; the targets are issue #18's. Regenerate with `make bench` "
        "(about 20 minutes); `make bench-smoke` proves in under a minute that everything still runs."
        .format(generated),
    ]
    if smoke:
        parts += ["", "> **Smoke run**: tiny durations; these numbers mean nothing."]
    parts += [
        "", "## Summary", "", summary(results),
        "", "## Machine", "", machine(results),
        "", "## 1. Codec micro-benchmarks", "",
        "Per message, CPU ns. Baselines over the same bytes: a simdjson 3.0 on-demand parse that visits every "
        "value (issue #18's target is decode+encode ≤ 3× it) and `rapidjson::Document::Parse` (issue #6's "
        "baseline, kept for history). Allocations are heap allocations per message (malloc level, operator new "
        "included).", "",
        codec_table(results),
        "", "## 2. Request round trip", "",
        "`SendDeviceRequest` (WAIT_MODE_ACK) at fixed concurrency against 1,000 simulated devices that ack "
        "at once; baseline: a bare gRPC callback-API server answering the same method at once.", "",
        request_table(results),
        "", "## 3. Event fan-out", "",
        "8 devices × 8 events in flight, `device-state` events of {} bytes; baseline: bare websocketpp echo "
        "of the same frames.".format(results["fanout"]["echo"]["frame_bytes"]), "",
        fanout_table(results),
        "", "## 4. The device twin on the event path", "",
        "The 10-subscriber fan-out of section 3 against a bridge keeping its twins in memory and one that "
        "also persists them to SQLite under `--state-dir` (write-behind every 100 ms), alternating in each "
        "round.", "",
        twin_table(results),
        "", "## 5. Queued requests", "",
        "`hive-loadgen --mode=queue` against a bridge with `--state-dir`: requests with a `queue_ttl` for "
        "devices that are offline (each stored durably before the bridge answers QUEUED), then the devices "
        "connect (acking at once) and get them in order; the baseline is the same requests sent live to the "
        "same devices right after, on the same bridge, at the same concurrency.", "",
        queue_table(results),
        "", "## 6. Fleet jobs", "",
        "`hive-loadgen --mode=job` against a bridge with `--state-dir`: one job (`FleetJobs.StartJob`, "
        "WAIT_MODE_ACK) sends the request of section 2 to every device of a fleet that is online and acks at "
        "once, each as a queued request (stored durably first); the figure is devices at their outcome per "
        "second from StartJob until the job's WatchJob stream ends. The baseline is the same requests sent "
        "live by the load generator itself to the same devices right after, on the same bridge, at the "
        "job's `max_in_flight`.", "",
        jobs_table(results),
        "", "## 7. Connection scale", "",
        "Idle authenticated devices on one bridge process; baseline: the websocketpp echo server holding as "
        "many idle connections.", "",
        scale_table(results),
        "", "## 8. Memory per remembered request", "",
        "The bridge remembers every request's outcome for the `--dedupe-window` (5 minutes), so that a retry is "
        "answered instead of sent twice. Heap held per remembered request by the request correlator, measured "
        "with glibc's allocator accounting (malloc chunk headers included), next to the correlator's own "
        "estimate. The last column is what a 5-minute window would hold at issue #18's 20,000 req/s (the "
        "default budgets, `--max-remembered-requests` 500,000 and `--max-remembered-bytes` 64 MiB estimated, "
        "forget the oldest long before that).", "",
        remembered_table(results),
        "", "## Where the time goes (perf)", "",
        profile_tables(results),
        "", "## Hot spots and the remaining gaps", "",
        hot_spots.strip(),
        "", "## How it was measured", "", METHOD,
        "", "## The exact commands", "",
        "Ports are the ones the kernel picked in this run; JWT_SECRET is a per-run random secret.", "",
        "```sh", "make bench   # = cmake -B build/bench -DCMAKE_BUILD_TYPE=Release, build, scripts/bench.sh",
    ]
    parts += results["commands"]
    parts += ["```", ""]
    return "\n".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results")
    parser.add_argument("--hot-spots", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.results) as f:
        results = json.load(f)
    hot_spots = open(args.hot_spots).read() if os.path.exists(args.hot_spots) else "(no analysis yet)"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(render(results, hot_spots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
