#!/usr/bin/env bash
# Lints hivebridge's own C++ code; every finding fails.
#
#   scripts/lint.sh --build-dir DIR [--format|--tidy]
#
# --format  clang-format --dry-run -Werror (.clang-format) over the tracked
#           *.cc and *.h files, third_party/ excluded.
# --tidy    clang-tidy (.clang-tidy) over the project's translation units in
#           DIR/compile_commands.json (the generated protobuf code in DIR and
#           third_party/ excluded; the fuzzers, which DIR builds in a separate
#           clang project, are checked with a bridge TU's flags), $JOBS in
#           parallel. DIR must be configured and its generated headers built
#           (`cmake --build DIR --target hive_api`).
# Neither: both.
#
# clang-tidy costs ~20 s of CPU per TU, so results are cached in
# DIR/lint-cache/: a TU that passed is not checked again until its key
# changes. The key hashes the clang-tidy version, the .clang-tidy files
# that apply (the root's and its own directories'), the TU's
# compile command and its preprocessed source with comments kept (-E -C:
# every header it includes, NOLINTs included). LINT_NO_CACHE=1 checks all.
#
# Environment: CLANG_FORMAT (clang-format-14), CLANG_TIDY (clang-tidy-14),
# JOBS (nproc), LINT_ONLY (a regex: check only the TUs whose path matches),
# LINT_CHECKS (appended to .clang-tidy's Checks, e.g. -clang-analyzer-*; part
# of the cache key, so a pass with fewer checks never stands for a full one).
set -euo pipefail

usage() { echo "usage: $0 --build-dir DIR [--format|--tidy]" >&2; exit 2; }

build_dir=""
do_format=1
do_tidy=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) [[ $# -ge 2 ]] || usage; build_dir="$2"; shift 2 ;;
    --format) do_format=1; do_tidy=0; shift ;;
    --tidy) do_format=0; do_tidy=1; shift ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
done
[[ -n "$build_dir" ]] || usage

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$(cd "$build_dir" && pwd)"
clang_format="${CLANG_FORMAT:-clang-format-14}"
clang_tidy="${CLANG_TIDY:-clang-tidy-14}"
jobs="${JOBS:-$(nproc)}"

# The project's own C++ sources: tracked files (a tree without git: the
# project's directories), never third_party/; files being moved may be gone.
project_files() {
  if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$root" ls-files -- '*.cc' '*.h' | grep -v '^third_party/' || true
  else
    (cd "$root" && find bridge server transport clients cli bench fuzz tests cmake -name '*.cc' -o -name '*.h' 2>/dev/null) || true
  fi | while read -r f; do [[ -f "$root/$f" ]] && echo "$f"; done
}

status=0

if [[ $do_format -eq 1 ]]; then
  command -v "$clang_format" >/dev/null || { echo "lint: $clang_format not found (make deps installs it)" >&2; exit 1; }
  start=$SECONDS
  mapfile -t files < <(project_files)
  if (cd "$root" && printf '%s\0' "${files[@]}" | xargs -0 -P "$jobs" -n 16 "$clang_format" --dry-run -Werror --style=file); then
    echo "lint: clang-format: ${#files[@]} files formatted as .clang-format says ($((SECONDS - start)) s)"
  else
    echo "lint: clang-format: files above differ from .clang-format (fix: $clang_format -i <file>)" >&2
    status=1
  fi
fi

if [[ $do_tidy -eq 1 ]]; then
  command -v "$clang_tidy" >/dev/null || { echo "lint: $clang_tidy not found (make deps installs it)" >&2; exit 1; }
  [[ -f "$build_dir/compile_commands.json" ]] || { echo "lint: $build_dir/compile_commands.json missing: configure $build_dir first" >&2; exit 1; }
  mapfile -t fuzz_sources < <(project_files | grep '^fuzz/.*\.cc$' || true)
  if ! ROOT="$root" BUILD_DIR="$build_dir" CLANG_TIDY="$clang_tidy" JOBS="$jobs" \
      /usr/bin/python3 - "${fuzz_sources[@]}" <<'PY'
import concurrent.futures, hashlib, json, os, re, resource, shlex, subprocess, sys, time

root, build_dir = os.environ["ROOT"], os.environ["BUILD_DIR"]
clang_tidy, jobs = os.environ["CLANG_TIDY"], int(os.environ["JOBS"])
use_cache = os.environ.get("LINT_NO_CACHE", "") not in ("1", "true")
extra_checks = os.environ.get("LINT_CHECKS", "")
cache_dir = os.path.join(build_dir, "lint-cache")
os.makedirs(cache_dir, exist_ok=True)
own = re.compile(r"(bridge|server|transport|clients|cli|bench|fuzz|tests)/")
only = re.compile(os.environ.get("LINT_ONLY", ""))

def args_of(entry):
    return entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])

# The project's TUs: under the repository, outside the build tree (generated
# protobuf code) and third_party/; one entry per file.
entries = {}
with open(os.path.join(build_dir, "compile_commands.json")) as f:
    for entry in json.load(f):
        path = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
        rel = os.path.relpath(path, root)
        if rel.startswith("..") or path.startswith(build_dir + os.sep) or not own.match(rel):
            continue
        if os.path.exists(path):
            entries.setdefault(rel, {"directory": entry["directory"], "file": path, "arguments": args_of(entry)})

# The fuzzers build in their own clang project; give each a bridge TU's flags.
template = next((e for rel, e in sorted(entries.items()) if rel.startswith("bridge/")), None)
for rel in sys.argv[1:]:
    if rel in entries or template is None:
        continue
    path = os.path.join(root, rel)
    args = [path if a == template["file"] else a for a in template["arguments"]]
    if "-o" in args:
        args[args.index("-o") + 1] = os.path.join(cache_dir, "fuzz", os.path.basename(rel) + ".o")
    entries[rel] = {"directory": template["directory"], "file": path, "arguments": args}

db_dir = os.path.join(cache_dir, "db")
os.makedirs(db_dir, exist_ok=True)
# Written whole and renamed into place: another lint run may be reading it.
db_tmp = os.path.join(db_dir, f"compile_commands.json.{os.getpid()}")
with open(db_tmp, "w") as f:
    json.dump(list(entries.values()), f, indent=1)
os.replace(db_tmp, os.path.join(db_dir, "compile_commands.json"))

version = subprocess.run([clang_tidy, "--version"], capture_output=True, text=True).stdout

def config_of(path):
    """The .clang-tidy files that apply to a TU: its directory's and every parent's up to the root."""
    out, d = b"", os.path.dirname(path)
    while True:
        config = os.path.join(d, ".clang-tidy")
        if os.path.exists(config):
            with open(config, "rb") as f:
                out += config.encode() + b"\0" + f.read() + b"\0"
        if d == root or os.path.dirname(d) == d:
            return out
        d = os.path.dirname(d)

def key_of(entry):
    """Hash of everything the TU's findings depend on; None if it cannot be made."""
    args = list(entry["arguments"])
    if "-o" in args:
        i = args.index("-o")
        del args[i:i + 2]
    args = [a for a in args if a != "-c"]
    pre = subprocess.run(args + ["-E", "-C", "-o", "-"], cwd=entry["directory"], capture_output=True)
    if pre.returncode != 0:
        return None
    h = hashlib.sha256()
    for part in (version.encode(), extra_checks.encode(), config_of(entry["file"]), json.dumps(entry["arguments"]).encode(),
                 pre.stdout):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()

def check(rel):
    entry = entries[rel]
    stamp = os.path.join(cache_dir, rel.replace("/", "__") + ".ok")
    key = key_of(entry) if use_cache else None
    if key is not None and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read().strip() == key:
                return rel, "cached", ""
    start = time.monotonic()
    checks = [f"--checks={extra_checks}"] if extra_checks else []
    run = subprocess.run([clang_tidy, "--quiet", "-p", db_dir, *checks, entry["file"]],
                         cwd=root, capture_output=True, text=True)
    took = time.monotonic() - start
    output = run.stdout + "".join(l + "\n" for l in run.stderr.splitlines()
                                  if "warnings generated" not in l and "treated as error" not in l)
    if run.returncode == 0:
        if key is not None:
            with open(stamp, "w") as f:
                f.write(key + "\n")
        elif os.path.exists(stamp):
            os.remove(stamp)
        return rel, f"ok {took:.0f}s", output
    if os.path.exists(stamp):
        os.remove(stamp)
    return rel, f"FAILED {took:.0f}s", output

start = time.monotonic()
failed, cached = [], 0
with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
    for rel, result, output in pool.map(check, sorted(rel for rel in entries if only.search(rel))):
        if result == "cached":
            cached += 1
            continue
        print(f"lint: clang-tidy {rel}: {result}", flush=True)
        if result.startswith("FAILED"):
            failed.append(rel)
            sys.stdout.write(output)
            sys.stdout.flush()
took = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
checked = sum(1 for rel in entries if only.search(rel))
print(f"lint: clang-tidy: {checked} TUs, {cached} unchanged since they passed (lint-cache), "
      f"{len(failed)} failed; {took:.0f} s wall, {usage.ru_utime + usage.ru_stime:.0f} s CPU, {jobs} jobs"
      + (f"; checks also {extra_checks}" if extra_checks else ""))
sys.exit(1 if failed else 0)
PY
  then
    status=1
  fi
fi

exit $status
