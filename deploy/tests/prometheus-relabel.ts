/**
 * Prometheus' pod discovery and relabelling, as far as deploy/prometheus/prometheus.yml uses them
 * (role pod; actions keep and replace), applied to rendered Deployments: which targets would
 * Prometheus scrape? kubernetes.test.ts uses it to check the scrape config and the manifests'
 * port names agree.
 */
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { K8sObject } from "./kustomize.js";

/** One entry of a scrape config's `relabel_configs`. */
export interface RelabelConfig {
  readonly source_labels?: readonly string[];
  readonly separator?: string;
  readonly regex?: string;
  readonly replacement?: string;
  readonly target_label?: string;
  readonly action?: string;
}

/** A scrape target after relabelling: its labels, including `__address__`. */
export type Target = Readonly<Record<string, string>>;

const sanitize = (name: string): string => name.replace(/[^a-zA-Z0-9_]/g, "_");

/**
 * Applies `configs` to one target's labels; returns undefined when a `keep` drops it. Throws on
 * actions this subset does not implement, rather than guessing.
 */
export function relabel(labels: Target, configs: readonly RelabelConfig[]): Target | undefined {
  const out: Record<string, string> = { ...labels };
  for (const c of configs) {
    const value = (c.source_labels ?? []).map((l) => out[l] ?? "").join(c.separator ?? ";");
    // Prometheus anchors the regex at both ends.
    const match = new RegExp(`^(?:${c.regex ?? "(.*)"})$`).exec(value);
    const action = c.action ?? "replace";
    if (action === "keep") {
      if (match === null) return undefined;
    } else if (action === "drop") {
      if (match !== null) return undefined;
    } else if (action === "replace") {
      if (match === null || c.target_label === undefined) continue;
      out[c.target_label] = (c.replacement ?? "$1").replace(/\$(\d+)/g, (_, n: string) => match[Number(n)] ?? "");
    } else throw new Error(`relabel action ${action} is not implemented here`);
  }
  return out;
}

/**
 * The targets Prometheus' `role: pod` discovery yields for one running pod of each Deployment:
 * one per declared container port, with the discovery's meta labels.
 */
export function discoverPods(objects: readonly K8sObject[], podIp = "10.0.0.7"): Target[] {
  const targets: Target[] = [];
  for (const o of objects) {
    if (o.kind !== "Deployment") continue;
    const d = o as unknown as IDeployment;
    const name = d.metadata?.name ?? "";
    const labels: Record<string, string> = {
      __meta_kubernetes_namespace: d.metadata?.namespace ?? "default",
      __meta_kubernetes_pod_name: `${name}-0`,
      __meta_kubernetes_pod_ip: podIp,
      __meta_kubernetes_pod_phase: "Running",
    };
    for (const [k, v] of Object.entries(d.spec?.template.metadata?.labels ?? {})) {
      labels[`__meta_kubernetes_pod_label_${sanitize(k)}`] = v;
    }
    for (const c of d.spec?.template.spec?.containers ?? []) {
      for (const p of c.ports ?? []) {
        targets.push({
          ...labels,
          __address__: `${podIp}:${p.containerPort}`,
          __meta_kubernetes_pod_container_name: c.name,
          __meta_kubernetes_pod_container_port_name: p.name ?? "",
          __meta_kubernetes_pod_container_port_number: String(p.containerPort),
        });
      }
    }
  }
  return targets;
}
