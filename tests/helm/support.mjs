// Shared helpers of the Helm chart tests: paths from the environment ctest
// sets, running helm, parsing `hivebridge --help` and rendered manifests.
import { execFileSync, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const require = createRequire(import.meta.url);
const YAML = require("yaml");
export { YAML };

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run these tests through ctest (tests/helm/CMakeLists.txt)`);
  return value;
}

export const sourceDir = env("HIVE_SOURCE_DIR");
export const helmBin = env("HIVE_HELM");
export const hivebridgeBin = env("HIVEBRIDGE_BINARY");
export const chartDir = path.join(sourceDir, "helm", "hivebridge");
export const valuesDir = path.join(sourceDir, "tests", "helm", "values");
export const valueSets = ["default", "cluster", "tls", "ingress", "hardened", "extras"];
export const valuesFile = (set) => path.join(valuesDir, `${set}.yaml`);

// Runs helm; returns {status, stdout, stderr} (never throws on a helm failure).
export function helm(...args) {
  const r = spawnSync(helmBin, args, { encoding: "utf8", env: { ...process.env, KUBECONFIG: "/dev/null" } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// `helm template` of the chart; returns the rendered objects, or throws with helm's message.
export function render(set, ...extra) {
  const r = helm("template", "rel", chartDir, "--namespace", "iot", "-f", valuesFile(set), ...extra);
  if (r.status !== 0) throw new Error(`helm template (${set} ${extra.join(" ")}) failed:\n${r.stderr}`);
  return YAML.parseAllDocuments(r.stdout).map((d) => d.toJS()).filter((o) => o != null);
}

// The options of `hivebridge --help`: [{flag, metavar, default, env}].
let helpCache;
export function hivebridgeOptions() {
  if (helpCache) return helpCache;
  const text = execFileSync(hivebridgeBin, ["--help"], { encoding: "utf8" });
  helpCache = [];
  // An entry starts with "  --name[=METAVAR]"; its text, "[default: X]" and
  // "[env: NAME]" may wrap onto the indented lines below (tags never break).
  const entries = [];
  for (const line of text.split("\n")) {
    if (/^  --/.test(line)) entries.push(line.trim());
    else if (entries.length && /^\s+\S/.test(line)) entries[entries.length - 1] += ` ${line.trim()}`;
  }
  for (const entry of entries) {
    const m = entry.match(/^--([a-z0-9-]+)(?:=(\S+))?\s/);
    const def = entry.match(/\[default: ([^\]]*)\]/);
    const env = entry.match(/\[env: (HIVEBRIDGE_[A-Z0-9_]+)\]/);
    if (m && env) helpCache.push({ flag: m[1], metavar: m[2], default: def?.[1], env: env[1] });
  }
  if (helpCache.length < 10) throw new Error(`could not parse hivebridge --help:\n${text}`);
  return helpCache;
}

// "--name=value" → {name, value}.
export function parseFlag(arg) {
  const m = String(arg).match(/^--([a-z0-9-]+)(?:=(.*))?$/);
  return m ? { name: m[1], value: m[2] } : null;
}

// A hivebridge DURATION (absl::ParseDuration subset the chart uses) in seconds.
export function durationSeconds(text) {
  const units = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  const re = /([0-9.]+)(ms|s|m|h)/gy;
  let m;
  let end = 0;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * units[m[2]];
    end = re.lastIndex;
  }
  if (end !== text.length || end === 0) throw new Error(`not a duration: ${text}`);
  return total;
}

export const where = (obj) => `${obj.kind}/${obj.metadata?.name}`;
export const find = (objs, kind) => objs.filter((o) => o.kind === kind);
export const one = (objs, kind) => {
  const all = find(objs, kind);
  if (all.length !== 1) throw new Error(`expected one ${kind}, rendered ${all.length}`);
  return all[0];
};
export const tmpDir = (prefix) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));
