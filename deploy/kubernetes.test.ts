// Renders deploy/kubernetes without a cluster and checks every object against the Kubernetes
// schemas and our deployment rules; then breaks copies on purpose to show each rule can fail.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type K8sObject, kubernetesRoot, render } from "./tests/kustomize.js";
import { checkManifests, RULES, type Rule } from "./tests/manifest-policy.js";
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
    assert.deepEqual(kinds, [
      "ConfigMap/marketplace-config",
      "ConfigMap/recommendations-config",
      "Deployment/marketplace",
      "Deployment/recommendations",
      "HorizontalPodAutoscaler/marketplace",
      "HorizontalPodAutoscaler/recommendations",
      "Namespace/online-books",
      "NetworkPolicy/marketplace",
      "NetworkPolicy/recommendations",
      "PodDisruptionBudget/marketplace",
      "PodDisruptionBudget/recommendations",
      "Service/marketplace",
      "Service/recommendations",
    ]);
    for (const o of production)
      if (o.kind !== "Namespace") assert.equal(o.metadata.namespace, "online-books", `${o.kind}/${o.metadata.name}`);
    // Three pods each, as in the tutorial, owned by the autoscalers.
    assert.equal(at(find(production, "HorizontalPodAutoscaler", "recommendations"), "spec").minReplicas, 3);
    assert.equal(at(find(production, "HorizontalPodAutoscaler", "marketplace"), "spec").minReplicas, 3);
    assert.equal(container(production, "recommendations").image, "obfy/recommendations:0.1.0");
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

describe("deployment rules", () => {
  test("production and production-mtls-ingress follow every rule", () => {
    assert.deepEqual(checkManifests(production), []);
    assert.deepEqual(checkManifests(rendered["production-mtls-ingress"].objects), []);
  });

  test("development breaks only the replica rule (one pod each, on purpose)", () => {
    const rules = new Set(checkManifests(rendered.development.objects).map((v) => v.rule));
    assert.deepEqual([...rules], ["replicas"]);
  });

  // Each rule, shown to fire on a copy of the production render broken in one way.
  const breakages: [Rule, string, (objects: K8sObject[]) => void][] = [
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
      (o) => (at(find(o, "ConfigMap", "marketplace-config"), "data").RECOMMENDATIONS_PORT = "5000"),
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
      "secrets",
      "Secret data committed",
      (o) => o.push({ apiVersion: "v1", kind: "Secret", metadata: { name: "tls" }, data: { "tls.key": "c2VjcmV0" } }),
    ],
  ];
  for (const [rule, what, breakIt] of breakages) {
    test(`rule ${rule} fails on: ${what}`, () => {
      const broken = structuredClone(production);
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
