/**
 * Deployment rules for the rendered Kubernetes objects. Each rule returns violations naming the
 * object and what is wrong; kubernetes.test.ts runs them on the real render and on broken copies
 * (so every rule is shown to fire). The tutorial's manifests would fail several of them, e.g.
 * `ports` (a Service routing to a port nothing listens on) and `headless-grpc`.
 */
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { IService } from "kubernetes-models/v1/Service";
import type { K8sObject } from "./kustomize.js";

/** One broken rule. */
export interface Violation {
  /** Stable rule id, e.g. "ports". */
  readonly rule: string;
  readonly message: string;
}

/** Rule ids, in the order they run. */
export const RULES = [
  "images",
  "replicas",
  "rollout",
  "resources",
  "probes",
  "security-context",
  "graceful-shutdown",
  "ports",
  "headless-grpc",
  "max-connection-age",
  "disruption-budget",
  "autoscaler",
  "network-policy",
  "secrets",
] as const;
/** A rule id. */
export type Rule = (typeof RULES)[number];

/** Minimum seconds between the end of SHUTDOWN_GRACE_SECONDS and SIGKILL. */
export const GRACE_MARGIN_SECONDS = 5;

/** The namespace Prometheus runs in: the only one the NetworkPolicies let scrape metrics ports. */
export const MONITORING_NAMESPACE = "monitoring";
/** The label every namespace carries with its own name (set by the API server). */
const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

type Labels = Readonly<Record<string, string>>;

/** Variables that hold secrets: they come from a Secret (secretKeyRef), never a ConfigMap or a literal. */
export const SECRET_VARIABLE = /(^|_)(SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|TOKEN)$/;

function of<T>(objects: readonly K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as unknown as T[];
}

function matches(selector: Labels | undefined, labels: Labels | undefined): boolean {
  if (selector === undefined || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function podLabels(d: IDeployment): Labels {
  return d.spec?.template.metadata?.labels ?? {};
}

function containers(d: IDeployment): IContainer[] {
  return d.spec?.template.spec?.containers ?? [];
}

/** A container's environment as the kubelet builds it: envFrom ConfigMaps, then env values. */
export function resolveEnv(container: IContainer, configMaps: readonly IConfigMap[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const source of container.envFrom ?? []) {
    const cm = configMaps.find((c) => c.metadata?.name === source.configMapRef?.name);
    for (const [k, v] of Object.entries(cm?.data ?? {})) env.set(`${source.prefix ?? ""}${k}`, v);
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env.set(e.name, e.value);
    else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      const value = configMaps.find((c) => c.metadata?.name === ref.name)?.data?.[ref.key];
      if (value !== undefined) env.set(e.name, value);
    }
  }
  return env;
}

/** The container port a probe, Service or policy port (number or name) refers to, if declared. */
function containerPort(container: IContainer, port: number | string | undefined): number | undefined {
  if (port === undefined) return undefined;
  const declared = container.ports ?? [];
  if (typeof port === "number") return declared.some((p) => p.containerPort === port) ? port : undefined;
  return declared.find((p) => p.name === port)?.containerPort;
}

function grpcPort(container: IContainer): number | undefined {
  return container.ports?.find((p) => p.name === "grpc")?.containerPort;
}

/** The port the application serves on (PORT): the one named "grpc" or "http". */
function mainPort(container: IContainer): number | undefined {
  return container.ports?.find((p) => p.name === "grpc" || p.name === "http")?.containerPort;
}

/** The declared port a NetworkPolicy rule's `ports` entry refers to, or "all" for a rule without ports. */
function reaches(c: IContainer, ports: readonly { port?: number | string }[] | undefined, target: number): boolean {
  return (
    ports === undefined ||
    ports.length === 0 ||
    ports.some((port) => port.port === undefined || containerPort(c, port.port) === target)
  );
}

/** The admin-port paths a container reads from others: `*_METRICS_URL` and the token keys (AUTH_JWKS_URL). */
function adminPath(variable: string): string | undefined {
  if (variable.endsWith("_METRICS_URL")) return "/metrics";
  if (variable === "AUTH_JWKS_URL") return "/.well-known/jwks.json";
  return undefined;
}

/** `http://host:port/path` values of `*_METRICS_URL` and AUTH_JWKS_URL: what a container reads from admin ports. */
function metricsUrls(env: ReadonlyMap<string, string>): { variable: string; url: URL | undefined; raw: string }[] {
  const out: { variable: string; url: URL | undefined; raw: string }[] = [];
  for (const [k, v] of env) {
    if (adminPath(k) === undefined) continue;
    for (const raw of v.split(",").map((x) => x.trim())) {
      out.push({ variable: k, url: URL.canParse(raw) ? new URL(raw) : undefined, raw });
    }
  }
  return out;
}

function probePort(probe: IProbe): number | string | undefined {
  return probe.grpc?.port ?? probe.httpGet?.port ?? probe.tcpSocket?.port;
}

function id(o: { kind?: string; metadata?: { name?: string } }): string {
  return `${o.kind}/${o.metadata?.name}`;
}

/** Checks every rule; returns all violations (empty when the manifests are fine). */
export function checkManifests(objects: readonly K8sObject[]): Violation[] {
  const out: Violation[] = [];
  const report = (rule: Rule, message: string): void => {
    out.push({ rule, message });
  };
  const deployments = of<IDeployment>(objects, "Deployment");
  const services = of<IService>(objects, "Service");
  const configMaps = of<IConfigMap>(objects, "ConfigMap");
  const hpas = of<IHorizontalPodAutoscaler>(objects, "HorizontalPodAutoscaler");
  const pdbs = of<IPodDisruptionBudget>(objects, "PodDisruptionBudget");
  const policies = of<INetworkPolicy>(objects, "NetworkPolicy");

  if (deployments.length === 0) report("replicas", "no Deployment rendered");

  // Which Deployments call which Service: an X_ADDRESS (dns:///host:port) or X_HOST variable
  // naming the Service.
  const callers = new Map<string, Set<IDeployment>>();
  for (const d of deployments) {
    for (const c of containers(d)) {
      const env = resolveEnv(c, configMaps);
      for (const [k, raw] of env) {
        if (!k.endsWith("_ADDRESS")) continue;
        const m = /^(?:dns:\/\/\/)?([^:/]+):(\d+)$/.exec(raw);
        const target = m === null ? undefined : services.find((s) => s.metadata?.name === m[1]);
        if (m === null || target === undefined) continue;
        const host = m[1] ?? "";
        const set = callers.get(host) ?? new Set<IDeployment>();
        set.add(d);
        callers.set(host, set);
        if (!target.spec?.ports?.some((p) => String(p.port) === m[2]))
          report("ports", `${id(d)}: ${k}=${raw} is not a port of Service ${host}`);
      }
      for (const [k, host] of env) {
        if (!k.endsWith("_HOST") || k === "HOST") continue;
        const target = services.find((s) => s.metadata?.name === host);
        if (target === undefined) continue;
        const set = callers.get(host) ?? new Set<IDeployment>();
        set.add(d);
        callers.set(host, set);
        const portVar = `${k.slice(0, -"_HOST".length)}_PORT`;
        const port = env.get(portVar);
        if (!target.spec?.ports?.some((p) => String(p.port) === port)) {
          report("ports", `${id(d)}: ${portVar}=${port} is not a port of Service ${host}`);
        }
      }
    }
  }

  // Which Deployments scrape which Service's metrics: an X_METRICS_URL naming the Service.
  const scrapers = new Map<string, Set<IDeployment>>();
  for (const d of deployments) {
    for (const c of containers(d)) {
      for (const { variable, url, raw } of metricsUrls(resolveEnv(c, configMaps))) {
        if (url === undefined || url.protocol !== "http:" || url.pathname !== adminPath(variable)) {
          report("ports", `${id(d)}: ${variable}=${raw} must be an http://host:port${adminPath(variable)} URL`);
          continue;
        }
        const target = services.find((s) => s.metadata?.name === url.hostname);
        if (target === undefined) continue;
        const set = scrapers.get(url.hostname) ?? new Set<IDeployment>();
        set.add(d);
        scrapers.set(url.hostname, set);
        // The URL's port must be a Service port that reaches the pods' "metrics" containerPort.
        const port = target.spec?.ports?.find((p) => String(p.port) === (url.port || "80"));
        const scraped = deployments.filter((x) => matches(target.spec?.selector, podLabels(x)));
        const ok =
          port !== undefined &&
          scraped.length > 0 &&
          scraped.every((x) =>
            containers(x).some((xc) => {
              const m = containerPort(xc, "metrics");
              return m !== undefined && containerPort(xc, port.targetPort ?? port.port) === m;
            }),
          );
        if (!ok)
          report(
            "ports",
            `${id(d)}: ${variable}=${raw} is not a port of Service ${url.hostname} leading to its pods' "metrics" port`,
          );
      }
    }
  }

  for (const d of deployments) {
    const name = id(d);
    const pod = d.spec?.template.spec;
    const hpa = hpas.find(
      (h) => h.spec?.scaleTargetRef.kind === "Deployment" && h.spec.scaleTargetRef.name === d.metadata?.name,
    );

    // replicas: at least two pods, and only one owner of the count.
    if (hpa !== undefined) {
      if (d.spec?.replicas !== undefined)
        report("replicas", `${name}: set by HPA ${hpa.metadata?.name}, so spec.replicas must be omitted`);
      if ((hpa.spec?.minReplicas ?? 1) < 2) report("replicas", `${name}: HPA minReplicas must be at least 2`);
    } else if ((d.spec?.replicas ?? 1) < 2) report("replicas", `${name}: needs at least 2 replicas`);

    const rolling = d.spec?.strategy?.rollingUpdate;
    if (d.spec?.strategy?.type !== "RollingUpdate" || rolling?.maxUnavailable !== 0 || !rolling.maxSurge) {
      report("rollout", `${name}: use RollingUpdate with maxUnavailable 0 and maxSurge >= 1`);
    }

    if (pod?.automountServiceAccountToken !== false) {
      report("security-context", `${name}: automountServiceAccountToken must be false`);
    }
    const podSc = pod?.securityContext;
    if (podSc?.runAsNonRoot !== true || !podSc.runAsUser || podSc.seccompProfile?.type !== "RuntimeDefault") {
      report(
        "security-context",
        `${name}: pod needs runAsNonRoot, a non-zero runAsUser and seccompProfile RuntimeDefault`,
      );
    }

    for (const c of containers(d)) {
      const where = `${name} container ${c.name}`;
      const env = resolveEnv(c, configMaps);

      const image = c.image ?? "";
      const tag = /:([^/:@]+)$/.exec(image.replace(/@sha256:[0-9a-f]+$/, ""))?.[1];
      if (tag === undefined || tag === "latest")
        report("images", `${where}: image ${image} must be pinned to a version tag`);

      const { requests, limits } = c.resources ?? {};
      if (!requests?.cpu || !requests.memory || !limits?.cpu || !limits.memory) {
        report("resources", `${where}: needs cpu and memory requests and limits`);
      }

      // probes: all three, on declared ports. gRPC servers get native gRPC probes (grpc.health.v1)
      // on a port the kubelet can talk to: it speaks plain text only, so with TLS on they must use
      // the plaintext probe port (HEALTH_PORT, declared as the containerPort "health").
      const grpc = grpcPort(c);
      const health = containerPort(c, "health");
      const tls = (env.get("TLS_MODE") ?? "off").toLowerCase() !== "off";
      const healthEnv = env.get("HEALTH_PORT");
      if (healthEnv !== undefined && Number(healthEnv) !== health) {
        report("probes", `${where}: HEALTH_PORT=${healthEnv} must equal the containerPort named "health" (${health})`);
      }
      if (health !== undefined && healthEnv === undefined) {
        report("probes", `${where}: declares a "health" port but HEALTH_PORT is not set, so nothing listens there`);
      }
      const probeable = grpc === undefined ? [] : tls ? [health] : [grpc, health];
      for (const [kind, probe] of [
        ["startupProbe", c.startupProbe],
        ["readinessProbe", c.readinessProbe],
        ["livenessProbe", c.livenessProbe],
      ] as const) {
        if (probe === undefined) {
          report("probes", `${where}: ${kind} is missing`);
          continue;
        }
        const port = probePort(probe);
        if (port !== undefined && containerPort(c, port) === undefined) {
          report("probes", `${where}: ${kind} port ${port} is not a declared containerPort`);
        }
        if (grpc === undefined) continue;
        if (probe.grpc === undefined) {
          report("probes", `${where}: ${kind} of a gRPC server must be a native gRPC probe (grpc.health.v1)`);
        } else if (!probeable.includes(probe.grpc.port)) {
          report(
            "probes",
            tls
              ? `${where}: ${kind} with TLS_MODE=${env.get("TLS_MODE")} must probe the plaintext "health" port (HEALTH_PORT): kubelet probes cannot speak TLS`
              : `${where}: ${kind} must probe the "grpc" port ${grpc} (or the "health" port)`,
          );
        }
      }
      if (c.readinessProbe?.grpc && !c.readinessProbe.grpc.service) {
        report("probes", `${where}: the gRPC readiness probe must name the service it serves`);
      }
      if (c.livenessProbe?.grpc?.service) {
        report("probes", `${where}: the gRPC liveness probe checks the whole server (service "")`);
      }

      const sc = c.securityContext;
      if (
        sc?.allowPrivilegeEscalation !== false ||
        sc.readOnlyRootFilesystem !== true ||
        sc.runAsNonRoot !== true ||
        !sc.capabilities?.drop?.includes("ALL") ||
        (sc.capabilities.add?.length ?? 0) > 0 ||
        sc.privileged === true
      ) {
        report(
          "security-context",
          `${where}: needs allowPrivilegeEscalation false, readOnlyRootFilesystem, runAsNonRoot, drop ALL`,
        );
      }

      // graceful shutdown: preStop sleep + SHUTDOWN_GRACE_SECONDS + margin fit in the grace period.
      const sleep = c.lifecycle?.preStop?.sleep?.seconds;
      const shutdown = Number(env.get("SHUTDOWN_GRACE_SECONDS") ?? "30");
      const grace = pod?.terminationGracePeriodSeconds ?? 30;
      if (sleep === undefined || sleep < 1) report("graceful-shutdown", `${where}: needs lifecycle.preStop.sleep`);
      else if (!Number.isInteger(shutdown) || grace < sleep + shutdown + GRACE_MARGIN_SECONDS) {
        report(
          "graceful-shutdown",
          `${where}: terminationGracePeriodSeconds ${grace} < preStop ${sleep} + SHUTDOWN_GRACE_SECONDS ${shutdown} + ${GRACE_MARGIN_SECONDS}`,
        );
      }

      // ports: the app listens on PORT, which must be the declared port the Service sends to.
      const listen = Number(env.get("PORT"));
      const main = mainPort(c);
      if (main === undefined || main !== listen) {
        report(
          "ports",
          `${where}: PORT=${env.get("PORT")} must equal the containerPort named "grpc" or "http" (${main})`,
        );
      }
      const metrics = env.get("METRICS_PORT");
      if (metrics !== undefined && containerPort(c, "metrics") !== Number(metrics)) {
        report("ports", `${where}: METRICS_PORT=${metrics} must equal the containerPort named "metrics"`);
      }

      if (grpc !== undefined) {
        const age = Number(env.get("GRPC_MAX_CONNECTION_AGE_MS"));
        if (!Number.isInteger(age) || age <= 0 || age > 300_000) {
          report(
            "max-connection-age",
            `${where}: GRPC_MAX_CONNECTION_AGE_MS must be set (1..300000) so clients re-resolve`,
          );
        }
      }

      // secrets: secret variables from Secrets only (a ConfigMap or a literal is readable by anyone
      // who can read the manifests or the ConfigMap).
      for (const [k] of env) {
        if (SECRET_VARIABLE.test(k) && !c.env?.some((e) => e.name === k && e.valueFrom?.secretKeyRef))
          report("secrets", `${where}: ${k} must come from a Secret (valueFrom.secretKeyRef)`);
      }
      for (const e of c.env ?? []) {
        if (SECRET_VARIABLE.test(e.name) && e.valueFrom?.secretKeyRef === undefined)
          report("secrets", `${where}: ${e.name} must come from a Secret (valueFrom.secretKeyRef)`);
      }

      // secrets: mounted as whole directories (subPath mounts never see renewed files).
      for (const m of c.volumeMounts ?? []) {
        const volume = pod?.volumes?.find((v) => v.name === m.name);
        if (volume?.secret && (m.subPath || m.subPathExpr)) {
          report(
            "secrets",
            `${where}: Secret volume ${m.name} mounted with subPath never receives renewed certificates`,
          );
        }
        if (volume?.secret && m.readOnly !== true)
          report("secrets", `${where}: Secret volume ${m.name} must be readOnly`);
      }
    }

    for (const v of pod?.volumes ?? []) {
      const mode = v.secret?.defaultMode;
      if (v.secret && (mode === undefined || (mode & 0o227) !== 0)) {
        report(
          "secrets",
          `${name}: Secret volume ${v.name} needs a defaultMode without write or world bits (e.g. 0440)`,
        );
      }
    }

    if (!pdbs.some((p) => matches(p.spec?.selector?.matchLabels, podLabels(d)))) {
      report("disruption-budget", `${name}: no PodDisruptionBudget selects its pods`);
    }
    if (hpa === undefined) report("autoscaler", `${name}: no HorizontalPodAutoscaler targets it`);
  }

  for (const p of pdbs) {
    if (!deployments.some((d) => matches(p.spec?.selector?.matchLabels, podLabels(d)))) {
      report("disruption-budget", `${id(p)}: selects no Deployment's pods`);
    }
    if (p.spec?.maxUnavailable === undefined && p.spec?.minAvailable === undefined) {
      report("disruption-budget", `${id(p)}: set maxUnavailable or minAvailable`);
    }
  }
  for (const h of hpas) {
    const ref = h.spec?.scaleTargetRef;
    if (ref?.kind !== "Deployment" || !deployments.some((d) => d.metadata?.name === ref.name)) {
      report("autoscaler", `${id(h)}: scaleTargetRef ${ref?.kind}/${ref?.name} is not a rendered Deployment`);
    }
    if ((h.spec?.maxReplicas ?? 0) < (h.spec?.minReplicas ?? 1))
      report("autoscaler", `${id(h)}: maxReplicas < minReplicas`);
    if (!h.spec?.metrics?.length) report("autoscaler", `${id(h)}: needs at least one metric`);
  }

  const statefulSets = objects.filter((o) => o.kind === "StatefulSet") as unknown as IDeployment[];
  for (const s of services) {
    const selected = deployments.filter((d) => matches(s.spec?.selector, podLabels(d)));
    // PostgreSQL and RabbitMQ run as StatefulSets, outside these Deployment rules.
    if (selected.length === 0 && statefulSets.some((x) => matches(s.spec?.selector, podLabels(x)))) continue;
    if (selected.length === 0) {
      report("ports", `${id(s)}: selects no Deployment's pods`);
      continue;
    }
    for (const port of s.spec?.ports ?? []) {
      for (const d of selected) {
        const target = port.targetPort ?? port.port;
        if (!containers(d).some((c) => containerPort(c, target) !== undefined)) {
          report(
            "ports",
            `${id(s)}: targetPort ${target} is not a containerPort of ${id(d)} (traffic would go nowhere)`,
          );
        }
      }
      if (port.name === "metrics" && s.spec?.type === "LoadBalancer") {
        report("ports", `${id(s)}: must not publish metrics through a LoadBalancer`);
      }
      for (const d of selected) {
        for (const c of containers(d)) {
          const health = containerPort(c, "health");
          if (health !== undefined && containerPort(c, port.targetPort ?? port.port) === health) {
            report(
              "ports",
              `${id(s)}: the plaintext probe port ${health} is for the kubelet only; keep it out of Services`,
            );
          }
        }
      }
    }
    const servesGrpc = selected.some((d) =>
      containers(d).some((c) =>
        (s.spec?.ports ?? []).some((p) => containerPort(c, p.targetPort ?? p.port) === grpcPort(c)),
      ),
    );
    if (servesGrpc && s.spec?.clusterIP !== "None") {
      report(
        "headless-grpc",
        `${id(s)}: a gRPC Service must be headless (clusterIP: None) for client-side round_robin`,
      );
    }
  }

  // network-policy: a gRPC port is reachable only from the Deployments that call its Service.
  for (const d of deployments) {
    for (const c of containers(d)) {
      const grpc = grpcPort(c);
      if (grpc === undefined) continue;
      const fronting = services.filter((s) => matches(s.spec?.selector, podLabels(d)));
      const allowed = fronting.flatMap((s) => [...(callers.get(s.metadata?.name ?? "") ?? [])]);
      const selecting = policies.filter(
        (p) =>
          matches(p.spec?.podSelector?.matchLabels, podLabels(d)) &&
          (p.spec?.policyTypes ?? ["Ingress"]).includes("Ingress"),
      );
      if (selecting.length === 0) report("network-policy", `${id(d)}: no NetworkPolicy isolates its pods`);
      for (const p of selecting) {
        for (const rule of p.spec?.ingress ?? []) {
          if (!reaches(c, rule.ports, grpc)) continue;
          const from = rule.from ?? [];
          if (from.length === 0) report("network-policy", `${id(p)}: lets every source reach ${id(d)} port ${grpc}`);
          for (const peer of from) {
            const peerOk =
              peer.ipBlock === undefined &&
              peer.namespaceSelector === undefined &&
              peer.podSelector !== undefined &&
              allowed.some((caller) => matches(peer.podSelector?.matchLabels, podLabels(caller))) &&
              deployments.every(
                (other) => allowed.includes(other) || !matches(peer.podSelector?.matchLabels, podLabels(other)),
              );
            if (!peerOk) {
              report(
                "network-policy",
                `${id(p)}: a peer other than its callers (${allowed.map(id).join(", ")}) may reach ${id(d)} port ${grpc}`,
              );
            }
          }
        }
      }
    }
  }

  // network-policy: a metrics port is reachable by Prometheus (the monitoring namespace) and by
  // the Deployments whose *_METRICS_URL scrapes it, and by nothing else.
  for (const d of deployments) {
    for (const c of containers(d)) {
      const metrics = containerPort(c, "metrics");
      if (metrics === undefined) continue;
      const fronting = services.filter((s) => matches(s.spec?.selector, podLabels(d)));
      const allowed = fronting.flatMap((s) => [...(scrapers.get(s.metadata?.name ?? "") ?? [])]);
      const peers = policies
        .filter(
          (p) =>
            matches(p.spec?.podSelector?.matchLabels, podLabels(d)) &&
            (p.spec?.policyTypes ?? ["Ingress"]).includes("Ingress"),
        )
        .flatMap((p) => (p.spec?.ingress ?? []).filter((r) => reaches(c, r.ports, metrics)))
        .flatMap((r) => (r.from === undefined || r.from.length === 0 ? [undefined] : r.from));
      const isMonitoring = (peer: (typeof peers)[number]): boolean =>
        peer !== undefined &&
        peer.ipBlock === undefined &&
        peer.podSelector === undefined &&
        peer.namespaceSelector?.matchLabels?.[NAMESPACE_NAME_LABEL] === MONITORING_NAMESPACE;
      const isScraper = (peer: (typeof peers)[number]): boolean =>
        peer !== undefined &&
        peer.ipBlock === undefined &&
        peer.namespaceSelector === undefined &&
        allowed.some((x) => matches(peer.podSelector?.matchLabels, podLabels(x))) &&
        deployments.every((x) => allowed.includes(x) || !matches(peer.podSelector?.matchLabels, podLabels(x)));
      for (const peer of peers) {
        if (!isMonitoring(peer) && !isScraper(peer)) {
          report(
            "network-policy",
            `${id(d)}: metrics port ${metrics} is open to ${peer === undefined ? "every source" : JSON.stringify(peer)}; only the ${MONITORING_NAMESPACE} namespace and its scrapers may reach it`,
          );
        }
      }
      if (!peers.some(isMonitoring)) {
        report(
          "network-policy",
          `${id(d)}: Prometheus (namespace ${MONITORING_NAMESPACE}) cannot reach metrics port ${metrics}`,
        );
      }
      for (const x of allowed) {
        if (!peers.some((peer) => isScraper(peer) && matches(peer?.podSelector?.matchLabels, podLabels(x)))) {
          report(
            "network-policy",
            `${id(x)} scrapes ${id(d)} (*_METRICS_URL) but no NetworkPolicy lets it reach port ${metrics}`,
          );
        }
      }
    }
  }

  for (const o of objects) {
    if (o.kind === "Secret" && (o.data !== undefined || o.stringData !== undefined)) {
      report("secrets", `${id(o)}: Secret data must not be committed; reference a Secret created out of band`);
    }
  }
  return out;
}
