#!/usr/bin/python3
"""The repository stands on its own: no tracked file reaches outside it.

Checks every file git tracks (CMake, scripts, Makefile, .ci/, sources, docs):
  - literal references to places outside the repository (a sibling `shared/`
    checkout, the design notes that live there, absolute machine paths);
  - paths built from a directory variable that climb out of the tree, e.g.
    `${PROJECT_SOURCE_DIR}/../x`, `$(dirname "$0")/../../x`, `__dirname/../../x`:
    each is resolved against the directory it names and must stay inside.

  self_contained.py [--repo DIR]      check the repository (exit 1 on a finding)
  self_contained.py --self-test       prove the checker finds planted escapes
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

# Texts that only make sense outside the repository.
FORBIDDEN = [
    (re.compile(r"\.\./shared\b"), "a sibling shared/ checkout"),
    (re.compile(r"\bshared/(fixtures|seeds)\b"), "the shared/ fixtures or seeds"),
    (re.compile(r"\bDESIGN\.md\b"), "DESIGN.md, which is not in the repository (docs/architecture.md is)"),
    (re.compile(r"(?<![\w.])/work/"), "an absolute path of one machine"),
    (re.compile(r"(?<![\w.])/home/\w+"), "an absolute path of one machine"),
]

# Directory expressions and what they stand for: "root" is the repository's
# root, "file" the directory of the file that contains the expression.
ANCHORS = [
    (r"\$\{(?:PROJECT_SOURCE_DIR|CMAKE_SOURCE_DIR|HIVE_REPO_DIR|HIVE_SOURCE_DIR)\}", "root"),
    (r"\$\{CMAKE_CURRENT_SOURCE_DIR\}|\$\{CMAKE_CURRENT_LIST_DIR\}", "file"),
    (r"\$\(dirname\s+\"?\$(?:0|\{BASH_SOURCE\[0\]\}|BASH_SOURCE)\"?\)", "file"),
    (r"\bDIR\b(?=/\.\.)|\bHERE\b(?=/\.\.)", None),  # unknown base: not resolved
    (r"__dirname", "file"),
]
JOIN_ARGS = re.compile(r"\s*,\s*((?:['\"][^'\"]*['\"]\s*,?\s*)+)")
CLIMB = re.compile(r"((?:/\.\.)+)((?:/[\w.@+-]+)*)")

# Files whose job is to name these texts.
EXEMPT = {"tests/repo/self_contained.py"}


def tracked_files(repo):
    out = subprocess.run(["git", "-C", repo, "ls-files", "-z"], check=True,
                         capture_output=True).stdout.decode()
    return [f for f in out.split("\0") if f and not f.startswith("third_party/")]


def findings_in(repo, rel, text):
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for pattern, what in FORBIDDEN:
            if pattern.search(line):
                found.append(f"{rel}:{lineno}: refers to {what}: {line.strip()}")
        for anchor, base in ANCHORS:
            if base is None:
                continue
            for m in re.finditer(anchor, line):
                # `X/../y`, `X + '/../y'` and `path.join(X, '..', 'y')` alike.
                rest = line[m.end():]
                joined = JOIN_ARGS.match(rest)
                if joined:
                    rest = "/" + "/".join(re.findall(r"['\"]([^'\"]*)['\"]", joined.group(1)))
                rest = re.sub(r"^\s*\+\s*['\"]", "", rest)
                climb = CLIMB.match(rest)
                if not climb:
                    continue
                start = repo if base == "root" else os.path.join(repo, os.path.dirname(rel))
                target = os.path.normpath(start + climb.group(1) + climb.group(2))
                inside = os.path.normpath(repo)
                if target != inside and not target.startswith(inside + os.sep):
                    found.append(f"{rel}:{lineno}: climbs out of the repository "
                                 f"({m.group(0)}{climb.group(0)}): {line.strip()}")
    return found


def check(repo):
    found = []
    for rel in tracked_files(repo):
        if rel in EXEMPT:
            continue
        path = os.path.join(repo, rel)
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        if b"\0" in data[:8192]:
            continue  # binary
        found += findings_in(repo, rel, data.decode("utf-8", "replace"))
    return found


def self_test():
    """Plants each kind of escape in a scratch repository; each must be found,
    and an in-tree climb must not be."""
    planted = {
        # Assembled, so this file itself never spells a path outside the tree.
        "CMakeLists.txt": 'set(X "${PROJECT_SOURCE_DIR}/' + "../" + 'shared/fixtures")\n',
        "tests/CMakeLists.txt": "set(Y ${CMAKE_CURRENT_SOURCE_DIR}/../../elsewhere/data)\n",
        "scripts/run.sh": 'cd "$(dirname "$0")/../../sibling"\n',
        "tests/x.mjs": "const p = __dirname + '/../../outside.json';\n",
        "tests/y.js": "const q = path.join(__dirname, '..', '..', 'outside');\n",
        "src/a.cc": "// see DESIGN.md section 3\n",
        "docs/b.md": "read /work/" + "shared/notes\n",
    }
    clean = {
        "tests/ok/CMakeLists.txt": "set(Z ${CMAKE_CURRENT_SOURCE_DIR}/../../proto)\n",
        "scripts/ok.sh": 'cd "$(dirname "$0")/.."\n',
    }
    with tempfile.TemporaryDirectory() as repo:
        subprocess.run(["git", "init", "-q", repo], check=True)
        for rel, text in {**planted, **clean}.items():
            os.makedirs(os.path.join(repo, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(repo, rel), "w") as f:
                f.write(text)
        subprocess.run(["git", "-C", repo, "add", "-A"], check=True)
        found = check(repo)
    failures = []
    for rel in planted:
        if not any(line.startswith(rel + ":") for line in found):
            failures.append(f"planted escape in {rel} was not found")
    for rel in clean:
        for line in found:
            if line.startswith(rel + ":"):
                failures.append(f"in-tree path reported: {line}")
    for f in failures:
        print("self-test: " + f)
    print(f"self-test: {len(planted)} planted escapes, {len(found)} found, {len(failures)} failures")
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    repo = os.path.normpath(os.path.abspath(args.repo))
    found = check(repo)
    for line in found:
        print(line)
    print(f"{len(found)} references outside the repository in {len(tracked_files(repo))} tracked files")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
