// The Dockerfile builds from the `make deps` package list, ships exactly the
// runtime libraries hivebridge links, runs as non-root and starts with real flags.
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

test("two stages on debian:bookworm-slim", () => {
  assert.ok(stages.length >= 2, "Dockerfile: want a build stage and a runtime stage");
  assert.match(runtime.from, /^FROM debian:bookworm-slim\s*$/, `Dockerfile runtime stage: ${runtime.from}`);
});

test("the build stage installs scripts/debian-packages.txt with the filter scripts/deps.sh uses", () => {
  const build = stages[0].lines.join("\n");
  assert.match(build, /COPY scripts\/debian-packages\.txt /, "Dockerfile build stage: does not copy scripts/debian-packages.txt");
  const filter = "grep -v -e '^#' -e '^\\s*$'";
  assert.ok(build.includes(`${filter} /src/scripts/debian-packages.txt`), `Dockerfile build stage: does not read the list with ${filter}`);
  const deps = fs.readFileSync(path.join(sourceDir, "scripts", "deps.sh"), "utf8");
  assert.ok(deps.includes(`${filter} scripts/debian-packages.txt`), `scripts/deps.sh no longer reads the list with ${filter}: update the Dockerfile too`);
  assert.match(build, /--target hivebridge/, "Dockerfile build stage: does not build the hivebridge target");
});

test("the runtime stage installs exactly the packages of hivebridge's shared libraries (+ ca-certificates)", () => {
  const install = runtime.lines.find((l) => l.includes("apt-get install"));
  assert.ok(install, "Dockerfile runtime stage: no apt-get install");
  const listed = install.split("apt-get install")[1].split("&&")[0].trim().split(/\s+/).filter((w) => !w.startsWith("-")).sort();
  const needed = execFileSync("objdump", ["-p", hivebridgeBin], { encoding: "utf8" })
    .split("\n").map((l) => l.match(/^\s*NEEDED\s+(\S+)/)?.[1]).filter(Boolean);
  const ldd = execFileSync("ldd", [hivebridgeBin], { encoding: "utf8" });
  const packages = new Set(["ca-certificates"]);
  for (const lib of needed) {
    const file = ldd.match(new RegExp(`^\\s*${lib.replace(/[+.]/g, "\\$&")} => (\\S+)`, "m"))?.[1];
    assert.ok(file, `ldd ${hivebridgeBin}: ${lib} not found`);
    const real = fs.realpathSync(file);
    const owner = [real, file].map((f) => {
      try { return execFileSync("dpkg", ["-S", f], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }); } catch { return ""; }
    }).find(Boolean);
    assert.ok(owner, `dpkg -S: no package owns ${file} (${lib})`);
    packages.add(owner.split(":")[0]);
  }
  assert.deepEqual(listed, [...packages].sort(), "Dockerfile runtime packages differ from the packages of hivebridge's NEEDED libraries");
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
