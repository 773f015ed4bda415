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

type Labels = Readonly<Record<string, string>>;

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

  // Which Deployments call which Service: an X_HOST variable naming the Service.
  const callers = new Map<string, Set<IDeployment>>();
  for (const d of deployments) {
    for (const c of containers(d)) {
      const env = resolveEnv(c, configMaps);
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

      // probes: all three, on declared ports; gRPC servers use gRPC health (native or exec).
      const grpc = grpcPort(c);
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
        if (grpc !== undefined && probe.grpc === undefined && probe.exec === undefined) {
          report("probes", `${where}: ${kind} of a gRPC server must use gRPC health (grpc or exec)`);
        }
        if (probe.grpc !== undefined && probe.grpc.port !== grpc) {
          report("probes", `${where}: ${kind} must probe the "grpc" port ${grpc}`);
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
      const main = c.ports?.[0];
      if (main === undefined || main.containerPort !== listen) {
        report("ports", `${where}: PORT=${env.get("PORT")} must equal the first containerPort ${main?.containerPort}`);
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

  for (const s of services) {
    const selected = deployments.filter((d) => matches(s.spec?.selector, podLabels(d)));
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
          const reachesGrpc =
            rule.ports === undefined ||
            rule.ports.length === 0 ||
            rule.ports.some((port) => port.port === undefined || containerPort(c, port.port) === grpc);
          if (!reachesGrpc) continue;
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

  for (const o of objects) {
    if (o.kind === "Secret" && (o.data !== undefined || o.stringData !== undefined)) {
      report("secrets", `${id(o)}: Secret data must not be committed; reference a Secret created out of band`);
    }
  }
  return out;
}
