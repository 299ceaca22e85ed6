// The Helm chart renders valid Kubernetes 1.31 objects for every value set, and
// what it renders is a hivebridge that starts, is probed on its real ports,
// keeps its keys in Secrets and drains before it is killed.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {
  YAML, require, chartDir, sourceDir, valueSets, valuesFile, helm, render, hivebridgeOptions,
  parseFlag, durationSeconds, where, find, one, tmpDir,
} from "./support.mjs";

// apiVersion → kubernetes-models module directory; only group versions served by Kubernetes 1.31.
const MODEL_GROUPS = {
  v1: "v1",
  "apps/v1": "apps/v1",
  "autoscaling/v2": "autoscaling/v2",
  "policy/v1": "policy/v1",
  "networking.k8s.io/v1": "networking.k8s.io/v1",
};

function validateWithModel(obj) {
  const group = MODEL_GROUPS[obj.apiVersion];
  assert.ok(group, `${where(obj)}: apiVersion ${obj.apiVersion} is not one the chart may use on Kubernetes 1.31`);
  const Model = require(`kubernetes-models/${group}/${obj.kind}`)[obj.kind];
  try {
    new Model(obj).validate();
  } catch (e) {
    assert.fail(`${where(obj)} (${obj.apiVersion}) is invalid against the Kubernetes schema: ${e.message}`);
  }
}

// prometheus-operator's CRDs (ServiceMonitor, PrometheusRule): against their
// schemas from @kubernetes-models/prometheus-operator, then what the schema
// cannot know.
// (The package is ESM only, hence import rather than require.)
const prometheusOperator = await import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1");
function validatePrometheusOperator(obj) {
  assert.equal(obj.apiVersion, "monitoring.coreos.com/v1", `${where(obj)}: apiVersion`);
  const Model = prometheusOperator[obj.kind];
  assert.ok(Model, `${where(obj)}: @kubernetes-models/prometheus-operator has no ${obj.kind}`);
  try {
    new Model(obj).validate();
  } catch (e) {
    assert.fail(`${where(obj)} is invalid against the prometheus-operator schema: ${e.message}`);
  }
}

// The metric names docs/metrics.md lists, which MetricsTest checks against
// what the bridge exports; histograms also have _bucket, _sum and _count.
function exportedMetrics() {
  const names = new Set(["up"]);
  const doc = fs.readFileSync(path.join(sourceDir, "docs", "metrics.md"), "utf8");
  for (const m of doc.matchAll(/^\| `([a-z_:][a-z0-9_:]*)[`{]/gm)) {
    names.add(m[1]);
    for (const suffix of ["_bucket", "_sum", "_count"]) names.add(m[1] + suffix);
  }
  return names;
}

// The metric names a PromQL expression reads: identifiers followed by a
// selector or range, or standing alone, that are not functions, keywords or labels.
function metricsIn(expr) {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""');
  const withoutLabels = withoutStrings.replace(/\{[^}]*\}/g, "{}").replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const words = withoutLabels.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  const notMetrics = new Set(["sum", "min", "max", "avg", "count", "rate", "increase", "histogram_quantile", "absent",
    "or", "and", "unless", "vector", "m", "s", "h", "__rate_interval", "label_values"]);
  return words.filter((w) => !notMetrics.has(w) && !/^[0-9]/.test(w));
}

function validateServiceMonitor(sm, objs) {
  validatePrometheusOperator(sm);
  const svc = one(objs, "Service");
  for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) {
    assert.equal(svc.metadata.labels[k], v, `${where(sm)}: spec.selector.matchLabels.${k} does not select ${where(svc)}`);
  }
  for (const [i, ep] of sm.spec.endpoints.entries()) {
    assert.ok(svc.spec.ports.some((p) => p.name === ep.port), `${where(sm)}: spec.endpoints[${i}].port ${ep.port} is not a port of ${where(svc)}`);
    assert.equal(ep.path, "/metrics", `${where(sm)}: spec.endpoints[${i}].path`);
    durationSeconds(ep.interval);
  }
}

const container = (objs) => one(objs, "Deployment").spec.template.spec.containers.find((c) => c.name === "hivebridge");

// The options a rendered Deployment gives hivebridge: flags from args, variables from env and envFrom ConfigMaps.
function settings(objs) {
  const dep = one(objs, "Deployment");
  const c = container(objs);
  const flags = (c.args ?? []).map((a, i) => {
    const f = parseFlag(a);
    assert.ok(f, `${where(dep)}: containers[hivebridge].args[${i}] "${a}" is not a --flag=value`);
    return { ...f, where: `${where(dep)} containers[hivebridge].args[${i}]` };
  });
  const vars = (c.env ?? []).map((e, i) => ({ ...e, where: `${where(dep)} containers[hivebridge].env[${i}] ${e.name}` }));
  // envFrom[0] is the chart's ConfigMap; later entries are the operator's (extraEnvFrom), unseen here.
  const own = c.envFrom?.[0]?.configMapRef;
  assert.ok(own, `${where(dep)}: envFrom[0] must be the chart's ConfigMap (secrets go in env with secretKeyRef)`);
  const cm = find(objs, "ConfigMap").find((m) => m.metadata.name === own.name);
  assert.ok(cm, `${where(dep)}: envFrom[0] names ConfigMap ${own.name}, which the chart does not render`);
  for (const [name, value] of Object.entries(cm.data ?? {})) vars.push({ name, value, where: `${where(cm)} data.${name}` });
  return { dep, c, flags, vars };
}

function flagValue(objs, name) {
  return settings(objs).flags.find((f) => f.name === name)?.value;
}

// The Secret volume item a file flag's path comes from: asserts the path is on
// a read-only mount of a Secret volume that has an item for it.
function secretFileSource(objs, flag) {
  const { dep, c } = settings(objs);
  const file = flag.value;
  const mount = (c.volumeMounts ?? []).find((m) => file.startsWith(m.mountPath.replace(/\/?$/, "/")));
  assert.ok(mount, `${flag.where}: ${file} is on no volumeMount`);
  assert.equal(mount.readOnly, true, `${where(dep)}: volumeMounts[${mount.name}].readOnly`);
  const volume = dep.spec.template.spec.volumes.find((v) => v.name === mount.name);
  assert.ok(volume?.secret, `${where(dep)}: volume ${mount.name} holding ${file} is not a Secret volume`);
  const rel = file.slice(mount.mountPath.replace(/\/?$/, "/").length);
  const item = (volume.secret.items ?? []).find((it) => it.path === rel);
  assert.ok(item, `${where(dep)}: Secret volume ${mount.name} has no item with path ${rel}`);
  return { secretName: volume.secret.secretName, key: item.key };
}

// Flags whose value is a directory hivebridge writes (its store), on a writable
// volume of its own rather than a Secret.
const dirFlags = new Set(["state-dir"]);

// Flags whose value is a file hivebridge reads (PATH in --help).
const fileFlags = (objs) => settings(objs).flags.filter((f) => !dirFlags.has(f.name) && hivebridgeOptions().find((o) => o.flag === f.name)?.metavar === "PATH");

function portOf(listen) {
  return Number(String(listen).split(":").pop());
}

// A probe's port (number or container-port name) → the container port it hits.
function probePort(c, probe, what) {
  const port = probe.httpGet?.port ?? probe.grpc?.port ?? probe.tcpSocket?.port;
  assert.ok(port !== undefined, `containers[${c.name}].${what}: no httpGet, grpc or tcpSocket port`);
  const cp = (c.ports ?? []).find((p) => p.name === port || p.containerPort === port);
  assert.ok(cp, `containers[${c.name}].${what}: port ${port} is not one of the container's ports (${JSON.stringify(c.ports)})`);
  return cp;
}

test("Chart.yaml appVersion is the CMake project version", () => {
  const cmake = fs.readFileSync(path.join(sourceDir, "CMakeLists.txt"), "utf8");
  const version = cmake.match(/project\(hivebridge VERSION ([0-9.]+)/)[1];
  const chart = YAML.parse(fs.readFileSync(path.join(chartDir, "Chart.yaml"), "utf8"));
  assert.equal(chart.appVersion, version, "Chart.yaml appVersion differs from project(hivebridge VERSION …)");
});

test("values.yaml config defaults are hivebridge's own defaults", () => {
  const values = YAML.parse(fs.readFileSync(path.join(chartDir, "values.yaml"), "utf8"));
  const options = hivebridgeOptions();
  for (const [key, value] of Object.entries(values.config)) {
    const flag = key.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);
    const option = options.find((o) => o.flag === flag);
    assert.ok(option, `values.yaml config.${key}: hivebridge has no --${flag}`);
    assert.equal(String(value), option.default, `values.yaml config.${key}: default ${value}, hivebridge --help says ${option.default}`);
  }
  assert.equal(values.drain.timeoutSeconds, durationSeconds(options.find((o) => o.flag === "drain-timeout").default),
    "values.yaml drain.timeoutSeconds differs from hivebridge's --drain-timeout default");
});

test("every hivebridge --help option is set by the chart in some value set", () => {
  const reached = new Set();
  for (const set of valueSets) {
    const { flags, vars } = settings(render(set));
    for (const f of flags) reached.add(f.name);
    for (const v of vars) reached.add(hivebridgeOptions().find((o) => o.env === v.name)?.flag);
  }
  const missing = hivebridgeOptions().filter((o) => !reached.has(o.flag)).map((o) => `--${o.flag}`);
  assert.deepEqual(missing, [], `hivebridge options no value set of tests/helm/values renders (add them to the chart and a value set): ${missing.join(", ")}`);
});

for (const set of valueSets) {
  describe(`value set ${set}`, () => {
    test("helm lint --strict passes", () => {
      const r = helm("lint", "--strict", chartDir, "-f", valuesFile(set));
      assert.equal(r.status, 0, `helm lint --strict -f ${set}.yaml:\n${r.stdout}${r.stderr}`);
    });

    const objs = render(set);

    test("every rendered object is valid against the Kubernetes 1.31 schemas", () => {
      for (const obj of objs) {
        if (obj.kind === "ServiceMonitor") validateServiceMonitor(obj, objs);
        else if (obj.kind === "PrometheusRule") validatePrometheusOperator(obj);
        else validateWithModel(obj);
      }
    });

    test("every flag and variable the chart sets exists in hivebridge --help, each set once", () => {
      const options = hivebridgeOptions();
      const { flags, vars } = settings(objs);
      const seen = new Map();
      for (const f of flags) {
        const option = options.find((o) => o.flag === f.name);
        assert.ok(option, `${f.where}: hivebridge has no --${f.name}`);
        assert.ok(f.value !== undefined && f.value !== "", `${f.where}: --${f.name} has no value`);
        assert.ok(!seen.has(option.flag), `${f.where}: --${f.name} is also set by ${seen.get(option.flag)}`);
        seen.set(option.flag, f.where);
      }
      for (const v of vars) {
        if (!v.name.startsWith("HIVEBRIDGE_")) continue;
        const option = options.find((o) => o.env === v.name);
        assert.ok(option, `${v.where}: hivebridge reads no variable ${v.name}`);
        assert.ok(!seen.has(option.flag), `${v.where}: ${v.name} is also set by ${seen.get(option.flag)} (the flag would win)`);
        seen.set(option.flag, v.where);
      }
    });

    test("container ports are the listen ports, and probes hit them", () => {
      const { c, dep } = settings(objs);
      const ws = portOf(flagValue(objs, "ws-listen"));
      const grpc = portOf(flagValue(objs, "grpc-listen"));
      const expected = [["ws", ws], ["grpc", grpc]];
      const http = flagValue(objs, "http-listen");
      if (http !== undefined) expected.push(["http", portOf(http)]);
      assert.deepEqual(c.ports.map((p) => [p.name, p.containerPort]), expected,
        `${where(dep)}: container ports do not match --ws-listen/--grpc-listen/--http-listen`);
      assert.ok(c.readinessProbe, `${where(dep)}: no readinessProbe`);
      assert.ok(c.livenessProbe, `${where(dep)}: no livenessProbe`);
      const ready = probePort(c, c.readinessProbe, "readinessProbe");
      if (c.readinessProbe.grpc) assert.equal(ready.containerPort, grpc, `${where(dep)}: readinessProbe.grpc must target the gRPC port (health service)`);
      const grpcTls = flagValue(objs, "grpc-tls-cert") !== undefined;
      assert.ok(!(grpcTls && c.readinessProbe.grpc), `${where(dep)}: readinessProbe.grpc against a gRPC port on TLS (the kubelet's gRPC probe speaks plaintext)`);
      if (c.readinessProbe.httpGet) {
        assert.equal(ready.containerPort, ws, `${where(dep)}: readinessProbe.httpGet must target the ws port`);
        assert.equal(c.readinessProbe.httpGet.path, "/readyz", `${where(dep)}: readinessProbe.httpGet.path`);
        const tls = flagValue(objs, "tls-cert") !== undefined;
        assert.equal(c.readinessProbe.httpGet.scheme, tls ? "HTTPS" : "HTTP", `${where(dep)}: readinessProbe.httpGet.scheme with tls=${tls}`);
      }
      const live = probePort(c, c.livenessProbe, "livenessProbe");
      if (c.livenessProbe.httpGet) {
        assert.equal(live.containerPort, ws, `${where(dep)}: livenessProbe.httpGet must target the ws port`);
        assert.ok(["/healthz", "/readyz"].includes(c.livenessProbe.httpGet.path), `${where(dep)}: livenessProbe.httpGet.path`);
        const tls = flagValue(objs, "tls-cert") !== undefined;
        assert.equal(c.livenessProbe.httpGet.scheme, tls ? "HTTPS" : "HTTP", `${where(dep)}: livenessProbe.httpGet.scheme with tls=${tls}`);
      }
    });

    test("the Service exposes grpc (appProtocol grpc) and ws on container ports; Ingresses point at it", () => {
      const svc = one(objs, "Service");
      const { c } = settings(objs);
      const grpc = svc.spec.ports.find((p) => p.name === "grpc");
      assert.ok(grpc, `${where(svc)}: no port named grpc`);
      assert.equal(grpc.appProtocol, "grpc", `${where(svc)}: spec.ports[grpc].appProtocol`);
      assert.ok(svc.spec.ports.find((p) => p.name === "ws"), `${where(svc)}: no port named ws`);
      for (const p of svc.spec.ports) {
        assert.ok(c.ports.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort),
          `${where(svc)}: spec.ports[${p.name}].targetPort ${p.targetPort} is not a container port`);
      }
      const podLabels = one(objs, "Deployment").spec.template.metadata.labels;
      for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(podLabels[k], v, `${where(svc)}: spec.selector.${k} does not select the pods`);
      for (const ing of find(objs, "Ingress")) {
        for (const rule of ing.spec.rules) {
          for (const p of rule.http.paths) {
            const b = p.backend.service;
            assert.equal(b.name, svc.metadata.name, `${where(ing)}: backend service ${b.name}`);
            assert.ok(svc.spec.ports.some((sp) => sp.name === b.port.name || sp.port === b.port.number), `${where(ing)}: backend port ${JSON.stringify(b.port)} is not a Service port`);
          }
        }
      }
    });

    test("the JWT key is a file mounted from a Secret, never inlined; the bus URL comes from a Secret", () => {
      const { dep, flags, vars } = settings(objs);
      const keyFlags = flags.filter((f) => f.name === "jwt-secret-file" || f.name === "jwt-public-key-file");
      assert.equal(keyFlags.length, 1, `${where(dep)}: want exactly one of --jwt-secret-file/--jwt-public-key-file, got ${keyFlags.map((f) => f.name)}`);
      const source = secretFileSource(objs, keyFlags[0]);
      const secret = find(objs, "Secret").find((s) => s.metadata.name === source.secretName);
      if (secret) assert.ok(secret.data?.[source.key], `${where(secret)}: no data.${source.key} for ${keyFlags[0].value}`);
      for (const v of vars) {
        assert.ok(!/^HIVEBRIDGE_(JWT_|BUS$)/.test(v.name) || v.valueFrom?.secretKeyRef,
          `${v.where}: ${v.name} must come from a secretKeyRef, not an inline value`);
      }
      assert.ok(!flags.some((f) => f.name === "bus"), `${where(dep)}: --bus in args would show the AMQP password in the pod spec`);
      const values = YAML.parse(fs.readFileSync(valuesFile(set), "utf8")) ?? {};
      const inline = values.jwt?.secret;
      if (inline) {
        for (const obj of objs.filter((o) => o.kind !== "Secret")) {
          assert.ok(!JSON.stringify(obj).includes(inline), `${where(obj)}: contains the JWT secret in clear`);
        }
      }
      if (values.bus?.type === "amqp") {
        const bus = vars.find((v) => v.name === "HIVEBRIDGE_BUS");
        assert.ok(bus?.valueFrom?.secretKeyRef, `${where(dep)}: cluster mode needs HIVEBRIDGE_BUS from a secretKeyRef`);
      }
    });

    test("--state-dir, when set, is a writable claim or emptyDir mounted at exactly that path", () => {
      const { dep, c, flags } = settings(objs);
      const state = flags.find((f) => f.name === "state-dir");
      if (!state) return;
      const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === state.value);
      assert.ok(mount, `${state.where}: ${state.value} is not a volumeMount's path`);
      assert.ok(!mount.readOnly, `${where(dep)}: volumeMounts[${mount.name}] holding --state-dir is read-only`);
      const volume = dep.spec.template.spec.volumes.find((v) => v.name === mount.name);
      assert.ok(volume?.persistentVolumeClaim || volume?.emptyDir, `${where(dep)}: volume ${mount.name} holding --state-dir is neither a claim nor an emptyDir`);
      if (volume.persistentVolumeClaim) {
        assert.equal(dep.spec.strategy.type, "Recreate", `${where(dep)}: a ReadWriteOnce claim needs the Recreate strategy`);
        const claim = find(objs, "PersistentVolumeClaim").find((p) => p.metadata.name === volume.persistentVolumeClaim.claimName);
        assert.ok(claim, `${where(dep)}: the chart renders no PersistentVolumeClaim ${volume.persistentVolumeClaim.claimName}`);
      }
    });

    test("every file hivebridge reads (keys, certificates, client CA, backend policy) is mounted read-only from a Secret", () => {
      for (const flag of fileFlags(objs)) secretFileSource(objs, flag);
      for (const cm of find(objs, "ConfigMap")) {
        for (const [name, value] of Object.entries(cm.data ?? {})) {
          assert.ok(!/-----BEGIN |token:|cert:/.test(value), `${where(cm)} data.${name}: key material or a policy line in a ConfigMap`);
        }
      }
    });

    test("terminationGracePeriodSeconds covers the preStop sleep and the drain timeout", () => {
      const { dep, c } = settings(objs);
      const drain = durationSeconds(flagValue(objs, "drain-timeout") ?? hivebridgeOptions().find((o) => o.flag === "drain-timeout").default);
      const cmd = c.lifecycle?.preStop?.exec?.command;
      assert.ok(cmd && cmd[0] === "sleep", `${where(dep)}: containers[hivebridge].lifecycle.preStop must sleep so endpoints are removed before the drain`);
      const sleep = Number(cmd[1]);
      assert.ok(sleep > 0, `${where(dep)}: preStop sleep ${cmd[1]}`);
      const grace = dep.spec.template.spec.terminationGracePeriodSeconds;
      assert.ok(grace >= sleep + drain, `${where(dep)}: spec.template.spec.terminationGracePeriodSeconds ${grace} < preStop ${sleep}s + --drain-timeout ${drain}s`);
    });

    test("the pod runs hardened: non-root, read-only root, no capabilities, resources, anti-affinity", () => {
      const { dep, c } = settings(objs);
      const pod = dep.spec.template.spec;
      const sc = c.securityContext ?? {};
      assert.equal(pod.securityContext?.runAsNonRoot ?? sc.runAsNonRoot, true, `${where(dep)}: runAsNonRoot`);
      assert.ok((sc.runAsUser ?? pod.securityContext?.runAsUser) > 0, `${where(dep)}: runAsUser must be non-zero`);
      assert.equal(sc.readOnlyRootFilesystem, true, `${where(dep)}: containers[hivebridge].securityContext.readOnlyRootFilesystem`);
      assert.equal(sc.allowPrivilegeEscalation, false, `${where(dep)}: containers[hivebridge].securityContext.allowPrivilegeEscalation`);
      assert.deepEqual(sc.capabilities?.drop, ["ALL"], `${where(dep)}: containers[hivebridge].securityContext.capabilities.drop`);
      assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory, `${where(dep)}: containers[hivebridge].resources`);
      assert.ok(pod.affinity?.podAntiAffinity, `${where(dep)}: spec.template.spec.affinity.podAntiAffinity`);
      assert.equal(pod.automountServiceAccountToken, false, `${where(dep)}: automountServiceAccountToken`);
    });

    test("more than one replica only in cluster mode; HPA and PDB select the Deployment", () => {
      const dep = one(objs, "Deployment");
      const { vars } = settings(objs);
      const hpa = find(objs, "HorizontalPodAutoscaler")[0];
      const clustered = (dep.spec.replicas ?? 1) > 1 || hpa !== undefined;
      if (clustered) assert.ok(vars.some((v) => v.name === "HIVEBRIDGE_BUS"), `${where(dep)}: ${hpa ? "autoscaled" : `${dep.spec.replicas} replicas`} without an AMQP bus`);
      if (hpa) {
        assert.equal(dep.spec.replicas, undefined, `${where(dep)}: spec.replicas must be left to ${where(hpa)}`);
        assert.deepEqual([hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name], ["Deployment", dep.metadata.name], `${where(hpa)}: scaleTargetRef`);
      }
      for (const pdb of find(objs, "PodDisruptionBudget")) {
        assert.deepEqual(pdb.spec.selector.matchLabels, dep.spec.selector.matchLabels, `${where(pdb)}: spec.selector`);
      }
    });

    test("NOTES.txt prints the first grpcurl call against this release", () => {
      // helm template does not render NOTES.txt: render it through a copy of the chart.
      const dir = tmpDir("hivebridge-notes-");
      try {
        fs.cpSync(chartDir, path.join(dir, "hivebridge"), { recursive: true });
        const copy = path.join(dir, "hivebridge");
        fs.renameSync(path.join(copy, "templates", "NOTES.txt"), path.join(copy, "notes.tmpl"));
        fs.writeFileSync(path.join(copy, "templates", "zz-notes.yaml"),
          'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\ndata:\n  notes: {{ tpl (.Files.Get "notes.tmpl") . | quote }}\n');
        const r = helm("template", "rel", copy, "--namespace", "iot", "-f", valuesFile(set), "--show-only", "templates/zz-notes.yaml");
        assert.equal(r.status, 0, `rendering NOTES.txt: ${r.stderr}`);
        const notes = YAML.parse(r.stdout).data.notes;
        const svc = one(objs, "Service");
        assert.match(notes, new RegExp(`port-forward svc/${svc.metadata.name} 9090:${svc.spec.ports.find((p) => p.name === "grpc").port}`), `NOTES.txt: no port-forward line for ${where(svc)}:\n${notes}`);
        const transport = flagValue(objs, "grpc-tls-cert") === undefined ? "-plaintext"
          : `-cacert ca\\.crt -authority ${svc.metadata.name}\\.iot\\.svc${flagValue(objs, "grpc-client-ca") ? " -cert client\\.crt -key client\\.key" : ""}`;
        assert.match(notes, new RegExp(`grpcurl ${transport} localhost:9090 hive\\.bridge\\.v1\\.DeviceBridge/ListDevices`), `NOTES.txt: no grpcurl line (${transport}):\n${notes}`);
        const external = { LoadBalancer: /\.status\.loadBalancer\.ingress/, NodePort: /\.nodePort/ }[svc.spec.type];
        if (external) assert.match(notes, new RegExp(`get service ${svc.metadata.name} -o jsonpath=.*${external.source}`), `NOTES.txt: no external address line for a ${svc.spec.type} Service:\n${notes}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

describe("the chart refuses broken configurations with a clear message", () => {
  const refused = (args, ...phrases) => {
    const r = helm("template", "rel", chartDir, ...args);
    assert.notEqual(r.status, 0, `helm template ${args.join(" ")} rendered; it must be refused`);
    for (const p of phrases) assert.ok(r.stderr.includes(p), `helm template ${args.join(" ")}: message lacks "${p}":\n${r.stderr}`);
  };
  test("replicas > 1 with the in-process bus", () => refused(["--set", "replicaCount=3"], "replicaCount=3 needs cluster mode", "bus.type=amqp"));
  test("autoscaling with the in-process bus", () => refused(["--set", "autoscaling.enabled=true"], "autoscaling.enabled=true needs cluster mode", "bus.type=amqp"));
  test("cluster mode without an AMQP URL", () => refused(["--set", "replicaCount=2", "--set", "bus.type=amqp"], "bus.type=amqp needs bus.amqpUrl"));
  test("a grace period shorter than preStop + drain", () => refused(["--set", "terminationGracePeriodSeconds=10"], "terminationGracePeriodSeconds=10 is shorter than"));
  test("a short HS256 secret", () => refused(["--set", "jwt.secret=short"], "jwt.secret is 5 bytes"));
  test("TLS without a certificate Secret", () => refused(["--set", "tls.enabled=true"], "tls.secretName"));
  test("gRPC TLS without a certificate Secret", () => refused(["--set", "grpcTls.enabled=true"], "grpcTls.secretName"));
  test("a client CA without gRPC TLS", () => refused(["--set", "grpcTls.clientCaSecretName=backends-ca"], "grpcTls.clientCaSecretName", "grpcTls.enabled=true"));
  test("an unsigned cluster given a key as well", () => refused(["--set", "cluster.insecureUnsigned=true", "--set", "cluster.keySecret.existingSecret=k"], "cluster.insecureUnsigned=true and cluster.keySecret.existingSecret exclude each other"));
  test("a value the schema rejects", () => refused(["--set", "config.logLevel=loud"], "config.logLevel"));
  test("a misspelt value", () => refused(["--set", "config.pingIntervall=30s"], "pingIntervall"));
});

// The strongest check of the flags: start the real binary with exactly what the
// chart renders (listen addresses moved to free loopback ports, mounted files
// written to a temporary directory) and see it start and drain cleanly.
describe("hivebridge starts with the rendered configuration", () => {
  for (const set of valueSets) {
    test(set, async () => {
      const objs = render(set);
      const { c, flags, vars } = settings(objs);
      const dir = tmpDir("hivebridge-chart-run-");
      try {
        const files = {};
        const args = flags.map((f) => {
          if (f.name === "ws-listen" || f.name === "grpc-listen") return `--${f.name}=127.0.0.1:0`;
          if (dirFlags.has(f.name)) {
            const local = path.join(dir, "state");
            fs.mkdirSync(local);
            return `--${f.name}=${local}`;
          }
          if (f.value.startsWith("/etc/hivebridge/")) {
            const local = path.join(dir, f.value.replaceAll("/", "_"));
            files[f.name] = local;
            return `--${f.name}=${local}`;
          }
          return `--${f.name}=${f.value}`;
        });
        const secretData = (name, key) => Buffer.from(find(objs, "Secret").find((s) => s.metadata.name === name).data[key], "base64");
        const dep = one(objs, "Deployment");
        for (const m of c.volumeMounts) {
          const vol = dep.spec.template.spec.volumes.find((v) => v.name === m.name);
          for (const item of vol.secret?.items ?? []) {
            const flag = Object.keys(files).find((k) => flags.find((f) => f.name === k).value === `${m.mountPath}/${item.path}`);
            if (!flag) continue;
            const own = find(objs, "Secret").some((s) => s.metadata.name === vol.secret.secretName);
            // An operator's Secret (existingSecret, TLS, CA, policy): a stand-in plays its part here.
            fs.writeFileSync(files[flag], own ? secretData(vol.secret.secretName, item.key) : "stand-in-secret-for-the-chart-test");
          }
        }
        // Stand-ins hivebridge's start-up checks accept: certificates from openssl (a
        // self-signed one serves as the client CA too) and a policy line.
        for (const [cert, key] of [["tls-cert", "tls-key"], ["grpc-tls-cert", "grpc-tls-key"]]) {
          if (!files[cert]) continue;
          execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-keyout", files[key], "-out", files[cert]], { stdio: "ignore" });
        }
        if (files["grpc-client-ca"]) fs.copyFileSync(files["grpc-tls-cert"], files["grpc-client-ca"]);
        if (files["backend-policy-file"]) fs.writeFileSync(files["backend-policy-file"], "ops cert:ops.backend.internal *\n");
        // Only the pod's environment, plus what a sanitizer tree (make test-asan, test-tsan) runs the
        // binary with: its report options and, for TSan, the instrumented Abseil's directory.
        const sanitizerVars = ["ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LD_LIBRARY_PATH"];
        const env = { PATH: process.env.PATH };
        for (const name of sanitizerVars) if (process.env[name] !== undefined) env[name] = process.env[name];
        for (const v of vars) {
          const ref = v.valueFrom?.secretKeyRef;
          // Cluster mode's AMQP URL comes from a Secret (the operator's, for an existingSecret).
          // No broker listens here, so the replica starts unready and keeps retrying.
          if (ref) {
            const own = find(objs, "Secret").some((s) => s.metadata.name === ref.name);
            env[v.name] = own ? secretData(ref.name, ref.key).toString() : "amqp://guest:guest@127.0.0.1:1/%2f";
          } else if (v.value !== undefined) {
            env[v.name] = v.value;
          }
        }
        // The started line is logged at info; a quieter level (the cluster set's warn) is still
        // checked by the schema and by the run of `hivebridge --help` options above.
        env.HIVEBRIDGE_LOG_LEVEL = "info";
        const child = spawn(process.env.HIVEBRIDGE_BINARY, args, { env, stdio: ["ignore", "ignore", "pipe"] });
        let log = "";
        child.stderr.on("data", (d) => { log += d; });
        const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
        // Both timers are cleared whoever wins, or they would keep node's test runner alive.
        let poll, timeout;
        const started = await Promise.race([
          new Promise((resolve) => { poll = setInterval(() => { if (log.includes("event=started")) resolve(true); }, 50); }),
          exited.then(() => false),
          new Promise((resolve) => { timeout = setTimeout(() => resolve(false), 10000); }),
        ]);
        clearInterval(poll);
        clearTimeout(timeout);
        if (!started) child.kill("SIGKILL");
        assert.ok(started, `hivebridge ${args.join(" ")} with ${JSON.stringify(env)} did not start:\n${log}`);
        child.kill("SIGTERM");
        assert.equal(await exited, 0, `hivebridge did not drain and exit 0 on SIGTERM:\n${log}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

// A Kubernetes quantity (128Mi, 2Gi, 1.5G, 536870912) in bytes.
function quantityBytes(q) {
  const m = String(q).match(/^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/);
  if (!m) throw new Error(`not a memory quantity: ${q}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2]] ?? 1;
  return Number(m[1]) * unit;
}

// docs/PERFORMANCE.md §4/§6: 13.5-14.3 KiB of RSS per idle authenticated device,
// ≈21 MiB idle. The chart plans (base + devices × KiB/device) × headroom; values.yaml
// and helm/README.md state the same figures and formula.
const MEMORY_PLAN = { kibPerDevice: 14, baseMiB: 64, headroom: 1.25 };
const memoryNeeded = (maxConnections) =>
  (MEMORY_PLAN.baseMiB * 2 ** 20 + maxConnections * MEMORY_PLAN.kibPerDevice * 2 ** 10) * MEMORY_PLAN.headroom;

describe("the memory limit holds config.maxConnections idle devices", () => {
  const valuesText = fs.readFileSync(path.join(chartDir, "values.yaml"), "utf8");
  const values = YAML.parse(valuesText);
  const formula = `(${MEMORY_PLAN.baseMiB} MiB + maxConnections x ${MEMORY_PLAN.kibPerDevice} KiB) x ${MEMORY_PLAN.headroom}`;

  test("values.yaml's default limit holds its default maxConnections", () => {
    const limit = quantityBytes(values.resources.limits.memory);
    const need = memoryNeeded(values.config.maxConnections);
    assert.ok(limit >= need, `values.yaml: resources.limits.memory ${values.resources.limits.memory} < ${formula} = ${Math.ceil(need / 2 ** 20)} MiB for config.maxConnections ${values.config.maxConnections}`);
    assert.ok(quantityBytes(values.resources.requests.memory) <= limit, "values.yaml: resources.requests.memory above the limit");
  });

  test("values.yaml and helm/README.md document the figure and the formula the test uses", () => {
    const readme = fs.readFileSync(path.join(sourceDir, "helm", "README.md"), "utf8");
    for (const [file, text] of [["helm/hivebridge/values.yaml", valuesText], ["helm/README.md", readme]]) {
      assert.ok(text.replace(/\s*\n\s*#?\s*/g, " ").includes(formula), `${file}: does not state the memory plan "${formula}"`);
      assert.match(text, /docs\/PERFORMANCE\.md/, `${file}: does not cite docs/PERFORMANCE.md for the per-device figure`);
    }
  });

  for (const set of valueSets) {
    test(`value set ${set}`, () => {
      const objs = render(set);
      const { c, vars } = settings(objs);
      const maxConnections = Number(vars.find((v) => v.name === "HIVEBRIDGE_MAX_CONNECTIONS").value);
      const limit = c.resources?.limits?.memory;
      assert.ok(limit, `${set}: containers[hivebridge] has no memory limit`);
      assert.ok(quantityBytes(limit) >= memoryNeeded(maxConnections),
        `${set}: memory limit ${limit} < ${formula} = ${Math.ceil(memoryNeeded(maxConnections) / 2 ** 20)} MiB for maxConnections ${maxConnections}`);
    });
  }
});

describe("Chart.yaml metadata and the default image", () => {
  const chart = YAML.parse(fs.readFileSync(path.join(chartDir, "Chart.yaml"), "utf8"));

  test("home, sources and maintainers are set", () => {
    assert.match(chart.home ?? "", /^https:\/\//, "Chart.yaml home");
    assert.ok(chart.sources?.length && chart.sources.every((s) => /^https:\/\//.test(s)), "Chart.yaml sources");
    assert.ok(chart.sources.includes(chart.home), "Chart.yaml sources do not include home");
    assert.ok(chart.maintainers?.length && chart.maintainers.every((m) => m.name), "Chart.yaml maintainers");
  });

  test("the icon is icon.svg of the chart as a data: URI (nothing fetched)", () => {
    const svg = fs.readFileSync(path.join(chartDir, "icon.svg"));
    assert.equal(chart.icon, `data:image/svg+xml;base64,${svg.toString("base64")}`, "Chart.yaml icon differs from helm/hivebridge/icon.svg (base64 -w0)");
  });

  test("the default image is hivebridge:<appVersion>, the name `make image` gives it", () => {
    const values = YAML.parse(fs.readFileSync(path.join(chartDir, "values.yaml"), "utf8"));
    assert.equal(values.image.repository, "hivebridge", "values.yaml image.repository");
    assert.equal(values.image.tag, "", "values.yaml image.tag: empty means appVersion");
    assert.equal(container(render("default")).image, `hivebridge:${chart.appVersion}`, "default image");
    assert.equal(container(render("default", "--set", "image.repository=registry.example.com/hivebridge")).image,
      `registry.example.com/hivebridge:${chart.appVersion}`, "image.repository override");
    const listed = YAML.parse(chart.annotations["artifacthub.io/images"]);
    assert.deepEqual(listed.map((i) => i.image), [`hivebridge:${chart.appVersion}`], "Chart.yaml artifacthub.io/images");
  });
});

describe("cluster mode signs messages between replicas with a key from a Secret", () => {
  const keySecrets = (objs) => find(objs, "Secret").filter((s) => s.metadata.name.endsWith("-cluster-key"));
  const keyFlag = (objs) => settings(objs).flags.find((f) => f.name === "cluster-key-file");
  const insecureFlag = (objs) => settings(objs).flags.find((f) => f.name === "cluster-insecure-unsigned");

  test("without a Secret of the operator's, the chart generates a key of 64 characters in its own", () => {
    const objs = render("cluster");
    assert.equal(insecureFlag(objs), undefined);
    const source = secretFileSource(objs, keyFlag(objs));
    assert.deepEqual(source, { secretName: "rel-hivebridge-cluster-key", key: "cluster-key" });
    const [secret] = keySecrets(objs);
    assert.ok(secret, "no rel-hivebridge-cluster-key Secret rendered");
    assert.equal(Buffer.from(secret.data["cluster-key"], "base64").length, 64);
    // The generated key is looked up first, so an upgrade keeps it: the template says so.
    const template = fs.readFileSync(path.join(chartDir, "templates", "cluster-key-secret.yaml"), "utf8");
    assert.match(template, /lookup "v1" "Secret"/);
  });

  test("cluster.keySecret.existingSecret mounts the operator's Secret and generates none", () => {
    const objs = render("cluster", "--set", "cluster.keySecret.existingSecret=fleet-key", "--set", "cluster.keySecret.key=k");
    assert.deepEqual(secretFileSource(objs, keyFlag(objs)), { secretName: "fleet-key", key: "k" });
    assert.deepEqual(keySecrets(objs), []);
  });

  test("cluster.insecureUnsigned says so to hivebridge and mounts no key", () => {
    const objs = render("extras");
    assert.equal(insecureFlag(objs)?.value, "true");
    assert.equal(keyFlag(objs), undefined);
    assert.deepEqual(keySecrets(objs), []);
  });

  test("the in-process bus needs no key", () => {
    const objs = render("default");
    assert.equal(keyFlag(objs), undefined);
    assert.equal(insecureFlag(objs), undefined);
    assert.deepEqual(keySecrets(objs), []);
  });
});

describe("escape hatches and Service knobs render where they belong", () => {
  const objs = render("extras");
  const values = YAML.parse(fs.readFileSync(valuesFile("extras"), "utf8"));
  const dep = one(objs, "Deployment");
  const pod = dep.spec.template.spec;
  const c = container(objs);

  test("extraArgs are appended, in order, after the chart's flags", () => {
    const plain = container(render("default")).args;
    const args = container(render("default", "--set", "extraArgs[0]=--log-level=debug", "--set", "extraArgs[1]=--io-threads=4")).args;
    assert.deepEqual(args, [...plain, "--log-level=debug", "--io-threads=4"], `${where(dep)}: containers[hivebridge].args`);
  });

  test("extraEnv after the chart's variables, extraEnvFrom after its ConfigMap", () => {
    assert.deepEqual(c.env.slice(-values.extraEnv.length), values.extraEnv, `${where(dep)}: containers[hivebridge].env`);
    assert.equal(c.env[0].name, "HIVEBRIDGE_REPLICA_ID", `${where(dep)}: the chart's variables come first`);
    assert.deepEqual(c.envFrom.slice(1), values.extraEnvFrom, `${where(dep)}: containers[hivebridge].envFrom`);
  });

  test("extraVolumes and extraVolumeMounts beside the chart's own", () => {
    assert.deepEqual(pod.volumes.slice(-values.extraVolumes.length), values.extraVolumes, `${where(dep)}: volumes`);
    assert.ok(pod.volumes.some((v) => v.name === "jwt"), `${where(dep)}: the chart's jwt volume is gone`);
    assert.deepEqual(c.volumeMounts.slice(-values.extraVolumeMounts.length), values.extraVolumeMounts, `${where(dep)}: volumeMounts`);
  });

  test("sidecars after the hivebridge container, initContainers before it", () => {
    assert.deepEqual(pod.containers.map((x) => x.name), ["hivebridge", ...values.sidecars.map((x) => x.name)], `${where(dep)}: containers`);
    assert.deepEqual(pod.containers.slice(1), values.sidecars, `${where(dep)}: sidecars`);
    assert.deepEqual(pod.initContainers, values.initContainers, `${where(dep)}: initContainers`);
    assert.equal(container(render("default")).name, "hivebridge");
    assert.equal(one(render("default"), "Deployment").spec.template.spec.initContainers, undefined, "no initContainers by default");
  });

  test("podAnnotations join the checksums; podLabels join the selector labels", () => {
    const meta = dep.spec.template.metadata;
    for (const [k, v] of Object.entries(values.podAnnotations)) assert.equal(meta.annotations[k], v, `${where(dep)}: pod annotation ${k}`);
    assert.ok(meta.annotations["checksum/config"], `${where(dep)}: checksum/config annotation lost`);
    for (const [k, v] of Object.entries(values.podLabels)) assert.equal(meta.labels[k], v, `${where(dep)}: pod label ${k}`);
    for (const [k, v] of Object.entries(dep.spec.selector.matchLabels)) assert.equal(meta.labels[k], v, `${where(dep)}: selector label ${k}`);
  });

  test("a LoadBalancer Service with every knob", () => {
    const svc = one(objs, "Service");
    const s = values.service;
    assert.equal(svc.spec.type, "LoadBalancer");
    assert.equal(svc.spec.externalTrafficPolicy, s.externalTrafficPolicy, `${where(svc)}: externalTrafficPolicy`);
    assert.equal(svc.spec.loadBalancerClass, s.loadBalancerClass, `${where(svc)}: loadBalancerClass`);
    assert.equal(svc.spec.loadBalancerIP, s.loadBalancerIP, `${where(svc)}: loadBalancerIP`);
    assert.deepEqual(svc.spec.loadBalancerSourceRanges, s.loadBalancerSourceRanges, `${where(svc)}: loadBalancerSourceRanges`);
    assert.deepEqual(svc.metadata.annotations, s.annotations, `${where(svc)}: annotations`);
    assert.equal(svc.spec.sessionAffinity, "ClientIP", `${where(svc)}: sessionAffinity`);
    assert.equal(svc.spec.sessionAffinityConfig.clientIP.timeoutSeconds, s.sessionAffinityTimeoutSeconds, `${where(svc)}: sessionAffinityConfig`);
    assert.deepEqual(svc.spec.ports.map((p) => [p.name, p.nodePort]),
      [["grpc", s.nodePorts.grpc], ["ws", s.nodePorts.ws], ["http", s.nodePorts.http]], `${where(svc)}: nodePorts`);
  });

  test("a NodePort Service: node ports and traffic policy, no load balancer fields", () => {
    const svc = one(render("default", "--set", "service.type=NodePort", "--set", "service.nodePorts.ws=30080",
      "--set", "service.externalTrafficPolicy=Cluster"), "Service");
    validateWithModel(svc);
    assert.equal(svc.spec.type, "NodePort");
    assert.equal(svc.spec.externalTrafficPolicy, "Cluster");
    assert.deepEqual(svc.spec.ports.map((p) => [p.name, p.nodePort]), [["grpc", undefined], ["ws", 30080]], `${where(svc)}: nodePorts`);
    assert.equal(svc.spec.loadBalancerSourceRanges, undefined);
  });

  test("the default ClusterIP Service sets none of them", () => {
    const svc = one(render("default"), "Service");
    assert.equal(svc.spec.type, "ClusterIP");
    assert.equal(svc.spec.sessionAffinity, "None");
    for (const k of ["externalTrafficPolicy", "loadBalancerClass", "loadBalancerIP", "loadBalancerSourceRanges", "sessionAffinityConfig"]) {
      assert.equal(svc.spec[k], undefined, `${where(svc)}: spec.${k} on a ClusterIP Service`);
    }
    assert.ok(svc.spec.ports.every((p) => p.nodePort === undefined), `${where(svc)}: nodePort on a ClusterIP Service`);
  });
});

describe("the chart refuses escape hatches and Service knobs that cannot work", () => {
  const refused = (args, ...phrases) => {
    const r = helm("template", "rel", chartDir, ...args);
    assert.notEqual(r.status, 0, `helm template ${args.join(" ")} rendered; it must be refused`);
    for (const p of phrases) assert.ok(r.stderr.includes(p), `helm template ${args.join(" ")}: message lacks "${p}":\n${r.stderr}`);
  };
  test("externalTrafficPolicy on a ClusterIP Service", () => refused(["--set", "service.externalTrafficPolicy=Local"], "service.externalTrafficPolicy=Local needs service.type NodePort or LoadBalancer"));
  test("nodePorts on a ClusterIP Service", () => refused(["--set", "service.nodePorts.grpc=30090"], "service.nodePorts needs service.type NodePort or LoadBalancer"));
  test("load balancer fields without a LoadBalancer", () => refused(["--set", "service.type=NodePort", "--set", "service.loadBalancerIP=203.0.113.10"], "need service.type=LoadBalancer (it is NodePort)"));
  test("a session affinity timeout without ClientIP affinity", () => refused(["--set", "service.sessionAffinityTimeoutSeconds=60"], "sessionAffinity=ClientIP"));
  test("a node port outside the port range", () => refused(["--set", "service.type=NodePort", "--set", "service.nodePorts.ws=70000"], "service.nodePorts.ws"));
  test("a source range that is not a CIDR", () => refused(["--set", "service.type=LoadBalancer", "--set", "service.loadBalancerSourceRanges[0]=anywhere"], "service.loadBalancerSourceRanges.0"));
  test("a pod label replacing a selector label", () => refused(["--set", "podLabels.app\\.kubernetes\\.io/name=other"], "podLabels.app.kubernetes.io/name would replace a selector label"));
  test("extraArgs repeating a flag the chart sets", () => refused(["--set", "extraArgs[0]=--tls-cert=/x.pem"], "extraArgs \"--tls-cert=/x.pem\" repeats a flag the chart sets"));
  test("extraArgs with --bus", () => refused(["--set", "extraArgs[0]=--bus=amqp://u:p@h/"], "extraArgs --bus would put the AMQP URL"));
  test("extraArgs that is not a flag", () => refused(["--set", "extraArgs[0]=debug"], "extraArgs.0"));
  test("an extraEnv entry without a name", () => refused(["--set", "extraEnv[0].value=x"], "extraEnv.0", "name"));
  test("an extraEnvFrom entry with neither configMapRef nor secretRef", () => refused(["--set", "extraEnvFrom[0].prefix=X_"], "extraEnvFrom.0"));
  test("an extraVolumeMount without a mountPath", () => refused(["--set", "extraVolumeMounts[0].name=x"], "extraVolumeMounts.0", "mountPath"));
  test("an extraVolume without a source", () => refused(["--set", "extraVolumes[0].name=x"], "extraVolumes.0"));
  test("a sidecar without an image", () => refused(["--set", "sidecars[0].name=proxy"], "sidecars.0", "image"));
  test("a sidecar named hivebridge", () => refused(["--set", "sidecars[0].name=hivebridge", "--set", "sidecars[0].image=x"], "sidecars.0.name"));
  test("an init container without an image", () => refused(["--set", "initContainers[0].name=init"], "initContainers.0", "image"));
});

describe("monitoring (value set cluster)", () => {
  const objs = render("cluster");
  const exported = exportedMetrics();

  test("every alert reads only metrics the bridge exports, scoped to the release's job", () => {
    const rule = one(objs, "PrometheusRule");
    const alerts = rule.spec.groups.flatMap((g) => g.rules);
    assert.deepEqual(alerts.map((a) => a.alert).sort(), ["HivebridgeBrokerAway", "HivebridgeBrokerWritesStuck", "HivebridgeDeviceAuthFailures",
      "HivebridgeEventsDropped", "HivebridgeFileDescriptorsNearLimit", "HivebridgeNoReadyReplica",
      "HivebridgePendingRequestsNearLimit", "HivebridgeRequestFailureRatio"]);
    for (const a of alerts) {
      for (const metric of metricsIn(a.expr)) {
        assert.ok(exported.has(metric), `${where(rule)} ${a.alert}: ${metric} is not a metric the bridge exports (docs/metrics.md)`);
      }
      assert.match(a.expr, /job="rel-hivebridge"/, `${where(rule)} ${a.alert}: not scoped to the release's job`);
    }
  });

  test("the Grafana dashboard is JSON whose every query reads metrics the bridge exports", () => {
    const cm = find(objs, "ConfigMap").find((c) => c.metadata.name.endsWith("-dashboard"));
    assert.ok(cm, "no dashboard ConfigMap");
    assert.equal(cm.metadata.labels.grafana_dashboard, "1", `${where(cm)}: the sidecar's label`);
    const dashboard = JSON.parse(cm.data["hivebridge.json"]);
    const targets = dashboard.panels.flatMap((p) => p.targets ?? []);
    assert.ok(targets.length >= 10, `the dashboard has only ${targets.length} queries`);
    for (const t of targets) {
      const metrics = metricsIn(t.expr);
      assert.ok(metrics.length > 0, `query ${t.expr} reads no metric`);
      for (const metric of metrics) assert.ok(exported.has(metric), `dashboard query ${t.expr}: ${metric} is not exported (docs/metrics.md)`);
    }
  });

  test("helm test runs hivectl health against the Service's gRPC port", () => {
    const pod = find(objs, "Pod").find((p) => p.metadata.annotations?.["helm.sh/hook"] === "test");
    assert.ok(pod, "no helm test Pod");
    const command = pod.spec.containers[0].command;
    assert.equal(command[0], "hivectl");
    assert.equal(command.at(-1), "health");
    const svc = one(objs, "Service");
    const grpc = svc.spec.ports.find((p) => p.name === "grpc");
    assert.ok(command.includes(`--server=${svc.metadata.name}:${grpc.port}`), `${where(pod)}: ${command.join(" ")}`);
    const help = execFileSync(path.join(path.dirname(process.env.HIVEBRIDGE_BINARY), "..", "clients", "hivectl", "hivectl"),
      ["--help"], { encoding: "utf8" });
    for (const arg of command.slice(1, -1)) {
      assert.ok(help.includes(`  ${arg.split("=")[0]}`), `${where(pod)}: hivectl has no ${arg}`);
    }
  });
});
