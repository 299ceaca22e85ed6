#!/usr/bin/python3
"""image.oci: the container image `make image` builds, built from this tree's
binaries and run from its own root filesystem.

scripts/image.sh writes the OCI layout and archive into a temporary directory;
then this test checks, in order:
  1. the archive's config (skopeo inspect): the OCI labels, version = CMake's
     project(VERSION), revision = HEAD, user 10001:10001, entrypoint and user
     as in the Dockerfile, exposed ports = the defaults `hivebridge --help` prints;
  2. the root filesystem (skopeo copies the archive back to a layout, umoci
     unpacks it): exactly the shared libraries ldd names for the two binaries,
     at their real paths; no symlink leaving the root; stripped binaries;
     user and group 10001; CA certificates; /tmp 1777;
  3. inside `chroot ROOTFS` with an empty environment: `hivebridge --version`
     prints the version, `hivectl --help` works, and hivebridge, run as
     10001:10001 on free loopback ports, answers /healthz to curl from outside
     and `hivectl devices` from inside, maps no file from outside the root
     (/proc/PID/maps), and exits 0 on SIGTERM.
Needs root (chroot, and umoci unpack keeps the image's owners); exits 77
(skipped) otherwise.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

ENTRYPOINT_IN_IMAGE = "/usr/local/bin/hivebridge"
HIVECTL_IN_IMAGE = "/usr/local/bin/hivectl"
UID = 10001
LABELS = ["title", "description", "version", "revision", "source", "licenses", "created"]
# Bounds that only catch hangs; nothing here waits for a fixed time.
START_BOUND_S = 30
STOP_BOUND_S = 30


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def run(cmd, **kw):
    """Runs cmd; returns its stdout; fails with its output when it fails."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120, **kw)
    if p.returncode != 0:
        raise Failure(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p.stdout


def in_root(rootfs, argv, user=None):
    """argv run inside chroot ROOTFS with an empty environment (no LD_* from here)."""
    cmd = [shutil.which("chroot") or "/usr/sbin/chroot"]
    if user:
        cmd.append(f"--userspec={user}")
    return ["env", "-i", "PATH=/usr/local/bin"] + cmd + [rootfs] + argv


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ldd_libraries(binaries):
    """The real paths of the files ldd says the loader maps for binaries."""
    paths = set()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LD_")}
    for b in binaries:
        for line in run(["ldd", b], env=env).splitlines():
            m = re.match(r"\s*(?:\S+ => )?(/\S+) \(0x", line)
            if m:
                paths.add(os.path.realpath(m.group(1)))
    return paths


def dockerfile_directives(source_dir):
    """ENTRYPOINT and USER of the Dockerfile's last stage, when it has them."""
    found = {}
    path = os.path.join(source_dir, "Dockerfile")
    if not os.path.exists(path):
        return found
    for line in open(path):
        m = re.match(r"\s*(ENTRYPOINT|USER)\s+(.*\S)", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def git_head(source_dir):
    head = subprocess.run(["git", "-C", source_dir, "rev-parse", "HEAD"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    return head.stdout.strip() if head.returncode == 0 else None


def check_config(args, archive, heads):
    """heads: HEAD before and after image.sh ran, or None outside git (a commit
    may land meanwhile: the label lies between them)."""
    info = json.loads(run(["skopeo", "inspect", f"oci-archive:{archive}"]))
    config = json.loads(run(["skopeo", "inspect", "--config", f"oci-archive:{archive}"]))["config"]
    labels = info.get("Labels") or {}
    for name in LABELS:
        key = f"org.opencontainers.image.{name}"
        check(labels.get(key), f"label {key} missing or empty: {labels}")
    check(labels["org.opencontainers.image.version"] == args.version,
          f"label version {labels['org.opencontainers.image.version']!r}, CMake says {args.version!r}")
    check(labels["org.opencontainers.image.title"] == "hivebridge", f"label title: {labels}")
    if heads:
        before, after = heads
        revision = labels["org.opencontainers.image.revision"]

        def ancestor(a, b):
            return subprocess.run(["git", "-C", args.source_dir, "merge-base", "--is-ancestor", a, b],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
        check(ancestor(before, revision) and ancestor(revision, after),
              f"label revision {revision!r} is not HEAD (HEAD went from {before} to {after} meanwhile)")
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", labels["org.opencontainers.image.created"]),
          f"label created is not RFC 3339: {labels['org.opencontainers.image.created']!r}")
    check(config.get("User") == f"{UID}:{UID}", f"user {config.get('User')!r}, want {UID}:{UID}")
    check(config.get("Entrypoint") == [ENTRYPOINT_IN_IMAGE], f"entrypoint {config.get('Entrypoint')!r}")
    docker = dockerfile_directives(args.source_dir)
    if "ENTRYPOINT" in docker:
        check(json.loads(docker["ENTRYPOINT"]) == config["Entrypoint"],
              f"entrypoint {config['Entrypoint']} differs from the Dockerfile's {docker['ENTRYPOINT']}")
    if "USER" in docker:
        check(docker["USER"] == config["User"], f"user {config['User']} differs from the Dockerfile's {docker['USER']}")
    return config


def check_rootfs(args, rootfs):
    real_root = os.path.realpath(rootfs)
    # Exactly the libraries ldd names: every shared object in the root is one
    # of them, and every one of them is there, as a file at its real path.
    wanted = ldd_libraries([args.hivebridge, args.hivectl])
    check(wanted, "ldd named no library")
    have = set()
    for dirpath, dirnames, filenames in os.walk(rootfs):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            inside = "/" + os.path.relpath(path, rootfs)
            if os.path.islink(path):
                target = os.readlink(path)
                check(not target.startswith("/"), f"{inside} -> {target}: absolute symlink")
                resolved = os.path.realpath(path)
                check(resolved.startswith(real_root + "/"), f"{inside} -> {target}: leaves the root")
                check(os.path.exists(path), f"{inside} -> {target}: dangling")
            elif name in filenames and re.search(r"\.so(\.|$)", name):
                have.add(inside)
    check(have == wanted, f"shared objects in the image differ from ldd's: missing {sorted(wanted - have)}, "
                          f"extra {sorted(have - wanted)}")
    for binary in (ENTRYPOINT_IN_IMAGE, HIVECTL_IN_IMAGE):
        path = rootfs + binary
        check(os.path.isfile(path) and os.access(path, os.X_OK), f"{binary} missing or not executable")
        sections = run(["readelf", "-S", "-W", path])
        check(".symtab" not in sections and ".debug_info" not in sections, f"{binary} is not stripped")
    passwd = open(os.path.join(rootfs, "etc/passwd")).read()
    group = open(os.path.join(rootfs, "etc/group")).read()
    check(re.search(rf"^hivebridge:x:{UID}:{UID}:", passwd, re.M), f"/etc/passwd has no hivebridge {UID}:\n{passwd}")
    check(re.search(rf"^hivebridge:x:{UID}:", group, re.M), f"/etc/group has no hivebridge {UID}:\n{group}")
    ca = os.path.join(rootfs, "etc/ssl/certs/ca-certificates.crt")
    check(os.path.isfile(ca) and "BEGIN CERTIFICATE" in open(ca).read(), "no CA certificates")
    mode = os.stat(os.path.join(rootfs, "tmp")).st_mode
    check(stat.S_IMODE(mode) == 0o1777, f"/tmp mode {oct(stat.S_IMODE(mode))}, want 01777")


def mapped_files(pid):
    files = set()
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith("/"):
                files.add(fields[5].strip().removesuffix(" (deleted)"))
    return files


def check_server(args, rootfs, config):
    # The image's ports are the defaults hivebridge --help prints.
    help_text = run(in_root(rootfs, [ENTRYPOINT_IN_IMAGE, "--help"]))
    ports = set()
    for flag in ("ws-listen", "grpc-listen"):
        # The option's entry: from its name to the next option.
        entry = re.search(rf"^\s*--{flag}=HOST:PORT\b(.*?)(?=^\s*-)", help_text, re.M | re.S)
        check(entry, f"hivebridge --help does not list --{flag}=HOST:PORT")
        # "[default: 0.0.0.0:8080]", or a DEFAULT column right after the name.
        m = (re.search(r"\[default: [^\]\s]*:(\d+)\]", entry.group(1))
             or re.match(r"\s+\S+:(\d+)\s", entry.group(1)))
        check(m, f"hivebridge --help shows no default port for --{flag}: {entry.group(0)!r}")
        ports.add(f"{m.group(1)}/tcp")
    check(set(config.get("ExposedPorts") or {}) == ports,
          f"exposed ports {sorted(config.get('ExposedPorts') or {})}, the defaults are {sorted(ports)}")

    secret = os.path.join(rootfs, "tmp/jwt-secret")
    with open(secret, "w") as f:
        f.write("image-test-secret-0123456789abcdef\n")
    os.chown(secret, UID, UID)
    os.chmod(secret, 0o400)
    ws, grpc = free_port(), free_port()
    log_path = os.path.join(os.path.dirname(rootfs), "hivebridge.log")
    log = open(log_path, "w")
    server = subprocess.Popen(
        in_root(rootfs, [ENTRYPOINT_IN_IMAGE, f"--ws-listen=127.0.0.1:{ws}", f"--grpc-listen=127.0.0.1:{grpc}",
                         "--jwt-secret-file=/tmp/jwt-secret", "--drain-timeout=1s"], user=f"{UID}:{UID}"),
        stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{ws}/healthz"
        deadline = time.monotonic() + START_BOUND_S
        while True:
            check(server.poll() is None, f"hivebridge exited with {server.returncode} before /healthz answered:\n"
                                         + open(log_path).read())
            probe = subprocess.run(["curl", "-fsS", "--max-time", "2", url], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
            if probe.returncode == 0:
                check(probe.stdout.strip() == "ok", f"/healthz answered {probe.stdout!r}")
                break
            check(time.monotonic() < deadline, f"/healthz did not answer within {START_BOUND_S}s "
                                               f"({probe.stderr.strip()}):\n" + open(log_path).read())
            time.sleep(0.1)  # poll interval, not synchronisation

        # env -i ... chroot execs hivebridge: the process is the server itself.
        status = open(f"/proc/{server.pid}/status").read()
        check(re.search(rf"^Uid:\s+{UID}\s", status, re.M), f"hivebridge does not run as uid {UID}")
        check(re.search(rf"^Gid:\s+{UID}\s", status, re.M), f"hivebridge does not run as gid {UID}")
        check(os.path.realpath(f"/proc/{server.pid}/root") == os.path.realpath(rootfs),
              "hivebridge's root is not the image's root filesystem")
        # Every file the running server maps (executable, loader, libraries) is
        # the image's: nothing from the host is reachable inside the root.
        real_root = os.path.realpath(rootfs)
        mapped = mapped_files(server.pid)
        outside = sorted(f for f in mapped if not f.startswith(real_root + "/"))
        check(not outside, f"hivebridge maps files from outside the image: {outside}")
        check(any("/libc.so" in f for f in mapped) and any("/ld-linux" in f for f in mapped),
              f"hivebridge maps no libc or loader from the image: {sorted(mapped)}")

        # The image's hivectl talks to it over gRPC (no device is connected).
        run(in_root(rootfs, [HIVECTL_IN_IMAGE, "--server", f"127.0.0.1:{grpc}", "devices"], user=f"{UID}:{UID}"))

        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            raise Failure(f"hivebridge did not stop within {STOP_BOUND_S}s of SIGTERM")
        check(code == 0, f"hivebridge exited {code} on SIGTERM:\n" + open(log_path).read())
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--hivebridge", required=True)
    parser.add_argument("--hivectl", required=True)
    parser.add_argument("--version", required=True, help="CMake's PROJECT_VERSION")
    parser.add_argument("--work-dir", default=None, help="where the temporary directory goes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("image.oci: SKIPPED: needs root (chroot, umoci unpack with the image's owners)")
        return 77

    if args.work_dir:
        os.makedirs(args.work_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="image-test.", dir=args.work_dir)
    ok = False
    try:
        out = os.path.join(tmp, "image")
        before = git_head(args.source_dir)
        run(["bash", os.path.join(args.source_dir, "scripts/image.sh"), "--out", out, args.hivebridge, args.hivectl])
        after = git_head(args.source_dir)
        heads = (before, after) if before and after else None
        ref = f"hivebridge:{args.version}"
        archive = os.path.join(out, f"hivebridge-{args.version}.oci.tar")
        check(os.path.isfile(archive), f"no archive {archive}")
        layout_refs = run(["umoci", "ls", "--layout", os.path.join(out, "oci")]).split()
        check(ref in layout_refs, f"the layout has refs {layout_refs}, not {ref}")
        config = check_config(args, archive, heads)

        # Unpack what would be pushed: the archive, back into a layout.
        pulled = os.path.join(tmp, "pulled")
        run(["skopeo", "--insecure-policy", "copy", "--quiet", f"oci-archive:{archive}", f"oci:{pulled}:{ref}"])
        bundle = os.path.join(tmp, "bundle")
        run(["umoci", "unpack", "--image", f"{pulled}:{ref}", bundle])
        rootfs = os.path.join(bundle, "rootfs")
        check_rootfs(args, rootfs)

        version = run(in_root(rootfs, [ENTRYPOINT_IN_IMAGE, "--version"])).strip()
        check(version == f"hivebridge {args.version}", f"hivebridge --version printed {version!r}")
        hivectl_help = run(in_root(rootfs, [HIVECTL_IN_IMAGE, "--help"], user=f"{UID}:{UID}"))
        check("Usage: hivectl" in hivectl_help, f"hivectl --help printed:\n{hivectl_help}")
        check_server(args, rootfs, config)
        ok = True
    except Failure as e:
        print(f"image.oci: FAILED: {e}", file=sys.stderr)
        print(f"image.oci: files kept in {tmp}", file=sys.stderr)
        return 1
    finally:
        if ok and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"image.oci: OK: {ref} built, inspected, unpacked and run as {UID}:{UID} from its own root")
    return 0


if __name__ == "__main__":
    sys.exit(main())
