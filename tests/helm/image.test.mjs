// The Dockerfile builds hivebridge and hivectl from the build-only package
// list (which holds every package their build reads, and nothing else), ships
// exactly the runtime libraries they link, carries the OCI labels, runs as
// non-root and starts with real flags.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { YAML, sourceDir, chartDir, hivebridgeBin, hivebridgeOptions, parseFlag } from "./support.mjs";

const dockerfile = fs.readFileSync(path.join(sourceDir, "Dockerfile"), "utf8");
// Instructions with continuation lines joined, comments dropped.
const instructions = dockerfile.replace(/\\\n/g, " ").split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
const stages = [];
for (const line of instructions) {
  if (/^FROM\s/i.test(line)) stages.push({ from: line, lines: [] });
  else stages.at(-1).lines.push(line);
}
const runtime = stages.at(-1);
const jsonArgs = (keyword) => JSON.parse(runtime.lines.find((l) => l.startsWith(`${keyword} `)).slice(keyword.length + 1));

// The build tree of the binary under test, and its hivectl.
const buildTree = path.resolve(path.dirname(hivebridgeBin), "..");
const hivectlBin = path.join(buildTree, "clients", "hivectl", "hivectl");

const FILTER = "grep -v -e '^#' -e '^\\s*$'";
const readList = (file) => fs.readFileSync(path.join(sourceDir, "scripts", file), "utf8")
  .split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
const buildList = readList("debian-packages-build.txt");

// Installed Debian packages: name → {depends: [[alternatives]], provides: []}.
let dpkgCache;
function installed() {
  if (dpkgCache) return dpkgCache;
  const out = execFileSync("dpkg-query", ["-W", "-f=${Package}\t${db:Status-Abbrev}\t${Pre-Depends}, ${Depends}\t${Provides}\n"], { encoding: "utf8" });
  const bare = (s) => s.trim().replace(/\s*\(.*\)$/, "").replace(/:any$/, "");
  dpkgCache = new Map();
  for (const line of out.split("\n").filter(Boolean)) {
    const [name, status, deps, provides] = line.split("\t");
    if (!status.startsWith("ii")) continue;
    dpkgCache.set(name, {
      depends: deps.split(",").map((d) => d.trim()).filter(Boolean).map((d) => d.split("|").map(bare)),
      provides: (provides ?? "").split(",").map(bare).filter(Boolean),
    });
  }
  return dpkgCache;
}

// Packages installing `roots` installs (Depends and Pre-Depends, recursively, over installed packages).
function closure(roots) {
  const pkgs = installed();
  const providers = new Map();
  for (const [name, p] of pkgs) for (const v of p.provides) providers.set(v, [...(providers.get(v) ?? []), name]);
  const seen = new Set();
  const todo = [...roots];
  while (todo.length) {
    const name = todo.pop();
    if (seen.has(name)) continue;
    seen.add(name);
    for (const alternatives of pkgs.get(name)?.depends ?? []) {
      const hit = alternatives.flatMap((a) => (pkgs.has(a) ? [a] : providers.get(a) ?? []))[0];
      if (hit) todo.push(hit);
    }
  }
  return seen;
}

// The Debian package owning each file (dpkg -S, through symlinks), or undefined.
function owners(files) {
  const result = new Map();
  const query = [...new Set(files.flatMap((f) => [f, fs.realpathSync(f)]))];
  for (let i = 0; i < query.length; i += 500) {
    let out = "";
    try {
      out = execFileSync("dpkg", ["-S", ...query.slice(i, i + 500)], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 26 });
    } catch (e) {
      out = e.stdout ?? ""; // dpkg -S exits 1 when some path has no owner
    }
    for (const line of out.split("\n")) {
      const m = line.match(/^(.+?): (\/.*)$/);
      if (m) result.set(m[2], m[1].split(", ")[0].split(":")[0]);
    }
  }
  return new Map(files.map((f) => [f, result.get(f) ?? result.get(fs.realpathSync(f))]));
}

// Every system file the build of hivebridge and hivectl read: the compiler and
// build tools, protoc and its gRPC plugin, the libraries linked and every header
// compiled (ninja's inputs of the two targets and the depfiles of their objects).
function filesTheBuildReads() {
  assert.ok(fs.existsSync(path.join(buildTree, "build.ninja")), `${buildTree}: not a Ninja build tree (HIVEBRIDGE_BINARY=${hivebridgeBin})`);
  const ninja = (...args) => execFileSync("ninja", ["-C", buildTree, ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
  const inputs = ninja("-t", "inputs", "hivebridge", "hivectl").split("\n").filter(Boolean);
  const objects = inputs.filter((f) => f.endsWith(".o"));
  const files = new Set(inputs.filter((f) => f.startsWith("/usr/")));
  for (const line of ninja("-t", "deps", ...objects).split("\n")) {
    const f = line.trim();
    if (f.startsWith("/usr/")) files.add(f);
  }
  // Programs and libraries named on the command lines (the compiler, protoc, tcmalloc's -Wl item).
  for (const m of ninja("-t", "commands", "hivebridge", "hivectl").matchAll(/\/usr\/[^\s,;'"]+/g)) files.add(m[0]);
  const cache = fs.readFileSync(path.join(buildTree, "CMakeCache.txt"), "utf8");
  for (const key of ["CMAKE_CXX_COMPILER", "CMAKE_MAKE_PROGRAM", "CMAKE_COMMAND", "PKG_CONFIG_EXECUTABLE"]) {
    const value = cache.match(new RegExp(`^${key}:[A-Z]+=(.+)$`, "m"))?.[1];
    assert.ok(value, `${buildTree}/CMakeCache.txt: no ${key}`);
    files.add(value);
  }
  // ccache, the compiler launcher, is used when present and not needed.
  const ccache = cache.match(/^CCACHE_PROGRAM:[A-Z]+=(.+)$/m)?.[1];
  return [...files].filter((f) => f !== ccache && fs.existsSync(f) && fs.statSync(f).isFile());
}

// find_package / pkg_check_modules / find_library calls of the CMake files a
// -DHIVE_TESTS=OFF configure reads, following add_subdirectory and include,
// skipping if(HIVE_TESTS) blocks.
function cmakeRequirements() {
  const found = [];
  const visit = (file) => {
    let skip = 0;
    const text = fs.readFileSync(file, "utf8").replace(/#.*$/gm, "");
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (/^if\s*\(/i.test(line)) { if (skip || /^if\s*\(\s*HIVE_TESTS\s*\)/i.test(line)) skip++; continue; }
      if (/^endif\s*\(/i.test(line)) { if (skip) skip--; continue; }
      if (skip) continue;
      let m;
      if ((m = line.match(/^add_subdirectory\s*\(\s*(\S+?)\s*\)/i))) visit(path.join(path.dirname(file), m[1], "CMakeLists.txt"));
      else if ((m = line.match(/^include\s*\(\s*(cmake\/\S+\.cmake)\s*\)/i))) visit(path.join(sourceDir, m[1]));
      else if ((m = line.match(/^find_package\s*\(\s*(\w+)/i))) found.push({ what: `find_package(${m[1]})`, file });
      else if ((m = line.match(/^pkg_check_modules\s*\(\s*\w+\s+(?:REQUIRED\s+)?(?:IMPORTED_TARGET\s+)?(\S+?)\s*\)/i))) found.push({ what: `pkg_check_modules(${m[1]})`, file });
      else if ((m = line.match(/^find_library\s*\(\s*\w+\s+NAMES\s+(\S+)/i))) found.push({ what: `find_library(${m[1]})`, file });
    }
  };
  visit(path.join(sourceDir, "CMakeLists.txt"));
  return found;
}

// What each CMake requirement of the binaries is satisfied by.
const CMAKE_PACKAGES = {
  "find_package(Threads)": ["g++"],
  "find_package(Protobuf)": ["libprotobuf-dev", "protobuf-compiler"],
  "find_package(gRPC)": ["libgrpc++-dev", "protobuf-compiler-grpc"],
  "find_package(absl)": ["libabsl-dev"],
  "find_package(RapidJSON)": ["rapidjson-dev"],
  "find_package(OpenSSL)": ["libssl-dev"],
  "find_package(PkgConfig)": ["pkg-config"],
  "find_package(CLI11)": ["libcli11-dev"],
  "pkg_check_modules(libjwt)": ["libjwt-dev"],
  "pkg_check_modules(librabbitmq)": ["librabbitmq-dev"],
  "pkg_check_modules(sqlite3)": ["libsqlite3-dev"],
  "pkg_check_modules(prometheus-cpp-core)": ["prometheus-cpp-dev"],
  "pkg_check_modules(cpp-httplib)": ["libcpp-httplib-dev"],
  "find_library(tcmalloc_minimal)": ["libtcmalloc-minimal4"],
};

test("two stages on debian:bookworm-slim", () => {
  assert.ok(stages.length >= 2, "Dockerfile: want a build stage and a runtime stage");
  assert.match(runtime.from, /^FROM debian:bookworm-slim\s*$/, `Dockerfile runtime stage: ${runtime.from}`);
});

test("the build stage installs scripts/debian-packages-build.txt with scripts/deps.sh's filter and builds both binaries without tests", () => {
  const build = stages[0].lines.join("\n");
  assert.match(build, /COPY scripts\/debian-packages-build\.txt /, "Dockerfile build stage: does not copy scripts/debian-packages-build.txt");
  assert.ok(build.includes(`${FILTER} /src/scripts/debian-packages-build.txt`), `Dockerfile build stage: does not read the list with ${FILTER}`);
  assert.ok(!/debian-packages\.txt/.test(build), "Dockerfile build stage: reads the developer's full list (scripts/debian-packages.txt)");
  const deps = fs.readFileSync(path.join(sourceDir, "scripts", "deps.sh"), "utf8");
  assert.ok(deps.includes(`${FILTER} scripts/debian-packages.txt`), `scripts/deps.sh no longer reads the list with ${FILTER}: update the Dockerfile too`);
  assert.match(build, /-DHIVE_TESTS=OFF/, "Dockerfile build stage: configures the tests (their packages are not in the build list)");
  assert.match(build, /--target hivebridge hivectl/, "Dockerfile build stage: does not build the hivebridge and hivectl targets");
});

test("the build list satisfies every CMake requirement of the binaries", () => {
  const listed = closure(buildList);
  const requirements = cmakeRequirements();
  assert.ok(requirements.length >= 8, `parsed only ${requirements.length} CMake requirements`);
  for (const r of requirements) {
    const packages = CMAKE_PACKAGES[r.what];
    assert.ok(packages, `${path.relative(sourceDir, r.file)}: ${r.what} is new: add the Debian package providing it to scripts/debian-packages-build.txt and to CMAKE_PACKAGES in ${path.relative(sourceDir, import.meta.filename ?? "tests/helm/image.test.mjs")}`);
    for (const p of packages) assert.ok(listed.has(p), `scripts/debian-packages-build.txt: ${p} (for ${r.what} in ${path.relative(sourceDir, r.file)}) is missing`);
  }
});

test("the build list holds the package of every file the build of hivebridge and hivectl reads, and nothing unneeded", () => {
  const files = filesTheBuildReads();
  assert.ok(files.length > 100, `only ${files.length} system files found in ${buildTree}'s build of hivebridge and hivectl`);
  const listed = closure(buildList);
  const used = new Set();
  const missing = new Map();
  for (const [file, pkg] of owners(files)) {
    if (!pkg) continue; // generated or local, e.g. /usr/local
    used.add(pkg);
    if (!listed.has(pkg)) missing.set(pkg, file);
  }
  assert.deepEqual([...missing].map(([p, f]) => `${p} (${f})`), [],
    "scripts/debian-packages-build.txt: packages the build reads that neither the list nor their dependencies install");
  // A package no file of this tree's build came from must at least be a CMake requirement
  // of the sources (a library being adopted, built into the next tree).
  const required = new Set(cmakeRequirements().flatMap((r) => CMAKE_PACKAGES[r.what] ?? []));
  const unused = buildList.filter((p) => !required.has(p) && ![...closure([p])].some((q) => used.has(q)));
  assert.deepEqual(unused, [], "scripts/debian-packages-build.txt: packages neither the build reads nor CMake requires");
});

test("the developer's list (scripts/debian-packages.txt, make deps) installs everything the build list does", () => {
  const full = closure(readList("debian-packages.txt"));
  const missing = buildList.filter((p) => !full.has(p));
  assert.deepEqual(missing, [], "packages of scripts/debian-packages-build.txt that make deps does not install");
});

test("the runtime stage installs exactly the packages of hivebridge's and hivectl's shared libraries (+ ca-certificates)", () => {
  const install = runtime.lines.find((l) => l.includes("apt-get install"));
  assert.ok(install, "Dockerfile runtime stage: no apt-get install");
  const listed = install.split("apt-get install")[1].split("&&")[0].trim().split(/\s+/).filter((w) => !w.startsWith("-")).sort();
  assert.ok(fs.existsSync(hivectlBin), `${hivectlBin}: not built (cmake --build ${buildTree} --target hivectl)`);
  const packages = new Set(["ca-certificates"]);
  for (const bin of [hivebridgeBin, hivectlBin]) {
    const needed = execFileSync("objdump", ["-p", bin], { encoding: "utf8" })
      .split("\n").map((l) => l.match(/^\s*NEEDED\s+(\S+)/)?.[1]).filter(Boolean);
    const ldd = execFileSync("ldd", [bin], { encoding: "utf8" });
    for (const lib of needed) {
      const file = ldd.match(new RegExp(`^\\s*${lib.replace(/[+.]/g, "\\$&")} => (\\S+)`, "m"))?.[1];
      assert.ok(file, `ldd ${bin}: ${lib} not found`);
      const owner = owners([file]).get(file);
      assert.ok(owner, `dpkg -S: no package owns ${file} (${lib})`);
      packages.add(owner);
    }
  }
  assert.deepEqual(listed, [...packages].sort(), "Dockerfile runtime packages differ from the packages of hivebridge's and hivectl's NEEDED libraries");
});

test("the runtime stage ships hivectl beside hivebridge", () => {
  assert.ok(runtime.lines.some((l) => /^COPY --from=\S+ \/hivectl \/usr\/local\/bin\/hivectl$/.test(l)), "Dockerfile: hivectl not copied to /usr/local/bin/hivectl");
  const build = stages[0].lines.join("\n");
  assert.match(build, /strip --strip-debug -o \/hivectl build\/clients\/hivectl\/hivectl/, "Dockerfile build stage: does not put the built hivectl at /hivectl");
});

test("OCI labels: title, description, licenses; version, revision and source from build ARGs (source defaulting to the chart's home)", () => {
  const labels = {};
  for (const l of runtime.lines.filter((x) => x.startsWith("LABEL "))) {
    for (const m of l.slice(6).matchAll(/([\w.-]+)="([^"]*)"/g)) labels[m[1]] = m[2];
  }
  const oci = (k) => labels[`org.opencontainers.image.${k}`];
  for (const k of ["title", "description", "version", "revision", "source", "url", "licenses"]) assert.ok(oci(k), `Dockerfile: no org.opencontainers.image.${k} label`);
  assert.equal(oci("title"), "hivebridge");
  assert.equal(oci("version"), "${VERSION}", "Dockerfile: org.opencontainers.image.version must be the VERSION build ARG");
  assert.equal(oci("revision"), "${REVISION}", "Dockerfile: org.opencontainers.image.revision must be the REVISION build ARG");
  const arg = (name) => runtime.lines.find((l) => new RegExp(`^ARG ${name}(=|$)`).test(l));
  assert.ok(arg("VERSION") && arg("REVISION"), "Dockerfile runtime stage: ARG VERSION and ARG REVISION");
  const cmake = fs.readFileSync(path.join(sourceDir, "CMakeLists.txt"), "utf8");
  const version = cmake.match(/project\(hivebridge VERSION ([0-9.]+)/)[1];
  assert.equal(arg("VERSION").split("=")[1], version, "Dockerfile: ARG VERSION's default differs from project(hivebridge VERSION …)");
  const chart = YAML.parse(fs.readFileSync(path.join(chartDir, "Chart.yaml"), "utf8"));
  assert.equal(oci("source"), "${SOURCE_URL}", "Dockerfile: org.opencontainers.image.source must be the SOURCE_URL build ARG");
  assert.equal(oci("url"), "${SOURCE_URL}", "Dockerfile: org.opencontainers.image.url must be the SOURCE_URL build ARG");
  assert.equal(arg("SOURCE_URL")?.split("=")[1], chart.home, "Dockerfile: ARG SOURCE_URL's default differs from Chart.yaml home");
});

test("runs as a non-root user, the chart's runAsUser", () => {
  const user = runtime.lines.find((l) => l.startsWith("USER "))?.split(/\s+/)[1];
  assert.ok(user, "Dockerfile runtime stage: no USER");
  const uid = Number(user.split(":")[0]);
  assert.ok(uid > 0, `Dockerfile: USER ${user} is root`);
  const values = YAML.parse(fs.readFileSync(path.join(chartDir, "values.yaml"), "utf8"));
  assert.equal(values.podSecurityContext.runAsUser, uid, "values.yaml podSecurityContext.runAsUser differs from the Dockerfile's USER");
});

test("ENTRYPOINT is hivebridge, CMD flags exist in --help, EXPOSE matches their ports", () => {
  assert.deepEqual(jsonArgs("ENTRYPOINT"), ["/usr/local/bin/hivebridge"], "Dockerfile ENTRYPOINT");
  assert.ok(runtime.lines.some((l) => /^COPY --from=\S+ \/hivebridge \/usr\/local\/bin\/hivebridge$/.test(l)), "Dockerfile: binary not copied to /usr/local/bin/hivebridge");
  const options = hivebridgeOptions();
  const ports = [];
  for (const arg of jsonArgs("CMD")) {
    const f = parseFlag(arg);
    assert.ok(f && options.some((o) => o.flag === f.name), `Dockerfile CMD: ${arg} is not a hivebridge flag`);
    if (f.name.endsWith("-listen")) ports.push(Number(f.value.split(":").pop()));
  }
  const exposed = runtime.lines.find((l) => l.startsWith("EXPOSE ")).split(/\s+/).slice(1).map(Number);
  assert.deepEqual(exposed.sort(), ports.sort(), "Dockerfile EXPOSE differs from the CMD listen ports");
});

test(".dockerignore keeps build trees and node_modules out of the context", () => {
  const ignored = fs.readFileSync(path.join(sourceDir, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
  for (const p of ["build", "node_modules", ".git"]) assert.ok(ignored.includes(p), `.dockerignore: ${p} missing`);
  for (const p of ["scripts", "server", "bridge", "proto", "CMakeLists.txt"]) assert.ok(!ignored.includes(p), `.dockerignore: ${p} is needed by the build`);
});
