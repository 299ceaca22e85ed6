#!/usr/bin/python3
"""Runs one SDK end-to-end test against real bridges and a simulator.

    bridge_harness.py --hivebridge BIN --device-sim BIN -- <command...>

Starts, on loopback ports the kernel picks:
  - a plaintext hivebridge with one simulated device (answers ack + result,
    two events a second) and a --state-dir (a temporary directory), so
    requests with queue_ttl for offline devices are queued; the test may
    restart it (the queue survives the restart);
  - a hivebridge with gRPC on TLS (a test CA made here with openssl) and a
    --backend-policy-file granting one bearer token one account, with one
    simulated device of that account;
waits until both devices are connected, then runs the command with these in
its environment, and passes its exit code:

  HIVE_BRIDGE_TARGET       plaintext bridge, host:port
  HIVE_DEVICE_ID           its device (account HIVE_ACCOUNT_ID)
  HIVE_TLS_TARGET          TLS bridge, host:port (verify as HIVE_TLS_SERVER_NAME)
  HIVE_TLS_CA              PEM file of the test CA
  HIVE_TLS_SERVER_NAME     the name in the TLS bridge's certificate
  HIVE_TOKEN               the bearer token the policy grants HIVE_ACCOUNT_ID
  HIVE_TLS_DEVICE_ID       the TLS bridge's device (account HIVE_ACCOUNT_ID)
  HIVE_OTHER_ACCOUNT_ID    an account the token is not granted
  HIVE_RESTART_COMMAND     a shell command that restarts the plaintext bridge
                           on the same ports and returns once it listens (its
                           device reconnects by itself, soon after)

With --extra-bridge-flags FLAGS (shell words) it also starts a third
plaintext bridge with those flags added (no simulator; e.g. a small
--subscriber-queue for slow-subscriber tests), and sets:

  HIVE_EXTRA_TARGET        that bridge, host:port
  HIVE_EXTRA_DEVICE_COMMAND  a shell command; with DEVICE_ID COUNT appended it
                           connects to that bridge as device DEVICE_ID (account
                           HIVE_ACCOUNT_ID) and sends an event of type
                           `sdk-warm` every 50 ms until a line arrives on its
                           stdin, then COUNT events of type `sdk-burst` with
                           the field `marker` = 0 ... COUNT-1 in that order (and
                           a `pad` of 200 bytes, so that COUNT events overflow
                           flow-control windows sooner), then closes and exits 0
                           once the bridge closed too (it has read them all)

Bounded: the command gets --timeout seconds (default 90). Both bridges' logs
are printed when the command fails.
"""

import argparse
import asyncio
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import jwt
import websockets

ACCOUNT = "7b1a3c52-5e0d-4b7a-9a53-2f6e8c1d4a10"
OTHER_ACCOUNT = "0c9e8d7f-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
DEVICE = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b"
TLS_DEVICE = "5f0e3a9b-7c1d-4e2f-8a6b-3c4d5e6f7a8b"
SERVER_NAME = "bridge.hive.test"
STARTED = re.compile(r"event=started\b.*\bws_port=(\d+).*\bgrpc_port=(\d+)")


def log(msg):
    print("[bridge_harness] " + msg, file=sys.stderr, flush=True)


def wait_for(what, predicate, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit("bridge_harness: timed out waiting for " + what)


class Bridge:
    """One hivebridge process; restartable on the ports of its first start."""

    def __init__(self, binary, tmp, name, extra_flags):
        self.binary, self.tmp, self.name, self.extra = binary, tmp, name, extra_flags
        self.log_path = os.path.join(tmp, name + ".log")
        self.ws_port = self.grpc_port = 0
        self.proc = None

    def start(self):
        open(self.log_path, "a").close()
        offset = os.path.getsize(self.log_path)
        flags = ["--jwt-secret-file", os.path.join(self.tmp, "jwt-secret"),
                 "--ws-listen=127.0.0.1:%d" % self.ws_port,
                 "--grpc-listen=127.0.0.1:%d" % self.grpc_port] + self.extra
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([self.binary] + flags, stdout=subprocess.DEVNULL, stderr=out)

        def started():
            if self.proc.poll() is not None:
                raise SystemExit("bridge_harness: %s exited %s at start:\n%s"
                                 % (self.name, self.proc.returncode, self.tail()))
            with open(self.log_path, errors="replace") as f:
                f.seek(offset)
                m = STARTED.search(f.read())
            return m
        m = wait_for(self.name + " to start", started, timeout=30)
        self.ws_port, self.grpc_port = int(m.group(1)), int(m.group(2))
        log("%s pid=%d ws_port=%d grpc_port=%d" % (self.name, self.proc.pid, self.ws_port, self.grpc_port))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def wait_connected(self, device, sim):
        """Returns once `device` has connected (the log says so): tests start with it online."""
        def connected():
            if sim.poll() is not None:
                raise SystemExit("bridge_harness: the simulator of %s exited %s" % (device, sim.returncode))
            with open(self.log_path, errors="replace") as f:
                return ("event=device_connected device=%s " % device) in f.read()
        wait_for("device %s to connect to %s" % (device, self.name), connected, timeout=30)

    def tail(self, n=30):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])


def start_sim(binary, tmp, bridge, device, name):
    out = open(os.path.join(tmp, name + ".log"), "wb")
    return subprocess.Popen(
        [binary, "--url", "ws://127.0.0.1:%d/v1/devices" % bridge.ws_port,
         "--jwt-secret-file", os.path.join(tmp, "jwt-secret"), "--devices", "1",
         "--device-id", device, "--account", ACCOUNT, "--on-request", "ack-result",
         "--event-rate", "2", "--quiet"], stdout=out, stderr=subprocess.STDOUT)


async def device_events(ws_port, secret_file, account, device, count):
    """HIVE_EXTRA_DEVICE_COMMAND: see the module's docstring."""
    with open(secret_file, "rb") as f:
        secret = f.read()
    token = jwt.encode({"sub": device, "account": account, "exp": int(time.time()) + 600}, secret, algorithm="HS256")
    async with websockets.connect("ws://127.0.0.1:%d/v1/devices" % ws_port,
                                  extra_headers={"Authorization": "Bearer " + token}) as ws:
        go = asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        while not go.done():
            await ws.send(json.dumps({"type": "sdk-warm"}))
            await asyncio.wait([go], timeout=0.05)
        pad = "p" * 200
        for start in range(0, count, 200):  # batches under the default --max-batch (256)
            await ws.send(json.dumps([{"type": "sdk-burst", "marker": i, "pad": pad}
                                      for i in range(start, min(count, start + 200))]))
        # The close handshake: the bridge answers our close once it has read
        # every frame before it.
        await ws.close()
    return 0


def make_test_ca(tmp):
    """A CA and a server certificate for SERVER_NAME (and 127.0.0.1) it signed."""
    def openssl(*args):
        subprocess.run(["openssl"] + list(args), cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=hive test CA",
            "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + SERVER_NAME,
            "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(tmp, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:%s,IP:127.0.0.1\n" % SERVER_NAME)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hivebridge", required=True)
    parser.add_argument("--device-sim", required=True)
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--extra-bridge-flags", metavar="FLAGS",
                        help="also start a bridge with these flags (see HIVE_EXTRA_TARGET)")
    parser.add_argument("--restart", metavar="PIDFILE", help=argparse.SUPPRESS)
    parser.add_argument("--device-events", nargs=5, metavar=("WS_PORT", "SECRET", "ACCOUNT", "DEVICE", "COUNT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()

    if args.restart:  # HIVE_RESTART_COMMAND: ask the harness, then wait for it
        with open(args.restart) as f:
            pid = int(f.read())
        done = args.restart + ".done"
        if os.path.exists(done):
            os.unlink(done)
        os.kill(pid, signal.SIGUSR1)
        wait_for("the bridge restart", lambda: os.path.exists(done), timeout=30)
        return 0

    if args.device_events:  # HIVE_EXTRA_DEVICE_COMMAND, with DEVICE_ID COUNT appended
        port, secret, account, device, count = args.device_events
        return asyncio.run(device_events(int(port), secret, account, device, int(count)))
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    tmp = tempfile.mkdtemp(prefix="hive-sdk-")
    bridges, sims = [], []
    try:
        with open(os.path.join(tmp, "jwt-secret"), "w") as f:
            f.write(secrets.token_urlsafe(48))
        make_test_ca(tmp)
        token = secrets.token_urlsafe(24)
        with open(os.path.join(tmp, "backend-policy"), "w") as f:
            f.write("sdk-test token-sha256:%s %s\n" % (hashlib.sha256(token.encode()).hexdigest(), ACCOUNT))

        plain = Bridge(args.hivebridge, tmp, "hivebridge", ["--state-dir", os.path.join(tmp, "state")])
        tls = Bridge(args.hivebridge, tmp, "hivebridge-tls", [
            "--grpc-tls-cert", os.path.join(tmp, "server.pem"),
            "--grpc-tls-key", os.path.join(tmp, "server.key"),
            "--backend-policy-file", os.path.join(tmp, "backend-policy")])
        bridges += [plain, tls]
        extra = None
        if args.extra_bridge_flags:
            extra = Bridge(args.hivebridge, tmp, "hivebridge-extra", shlex.split(args.extra_bridge_flags))
            bridges.append(extra)
        for b in bridges:
            b.start()
        sims.append(start_sim(args.device_sim, tmp, plain, DEVICE, "sim"))
        sims.append(start_sim(args.device_sim, tmp, tls, TLS_DEVICE, "sim-tls"))
        plain.wait_connected(DEVICE, sims[0])
        tls.wait_connected(TLS_DEVICE, sims[1])

        pidfile = os.path.join(tmp, "harness.pid")
        with open(pidfile, "w") as f:
            f.write(str(os.getpid()))

        def restart(signum, frame):
            log("restarting %s" % plain.name)
            plain.stop()
            plain.start()
            open(pidfile + ".done", "w").close()
        signal.signal(signal.SIGUSR1, restart)

        env = dict(os.environ)
        env.pop("LD_LIBRARY_PATH", None)  # the SDKs are clients, not under a sanitizer
        env.update({
            "HIVE_BRIDGE_TARGET": "127.0.0.1:%d" % plain.grpc_port,
            "HIVE_DEVICE_ID": DEVICE,
            "HIVE_ACCOUNT_ID": ACCOUNT,
            "HIVE_OTHER_ACCOUNT_ID": OTHER_ACCOUNT,
            "HIVE_TLS_TARGET": "127.0.0.1:%d" % tls.grpc_port,
            "HIVE_TLS_CA": os.path.join(tmp, "ca.pem"),
            "HIVE_TLS_SERVER_NAME": SERVER_NAME,
            "HIVE_TOKEN": token,
            "HIVE_TLS_DEVICE_ID": TLS_DEVICE,
            "HIVE_RESTART_COMMAND": "%s %s --hivebridge x --device-sim x --restart %s"
                                    % (sys.executable, os.path.abspath(__file__), pidfile),
        })
        if extra:
            env["HIVE_EXTRA_TARGET"] = "127.0.0.1:%d" % extra.grpc_port
            env["HIVE_EXTRA_DEVICE_COMMAND"] = "%s %s --hivebridge x --device-sim x --device-events %d %s %s" % (
                sys.executable, os.path.abspath(__file__), extra.ws_port, os.path.join(tmp, "jwt-secret"), ACCOUNT)
        log("running: " + " ".join(command))
        child = subprocess.Popen(command, env=env)
        while True:  # wait() is interrupted by SIGUSR1; keep waiting
            try:
                rc = child.wait(timeout=args.timeout)
                break
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                log("FAIL: the test ran longer than %gs" % args.timeout)
                rc = 1
                break
            except InterruptedError:
                continue
        if rc != 0:
            for b in bridges:
                log("---- %s.log (tail)\n%s" % (b.name, b.tail()))
        return rc
    finally:
        for p in sims:
            p.terminate()
        for p in sims:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        for b in bridges:
            b.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
