// Renders deploy/kubernetes without a cluster and checks every object against the Kubernetes
// schemas and our deployment rules; then breaks copies on purpose to show each rule can fail.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { DEPLOYABLES } from "./generate.mjs";
import { type K8sObject, kubernetesRoot, render } from "./tests/kustomize.js";
import { checkManifests, RULES, type Rule } from "./tests/manifest-policy.js";
import { discoverPods, type RelabelConfig, relabel, type Target } from "./tests/prometheus-relabel.js";
import { typeCheckWithModels, validateWithModels } from "./tests/schema-check.js";
import { isObject, type JsonObject } from "./tests/strategic-merge.js";

const variants = {
  production: kubernetesRoot,
  development: join(kubernetesRoot, "overlays/development"),
  "production-mtls-ingress": join(kubernetesRoot, "overlays/production-mtls-ingress"),
} as const;
const rendered = Object.fromEntries(Object.entries(variants).map(([name, dir]) => [name, render(dir)])) as Record<
  keyof typeof variants,
  ReturnType<typeof render>
>;
const production = rendered.production.objects;

function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is rendered`);
  return o;
}

/** Walks a path of keys / indexes into an object, failing clearly when a step is missing. */
function at(root: JsonObject, ...path: (string | number)[]): JsonObject {
  let node: unknown = root;
  for (const step of path) {
    node = (node as Record<string | number, unknown>)[step];
    assert.ok(node !== undefined && node !== null, `path ${path.join(".")} exists`);
  }
  assert.ok(isObject(node as never), `path ${path.join(".")} is an object`);
  return node as JsonObject;
}

function container(objects: K8sObject[], deployment: string): JsonObject {
  return at(find(objects, "Deployment", deployment), "spec", "template", "spec", "containers", 0);
}

describe("rendering", () => {
  test("the default kustomization renders the production set", (t) => {
    t.diagnostic(`renderer: ${rendered.production.renderer}`);
    const kinds = production.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    // Six objects per deployable (deploy/generate.mjs), PostgreSQL and RabbitMQ, the namespace.
    const expected = [
      ...DEPLOYABLES.flatMap((d) =>
        ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"].map(
          (kind) => `${kind}/${kind === "ConfigMap" ? `${d.name}-config` : d.name}`,
        ),
      ),
      "ConfigMap/postgres-init",
      "StatefulSet/postgres",
      "Service/postgres",
      "NetworkPolicy/postgres",
      "StatefulSet/rabbitmq",
      "Service/rabbitmq",
      "NetworkPolicy/rabbitmq",
      "Namespace/online-books",
    ].sort();
    assert.deepEqual(kinds, expected);
    assert.equal(DEPLOYABLES.length, 12);
    for (const o of production)
      if (o.kind !== "Namespace") assert.equal(o.metadata.namespace, "online-books", `${o.kind}/${o.metadata.name}`);
    // Three pods each, as in the tutorial, owned by the autoscalers.
    assert.equal(at(find(production, "HorizontalPodAutoscaler", "recommendations"), "spec").minReplicas, 3);
    assert.equal(at(find(production, "HorizontalPodAutoscaler", "marketplace"), "spec").minReplicas, 3);
    assert.equal(container(production, "recommendations").image, "obfy/recommendations:0.1.0");
  });

  test("mtls: native gRPC probes move to the plaintext HEALTH_PORT; the certificate is for serving only", () => {
    const full = rendered["production-mtls-ingress"].objects;
    const c = container(full, "recommendations");
    const config = at(find(full, "ConfigMap", "recommendations-config"), "data");
    assert.equal(config.TLS_MODE, "mtls");
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      assert.equal(at(c, probe, "grpc").port, Number(config.HEALTH_PORT), probe);
      assert.equal(at(c, probe).exec, undefined, `${probe} is not an exec probe`);
    }
    assert.ok((c.ports as JsonObject[]).some((p) => p.name === "health" && p.containerPort === 50052));
    assert.equal(container(production, "recommendations").readinessProbe !== undefined, true);
    assert.equal(at(container(production, "recommendations"), "readinessProbe", "grpc").port, 50051);
    assert.deepEqual(at(find(full, "Certificate", "recommendations"), "spec").usages, ["server auth"]);
  });

  test("the Marketplace gets COOKIE_SECRET from a Secret created out of band (the image runs NODE_ENV=production)", () => {
    for (const variant of Object.keys(variants) as (keyof typeof variants)[]) {
      const objects = rendered[variant].objects;
      const env = container(objects, "marketplace").env as JsonObject[];
      const ref = env.find((e) => e.name === "COOKIE_SECRET");
      assert.ok(ref, `${variant}: COOKIE_SECRET is set`);
      assert.deepEqual(at(ref, "valueFrom", "secretKeyRef"), { name: "marketplace-secrets", key: "COOKIE_SECRET" });
      assert.ok(!objects.some((o) => o.kind === "Secret"), `${variant}: no Secret is committed`);
    }
  });

  test("the dashboard's scrape URL names the headless Service's metrics port", () => {
    const url = new URL(
      String(at(find(production, "ConfigMap", "marketplace-config"), "data").RECOMMENDATIONS_METRICS_URL),
    );
    const service = at(find(production, "Service", "recommendations"), "spec");
    const port = (service.ports as JsonObject[]).find((p) => p.name === "metrics");
    assert.ok(port, "the Service has a port named metrics");
    assert.equal(url.hostname, "recommendations");
    assert.equal(Number(url.port), port.port);
    assert.equal(service.clusterIP, "None");
  });

  test("the default render needs no CRDs; the mtls component adds cert-manager objects", () => {
    assert.ok(production.every((o) => !o.apiVersion.includes("cert-manager")));
    const full = rendered["production-mtls-ingress"].objects;
    assert.ok(find(full, "Certificate", "recommendations"));
    assert.equal(find(full, "Ingress", "marketplace").metadata.namespace, "online-books");
    assert.equal(at(find(full, "Service", "marketplace"), "spec").type, "ClusterIP");
    assert.equal(at(find(production, "Service", "marketplace"), "spec").type, "LoadBalancer");
  });
});

describe("schemas", () => {
  for (const [name, { objects }] of Object.entries(rendered)) {
    test(`${name}: every object is valid for the Kubernetes API (kubernetes-models)`, () => {
      assert.deepEqual(validateWithModels(objects), []);
    });
    test(`${name}: no unknown or mistyped fields (TypeScript against kubernetes-models types)`, () => {
      assert.deepEqual(typeCheckWithModels(objects), []);
    });
  }

  test("the schema checks catch a misspelt field and a wrong type", () => {
    const misspelt = structuredClone(production);
    const c = container(misspelt, "recommendations");
    c.readinesProbe = c.readinessProbe ?? null;
    assert.match(typeCheckWithModels(misspelt).join("\n"), /readinesProbe/);
    const mistyped = structuredClone(production);
    at(container(mistyped, "recommendations"), "ports", 0).containerPort = "50051";
    assert.match(validateWithModels(mistyped).join("\n"), /containerPort must be integer/);
    assert.match(typeCheckWithModels(mistyped).join("\n"), /Type 'string' is not assignable to type 'number'/);
  });
});

describe("Prometheus scrape config (deploy/prometheus/prometheus.yml)", () => {
  const config = parse(readFileSync(join(kubernetesRoot, "../prometheus/prometheus.yml"), "utf8")) as {
    scrape_configs: { relabel_configs: RelabelConfig[] }[];
  };
  const relabelConfigs = config.scrape_configs[0]?.relabel_configs ?? [];
  const scraped = (objects: readonly K8sObject[]): Target[] =>
    discoverPods(objects).flatMap((t): Target[] => {
      const kept = relabel(t, relabelConfigs);
      return kept === undefined ? [] : [kept];
    });

  for (const variant of ["production", "production-mtls-ingress"] as const) {
    test(`${variant}: pod discovery keeps exactly each pod's metrics port`, () => {
      const targets = scraped(rendered[variant].objects).map((t) => `${t.service} ${t.__address__} ${t.namespace}`);
      assert.deepEqual(
        targets.sort(),
        DEPLOYABLES.map((d) => `${d.name} 10.0.0.7:${d.metricsPort} online-books`).sort(),
      );
    });
  }

  test("a renamed metrics port is no longer scraped", () => {
    const broken = structuredClone(production);
    const port = (container(broken, "recommendations").ports as JsonObject[]).find((p) => p.name === "metrics");
    assert.ok(port);
    port.name = "prometheus";
    assert.deepEqual(
      scraped(broken)
        .map((t) => t.service)
        .includes("recommendations"),
      false,
    );
  });
});

describe("deployment rules", () => {
  test("production and production-mtls-ingress follow every rule", () => {
    assert.deepEqual(checkManifests(production), []);
    assert.deepEqual(checkManifests(rendered["production-mtls-ingress"].objects), []);
  });

  test("development breaks only the replica rule (one pod each, on purpose)", () => {
    const rules = new Set(checkManifests(rendered.development.objects).map((v) => v.rule));
    assert.deepEqual([...rules], ["replicas"]);
  });

  const metricsRule = (o: K8sObject[], peer: "podSelector" | "namespaceSelector"): JsonObject => {
    const rules = at(find(o, "NetworkPolicy", "recommendations"), "spec").ingress as JsonObject[];
    const rule = rules.find(
      (r) =>
        (r.ports as JsonObject[]).some((p) => p.port === "metrics") &&
        (r.from as JsonObject[]).some((f) => f[peer] !== undefined),
    );
    assert.ok(rule, `a metrics rule with a ${peer}`);
    return rule;
  };

  // Each rule, shown to fire on a copy of a render (production unless named) broken in one way.
  const breakages: [Rule, string, (objects: K8sObject[]) => void, (keyof typeof variants)?][] = [
    ["images", "latest tag", (o) => (container(o, "marketplace").image = "obfy/marketplace:latest")],
    ["images", "no tag", (o) => (container(o, "recommendations").image = "obfy/recommendations")],
    ["replicas", "replicas set beside an HPA", (o) => (at(find(o, "Deployment", "marketplace"), "spec").replicas = 3)],
    [
      "replicas",
      "HPA minimum of 1",
      (o) => (at(find(o, "HorizontalPodAutoscaler", "recommendations"), "spec").minReplicas = 1),
    ],
    [
      "rollout",
      "maxUnavailable 1",
      (o) => (at(find(o, "Deployment", "recommendations"), "spec", "strategy", "rollingUpdate").maxUnavailable = 1),
    ],
    ["resources", "no limits", (o) => delete at(container(o, "recommendations"), "resources").limits],
    ["probes", "no readiness probe", (o) => delete container(o, "marketplace").readinessProbe],
    [
      "probes",
      "TCP probe on a gRPC server",
      (o) => (container(o, "recommendations").livenessProbe = { tcpSocket: { port: 50051 } }),
    ],
    [
      "probes",
      "exec probe on a gRPC server",
      (o) => (container(o, "recommendations").livenessProbe = { exec: { command: ["true"] }, periodSeconds: 10 }),
    ],
    [
      "probes",
      "probe on the TLS port under mTLS",
      (o) => (at(container(o, "recommendations"), "readinessProbe", "grpc").port = 50051),
      "production-mtls-ingress",
    ],
    [
      "probes",
      "HEALTH_PORT differs from the health containerPort",
      (o) => (at(find(o, "ConfigMap", "recommendations-config"), "data").HEALTH_PORT = "50053"),
      "production-mtls-ingress",
    ],
    [
      "probes",
      "HEALTH_PORT left out under mTLS",
      (o) => delete at(find(o, "ConfigMap", "recommendations-config"), "data").HEALTH_PORT,
      "production-mtls-ingress",
    ],
    [
      "probes",
      "readiness probe without service name",
      (o) => delete at(container(o, "recommendations"), "readinessProbe", "grpc").service,
    ],
    [
      "probes",
      "probe on an undeclared port",
      (o) => (at(container(o, "marketplace"), "livenessProbe", "httpGet").port = 8080),
    ],
    [
      "security-context",
      "root allowed",
      (o) => (at(container(o, "marketplace"), "securityContext").runAsNonRoot = false),
    ],
    [
      "security-context",
      "writable root filesystem",
      (o) => (at(container(o, "recommendations"), "securityContext").readOnlyRootFilesystem = false),
    ],
    [
      "security-context",
      "capabilities kept",
      (o) => (at(container(o, "recommendations"), "securityContext").capabilities = { drop: [] }),
    ],
    [
      "security-context",
      "no seccomp",
      (o) =>
        delete at(find(o, "Deployment", "marketplace"), "spec", "template", "spec", "securityContext").seccompProfile,
    ],
    ["graceful-shutdown", "no preStop", (o) => delete container(o, "recommendations").lifecycle],
    [
      "graceful-shutdown",
      "grace period too short",
      (o) =>
        (at(find(o, "Deployment", "recommendations"), "spec", "template", "spec").terminationGracePeriodSeconds = 30),
    ],
    [
      "graceful-shutdown",
      "SHUTDOWN_GRACE_SECONDS raised alone",
      (o) => (at(find(o, "ConfigMap", "marketplace-config"), "data").SHUTDOWN_GRACE_SECONDS = "60"),
    ],
    // The tutorial's class of bug: the Service routes to a port nothing listens on.
    [
      "ports",
      "Service targetPort not a containerPort",
      (o) => (at(find(o, "Service", "recommendations"), "spec", "ports", 0).targetPort = 5000),
    ],
    [
      "ports",
      "PORT differs from containerPort",
      (o) => (at(find(o, "ConfigMap", "recommendations-config"), "data").PORT = "50052"),
    ],
    [
      "ports",
      "client dials the wrong port",
      (o) =>
        (at(find(o, "ConfigMap", "marketplace-config"), "data").RECOMMENDATIONS_ADDRESS =
          "dns:///recommendations:5000"),
    ],
    [
      "ports",
      "plaintext probe port in the Service",
      (o) =>
        (at(find(o, "Service", "recommendations"), "spec").ports as JsonObject[]).push({
          name: "health",
          port: 50052,
          targetPort: "health",
          protocol: "TCP",
        }),
      "production-mtls-ingress",
    ],
    [
      "ports",
      "dashboard scrapes the gRPC port",
      (o) =>
        (at(find(o, "ConfigMap", "marketplace-config"), "data").RECOMMENDATIONS_METRICS_URL =
          "http://recommendations:50051/metrics"),
    ],
    [
      "ports",
      "dashboard URL without /metrics",
      (o) =>
        (at(find(o, "ConfigMap", "marketplace-config"), "data").RECOMMENDATIONS_METRICS_URL =
          "http://recommendations:9464/"),
    ],
    [
      "ports",
      "Service selects nothing",
      (o) => (at(find(o, "Service", "marketplace"), "spec").selector = { app: "marketplace" }),
    ],
    [
      "headless-grpc",
      "ClusterIP gRPC Service",
      (o) => delete at(find(o, "Service", "recommendations"), "spec").clusterIP,
    ],
    [
      "max-connection-age",
      "no max connection age",
      (o) => delete at(find(o, "ConfigMap", "recommendations-config"), "data").GRPC_MAX_CONNECTION_AGE_MS,
    ],
    [
      "disruption-budget",
      "PDB selects nothing",
      (o) => (at(find(o, "PodDisruptionBudget", "marketplace"), "spec", "selector").matchLabels = { app: "x" }),
    ],
    [
      "autoscaler",
      "HPA targets a missing Deployment",
      (o) => (at(find(o, "HorizontalPodAutoscaler", "marketplace"), "spec", "scaleTargetRef").name = "web"),
    ],
    [
      "network-policy",
      "gRPC open to every pod",
      (o) => (at(find(o, "NetworkPolicy", "recommendations"), "spec", "ingress", 0).from = [{ podSelector: {} }]),
    ],
    [
      "network-policy",
      "gRPC open to a namespace",
      (o) => (at(find(o, "NetworkPolicy", "recommendations"), "spec", "ingress", 0).from = [{ namespaceSelector: {} }]),
    ],
    [
      "network-policy",
      "rule without ports or peers",
      (o) => (at(find(o, "NetworkPolicy", "recommendations"), "spec").ingress = [{}]),
    ],
    ["network-policy", "no policy", (o) => o.splice(o.indexOf(find(o, "NetworkPolicy", "recommendations")), 1)],
    [
      "network-policy",
      "dashboard cannot reach the metrics port",
      (o) => {
        const spec = at(find(o, "NetworkPolicy", "recommendations"), "spec");
        spec.ingress = (spec.ingress as JsonObject[]).filter((r) => r !== metricsRule(o, "podSelector"));
      },
    ],
    [
      "network-policy",
      "Prometheus shut out",
      (o) => {
        const spec = at(find(o, "NetworkPolicy", "marketplace"), "spec");
        spec.ingress = (spec.ingress as JsonObject[]).filter((r) => !(r.from as JsonObject[] | undefined)?.length);
      },
    ],
    [
      "network-policy",
      "metrics open to every pod",
      (o) => (metricsRule(o, "namespaceSelector").from = [{ podSelector: {} }]),
    ],
    [
      "network-policy",
      "metrics open to another namespace",
      (o) =>
        (metricsRule(o, "namespaceSelector").from = [
          { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "default" } } },
        ]),
    ],
    [
      "secrets",
      "COOKIE_SECRET in the ConfigMap",
      (o) => {
        const c = container(o, "marketplace");
        c.env = (c.env as JsonObject[]).filter((e) => e.name !== "COOKIE_SECRET");
        at(find(o, "ConfigMap", "marketplace-config"), "data").COOKIE_SECRET = "0123456789abcdef0123456789abcdef";
      },
    ],
    [
      "secrets",
      "COOKIE_SECRET as a literal value",
      (o) => (container(o, "marketplace").env = [{ name: "COOKIE_SECRET", value: "0123456789abcdef0123456789abcdef" }]),
    ],
    [
      "secrets",
      "Secret data committed",
      (o) => o.push({ apiVersion: "v1", kind: "Secret", metadata: { name: "tls" }, data: { "tls.key": "c2VjcmV0" } }),
    ],
  ];
  for (const [rule, what, breakIt, variant = "production"] of breakages) {
    test(`rule ${rule} fails on: ${what}${variant === "production" ? "" : ` (${variant})`}`, () => {
      const broken = structuredClone(rendered[variant].objects);
      breakIt(broken);
      const found = checkManifests(broken);
      assert.ok(
        found.some((v) => v.rule === rule),
        `expected a ${rule} violation, got ${JSON.stringify(found)}`,
      );
    });
  }

  test("every rule has a breakage test", () => {
    const covered = new Set(breakages.map(([rule]) => rule));
    assert.deepEqual(
      RULES.filter((r) => !covered.has(r)),
      [],
    );
  });

  test("Secret mounts: subPath and writable modes are rejected (mtls variant)", () => {
    const broken = structuredClone(rendered["production-mtls-ingress"].objects);
    const c = container(broken, "recommendations");
    const mount = (c.volumeMounts as JsonObject[]).find((m) => m.name === "tls");
    assert.ok(mount);
    mount.subPath = "tls.crt";
    const volumes = at(find(broken, "Deployment", "marketplace"), "spec", "template", "spec").volumes as JsonObject[];
    const tls = volumes.find((v) => v.name === "tls");
    assert.ok(tls);
    at(tls, "secret").defaultMode = 440; // decimal 440 is 0o670: group-writable
    const messages = checkManifests(broken)
      .filter((v) => v.rule === "secrets")
      .map((v) => v.message);
    assert.equal(messages.length, 2, messages.join("\n"));
  });
});
