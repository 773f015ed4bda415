#!/usr/bin/env node
// Writes every service's image and deployment entries from one table, so that twelve near-identical
// services cannot drift apart and adding a service is adding a row:
//
//   services/<name>/Dockerfile                     the image (one template)
//   deploy/kubernetes/base/<name>/*.yaml           ConfigMap, Deployment, Service, PDB, HPA, NetworkPolicy
//   deploy/kubernetes/base/kustomization.yaml      the list of the above plus postgres/ and rabbitmq/
//   deploy/kubernetes/overlays/*/…                 image tags and replica counts per variant
//   compose.yaml                                   the whole store with PostgreSQL 18 and RabbitMQ 4
//
//   node deploy/generate.mjs           rewrite the files
//   node deploy/generate.mjs --check   exit 1, naming the files, when a committed file differs
//
// The files are committed (operators apply them as they are: `kubectl apply -k deploy/kubernetes`,
// `docker compose up`); deploy/generated.test.ts runs --check so a hand edit or a forgotten
// regeneration fails the tests. deploy/kubernetes.test.ts and deploy/dockerfiles.test.ts hold the
// output to the deployment rules (deploy/tests/*-policy.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify as stringifyYaml } from "yaml";
import { COMMON_NODE_FLAGS } from "../scripts/service-node-flags.mjs";

/** YAML as Kubernetes and Compose read it: YAML 1.1, where an unquoted off, yes or no is a boolean. */
const stringify = (value, options = {}) => stringifyYaml(value, { version: "1.1", lineWidth: 0, ...options });

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const VERSION = "0.1.0";
const NODE_VERSION = "26.10.0";
const NPM_VERSION = "11.19.1";
const PART_OF = "online-books-for-you";

/**
 * The deployables. `calls`: the gRPC services it calls (its NetworkPolicy peers follow from these);
 * `scrapes`: whose metrics its dashboard reads; `events`: uses the bus; `database`: owns one;
 * `public`: reachable from outside the cluster; `env`: settings of its own; `secretEnv`: variables
 * from Secrets created out of band, as [variable, secret, key].
 */
const ALL_BACKENDS = [
  "recommendations",
  "catalog",
  "inventory",
  "accounts",
  "reviews",
  "cart",
  "orders",
  "payments",
  "notifications",
  "webhooks",
];
export const DEPLOYABLES = [
  { name: "accounts", protocol: "grpc", port: 50054, metricsPort: 9468, database: true, events: true, calls: [] },
  { name: "catalog", protocol: "grpc", port: 50052, metricsPort: 9466, database: true, events: true, calls: [] },
  {
    name: "inventory",
    protocol: "grpc",
    port: 50053,
    metricsPort: 9467,
    database: true,
    events: true,
    calls: ["catalog"],
  },
  {
    name: "recommendations",
    protocol: "grpc",
    port: 50051,
    metricsPort: 9464,
    database: true,
    events: true,
    calls: ["catalog"],
  },
  {
    name: "reviews",
    protocol: "grpc",
    port: 50055,
    metricsPort: 9469,
    database: true,
    events: true,
    calls: ["catalog"],
  },
  {
    name: "cart",
    protocol: "grpc",
    port: 50056,
    metricsPort: 9470,
    database: true,
    events: true,
    calls: ["catalog", "inventory"],
  },
  { name: "payments", protocol: "grpc", port: 50058, metricsPort: 9472, database: true, events: true, calls: [] },
  {
    name: "orders",
    protocol: "grpc",
    port: 50057,
    metricsPort: 9471,
    database: true,
    events: true,
    calls: ["catalog"],
  },
  {
    name: "notifications",
    protocol: "grpc",
    port: 50059,
    metricsPort: 9473,
    database: true,
    events: true,
    calls: [],
    secretEnv: [["SMTP_URL", "notifications-smtp", "url", true]],
  },
  {
    name: "webhooks",
    protocol: "grpc",
    port: 50060,
    metricsPort: 9475,
    database: true,
    events: true,
    calls: [],
  },
  {
    name: "gateway",
    protocol: "http",
    port: 8080,
    metricsPort: 9474,
    database: false,
    events: false,
    public: true,
    calls: ["catalog", "inventory", "accounts", "reviews", "cart", "orders", "payments", "recommendations", "webhooks"],
  },
  {
    name: "marketplace",
    protocol: "http",
    port: 5000,
    metricsPort: 9465,
    database: false,
    events: false,
    public: true,
    calls: ALL_BACKENDS,
    scrapes: ALL_BACKENDS,
    // Each page's calls get this deadline, so one slow service cannot hold a page.
    env: { CALL_TIMEOUT_MS: "1500" },
    secretEnv: [["COOKIE_SECRET", "marketplace-secrets", "COOKIE_SECRET"]],
  },
];

const byName = new Map(DEPLOYABLES.map((d) => [d.name, d]));
const prefix = (name) => name.toUpperCase().replaceAll("-", "_");
const labels = (d) => ({ "app.kubernetes.io/name": d.name, "app.kubernetes.io/part-of": PART_OF });
const grpcServiceName = (name) => `bookstore.${name}.v1.${name[0].toUpperCase()}${name.slice(1)}Service`;
/** Which deployables call `name` over gRPC. */
const callersOf = (name) => DEPLOYABLES.filter((d) => d.calls.includes(name)).map((d) => d.name);
const scrapersOf = (name) => DEPLOYABLES.filter((d) => d.scrapes?.includes(name)).map((d) => d.name);
/** Every deployable verifies tokens against the JWKS on the Accounts admin port, except Accounts. */
const jwksReaders = () => DEPLOYABLES.filter((d) => d.name !== "accounts").map((d) => d.name);

// ---------------------------------------------------------------- settings (env)

/** The settings every environment shares; `host(name)` and `dns` say how peers are named. */
function settings(d, { address, metricsUrl, jwksUrl, bus }) {
  const env = {
    HOST: "0.0.0.0",
    PORT: String(d.port),
    METRICS_PORT: String(d.metricsPort),
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
    SHUTDOWN_GRACE_SECONDS: "30",
    TLS_MODE: "off",
  };
  if (d.protocol === "grpc") {
    env.GRPC_REFLECTION = "false";
    // Clients reconnect (and re-resolve DNS) at least every 30 s, so new pods get traffic.
    env.GRPC_MAX_CONNECTION_AGE_MS = "30000";
  }
  if (d.events && bus) env.EVENT_BUS = "amqp";
  if (d.name !== "accounts") {
    env.AUTH_JWKS_URL = jwksUrl;
  }
  env.AUTH_ISSUER = "obfy-accounts";
  env.AUTH_AUDIENCE = "obfy";
  for (const callee of d.calls) env[`${prefix(callee)}_ADDRESS`] = address(byName.get(callee));
  for (const scraped of d.scrapes ?? []) env[`${prefix(scraped)}_METRICS_URL`] = metricsUrl(byName.get(scraped));
  Object.assign(env, d.env ?? {});
  return env;
}

// ---------------------------------------------------------------- Dockerfile

function runtimeDirs(d) {
  const pkg = JSON.parse(readFileSync(join(root, "services", d.name, "package.json"), "utf8"));
  const listed = (pkg.files ?? []).filter((f) => f !== "dist");
  const known = ["data", "views", "public", "templates"].filter((f) => existsSync(join(root, "services", d.name, f)));
  return [...new Set([...listed, ...known])].filter((f) => existsSync(join(root, "services", d.name, f)));
}

function dockerfile(d) {
  const dir = `services/${d.name}`;
  const copies = runtimeDirs(d).map((f) => `COPY ${dir}/${f} ${dir}/${f}`);
  if (d.name === "gateway") copies.push(`COPY --from=build /app/${dir}/generated ${dir}/generated`);
  const healthcheck =
    d.protocol === "grpc" ? ["COPY deploy/docker/grpc-healthcheck.mjs /app/deploy/docker/grpc-healthcheck.mjs"] : [];
  const cmd = JSON.stringify(["node", ...COMMON_NODE_FLAGS, "dist/main.bundle.js"]).replaceAll(",", ", ");
  return `# syntax=docker/dockerfile:1.20
# Generated by deploy/generate.mjs from its table; edit the template there, then run it.
# The ${d.name} image. The build context is the repository root, because the service builds the
# shared workspaces (packages/protos, packages/kit) too:
#   docker build -f ${dir}/Dockerfile -t obfy/${d.name}:${VERSION} .
#
# Node is pinned to an exact release on Debian 12 slim (see docs/deployment.md, "Images"): an
# exact tag makes builds repeatable and upgrades a reviewed one-line change.
ARG NODE_VERSION=${NODE_VERSION}
ARG NPM_VERSION=${NPM_VERSION}

# npm at the version package.json pins, plus every workspace's manifest (npm ci checks the whole
# lockfile against them). Both stages below start here, so dependency layers are rebuilt only
# when a manifest changes. COPY --parents keeps each manifest at its path (Dockerfile 1.20).
FROM node:\${NODE_VERSION}-bookworm-slim AS manifests
ARG NPM_VERSION
RUN npm install --global --no-fund --no-audit npm@\${NPM_VERSION}
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY --parents packages/*/package.json services/*/package.json ./

# Build: all dependencies (buf, ts-proto, tsc and esbuild are dev dependencies), then codegen, tsc
# and the one-file bundle (scripts/bundle.mjs). --ignore-scripts because the root "prepare" script
# would build before the sources are copied.
FROM manifests AS build
# npm ci: exactly the committed lockfile, and a failure if it has drifted from package.json.
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund --ignore-scripts
COPY buf.gen.yaml tsconfig.base.json ./
COPY protos protos
COPY packages/protos packages/protos
COPY packages/kit packages/kit
COPY scripts/bundle.mjs scripts/
COPY ${dir} ${dir}
RUN npm run build -w packages/protos -w packages/kit -w ${dir}

# Production dependencies of this one workspace only (no dev tools, no other service's packages).
FROM manifests AS deps
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund --omit=dev --ignore-scripts -w ${dir}

FROM node:\${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
# npm, npx and corepack are not needed to run the service; removing them removes their
# vulnerabilities from the image too.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \\
    /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
WORKDIR /app
# Files stay owned by root and read-only for the service user: the process cannot rewrite its code.
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/packages/protos/package.json packages/protos/
COPY --from=build /app/packages/protos/dist packages/protos/dist
COPY --from=build /app/packages/protos/descriptors packages/protos/descriptors
COPY --from=build /app/packages/kit/package.json packages/kit/
COPY --from=build /app/packages/kit/dist packages/kit/dist
# The dashboard's page assets: the kit reads them from src/ at run time, from dist builds too.
COPY --from=build /app/packages/kit/src/observability/dashboard/assets packages/kit/src/observability/dashboard/assets
COPY --from=build /app/${dir}/package.json ${dir}/
COPY --from=build /app/${dir}/dist ${dir}/dist
${[...copies, ...healthcheck].join("\n")}
WORKDIR /app/${dir}
# The "node" user of the base image, by number so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE ${d.port} ${d.metricsPort}
# Exec form: node is PID 1 and receives SIGTERM itself; the service installs its own SIGTERM and
# SIGINT handlers and spawns no child processes. Compose sets init: true anyway.
CMD ${cmd}
`;
}

// ---------------------------------------------------------------- Kubernetes

const HEADER = "# Generated by deploy/generate.mjs; edit its table or templates, then run it.\n";
const yamlDoc = (comment, object) =>
  `${HEADER}${comment ? `${comment.replace(/^/gm, "# ")}\n` : ""}${stringify(object, { lineWidth: 0 })}`;

const k8sAddress = (callee) => `dns:///${callee.name}:${callee.port}`;
const k8sMetricsUrl = (x) => `http://${x.name}:${x.metricsPort}/metrics`;
const K8S_JWKS = `http://accounts:9468/.well-known/jwks.json`;

function configMap(d) {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `${d.name}-config`, labels: labels(d) },
    data: settings(d, { address: k8sAddress, metricsUrl: k8sMetricsUrl, jwksUrl: K8S_JWKS, bus: true }),
  };
}

function secretEnv(d) {
  const env = [];
  if (d.database)
    env.push({ name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: `${d.name}-database`, key: "url" } } });
  if (d.events) env.push({ name: "AMQP_URL", valueFrom: { secretKeyRef: { name: `rabbitmq-${d.name}`, key: "url" } } });
  for (const [name, secret, key, optional] of d.secretEnv ?? [])
    env.push({ name, valueFrom: { secretKeyRef: { name: secret, key, ...(optional ? { optional: true } : {}) } } });
  return env;
}

function probes(d) {
  if (d.protocol === "grpc") {
    return {
      startupProbe: { grpc: { port: d.port }, periodSeconds: 2, failureThreshold: 30 },
      readinessProbe: {
        grpc: { port: d.port, service: grpcServiceName(d.name) },
        periodSeconds: 5,
        timeoutSeconds: 2,
        failureThreshold: 2,
      },
      livenessProbe: { grpc: { port: d.port }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    };
  }
  const port = "http";
  return {
    startupProbe: { httpGet: { path: "/healthz", port }, periodSeconds: 2, failureThreshold: 30 },
    readinessProbe: { httpGet: { path: "/readyz", port }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
    livenessProbe: { httpGet: { path: "/healthz", port }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
  };
}

function deployment(d) {
  const podLabels = { ...labels(d), "app.kubernetes.io/component": d.public ? "frontend" : "backend" };
  const security = {
    runAsNonRoot: true,
    runAsUser: 1000,
    runAsGroup: 1000,
    seccompProfile: { type: "RuntimeDefault" },
  };
  const env = secretEnv(d);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: d.name, labels: podLabels },
    spec: {
      revisionHistoryLimit: 5,
      selector: { matchLabels: { "app.kubernetes.io/name": d.name } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: podLabels },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 45,
          securityContext: { ...security, fsGroup: 1000 },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: "kubernetes.io/hostname",
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: { "app.kubernetes.io/name": d.name } },
            },
          ],
          containers: [
            {
              name: d.name,
              image: `obfy/${d.name}:${VERSION}`,
              imagePullPolicy: "IfNotPresent",
              ports: [
                { name: d.protocol, containerPort: d.port, protocol: "TCP" },
                { name: "metrics", containerPort: d.metricsPort, protocol: "TCP" },
              ],
              envFrom: [{ configMapRef: { name: `${d.name}-config` } }],
              ...(env.length > 0 ? { env } : {}),
              ...probes(d),
              lifecycle: { preStop: { sleep: { seconds: 5 } } },
              resources: {
                requests: { cpu: "100m", memory: "128Mi" },
                limits: { cpu: "1", memory: "256Mi" },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                ...security,
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } }],
        },
      },
    },
  };
}

function service(d) {
  if (d.public) {
    return {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: d.name, labels: labels(d) },
      spec: {
        type: "LoadBalancer",
        externalTrafficPolicy: "Local",
        selector: { "app.kubernetes.io/name": d.name },
        ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
      },
    };
  }
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: d.name, labels: labels(d) },
    spec: {
      clusterIP: "None",
      selector: { "app.kubernetes.io/name": d.name },
      ports: [
        { name: "grpc", port: d.port, targetPort: "grpc", protocol: "TCP" },
        { name: "metrics", port: d.metricsPort, targetPort: "metrics", protocol: "TCP" },
      ],
    },
  };
}

const pdb = (d) => ({
  apiVersion: "policy/v1",
  kind: "PodDisruptionBudget",
  metadata: { name: d.name, labels: labels(d) },
  spec: { maxUnavailable: 1, selector: { matchLabels: { "app.kubernetes.io/name": d.name } } },
});

const hpa = (d) => ({
  apiVersion: "autoscaling/v2",
  kind: "HorizontalPodAutoscaler",
  metadata: { name: d.name, labels: labels(d) },
  spec: {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: d.name },
    minReplicas: 2,
    maxReplicas: 10,
    metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
    behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
  },
});

const pods = (names) => names.map((n) => ({ podSelector: { matchLabels: { "app.kubernetes.io/name": n } } }));
const MONITORING = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } };

function networkPolicy(d) {
  const ingress = [];
  if (d.public) ingress.push({ ports: [{ port: "http", protocol: "TCP" }] });
  else {
    const callers = callersOf(d.name);
    if (callers.length > 0) ingress.push({ from: pods(callers), ports: [{ port: "grpc", protocol: "TCP" }] });
  }
  const adminReaders = [...new Set([...scrapersOf(d.name), ...(d.name === "accounts" ? jwksReaders() : [])])];
  if (adminReaders.length > 0)
    ingress.push({ from: pods(adminReaders), ports: [{ port: "metrics", protocol: "TCP" }] });
  ingress.push({ from: [MONITORING], ports: [{ port: "metrics", protocol: "TCP" }] });
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: d.name, labels: labels(d) },
    spec: { podSelector: { matchLabels: { "app.kubernetes.io/name": d.name } }, policyTypes: ["Ingress"], ingress },
  };
}

function networkPolicyComment(d) {
  if (d.public) return "The web port is public; the admin port (/metrics) only from the monitoring namespace.";
  const callers = callersOf(d.name);
  const readers = d.name === "accounts" ? " Every other service reads the JWKS on its admin port." : "";
  return `Only its callers (${callers.join(", ") || "none: it is reached through events only"}) may reach the gRPC port; the admin port is open to Prometheus (namespace monitoring)${scrapersOf(d.name).length ? ` and to the dashboard of ${scrapersOf(d.name).join(", ")}` : ""}.${readers}`;
}

const FILES = [
  ["configmap.yaml", configMap, (d) => `Settings of ${d.name}; keys are the environment variable names it reads.`],
  ["deployment.yaml", deployment, () => ""],
  [
    "service.yaml",
    service,
    (d) =>
      d.public
        ? "The public entry point: an external load balancer on port 80 (the ingress component can replace it)."
        : "Headless (clusterIP: None): DNS answers with every ready pod, and grpc-js clients\n(dns:///name:port, round_robin) balance calls over all of them.",
  ],
  ["pod-disruption-budget.yaml", pdb, () => "Voluntary disruptions take at most one pod at a time."],
  ["horizontal-pod-autoscaler.yaml", hpa, () => ""],
  ["network-policy.yaml", networkPolicy, networkPolicyComment],
];

function kustomizations() {
  const base = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: [
      "postgres/postgres.yaml",
      "rabbitmq/rabbitmq.yaml",
      ...DEPLOYABLES.flatMap((d) => FILES.map(([f]) => `${d.name}/${f}`)),
    ],
  };
  const images = (tag) => DEPLOYABLES.map((d) => ({ name: `obfy/${d.name}`, newTag: tag }));
  const hpaPatch = (min, max) =>
    DEPLOYABLES.map((d) =>
      stringify({
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { name: d.name },
        spec: { minReplicas: min, maxReplicas: max },
      }),
    ).join("---\n");
  const devConfig = DEPLOYABLES.map((d) =>
    stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `${d.name}-config` },
      data: { LOG_LEVEL: "debug", ...(d.protocol === "grpc" ? { GRPC_REFLECTION: "true" } : {}) },
    }),
  ).join("---\n");
  return {
    "deploy/kubernetes/base/kustomization.yaml": `${HEADER}# Every service, PostgreSQL and RabbitMQ, namespace-agnostic, plain-text gRPC inside the cluster.\n# Overlays choose the namespace, the image tags and the replica counts.\n${stringify(base)}`,
    "deploy/kubernetes/overlays/production/kustomization.yaml": `${HEADER}# Production: its own namespace (Pod Security "restricted" enforced), pinned image tags, and at\n# least 3 pods per service (HorizontalPodAutoscaler minReplicas).\n# Optional: add components for mutual TLS (needs cert-manager) or an Ingress.\n${stringify({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", namespace: "online-books", resources: ["namespace.yaml", "../../base"], images: images(VERSION), patches: [{ path: "autoscaling.yaml" }] })}`,
    "deploy/kubernetes/overlays/production/autoscaling.yaml": `${HEADER}# Three pods each at least, up to 20 under load.\n${hpaPatch(3, 20)}`,
    "deploy/kubernetes/overlays/development/kustomization.yaml": `${HEADER}# Development cluster (kind, minikube): one pod each, debug logs, gRPC reflection on, images\n# built locally (docker build ... -t obfy/<name>:dev; kind load docker-image ...).\n${stringify({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", namespace: "online-books-dev", resources: ["namespace.yaml", "../../base"], images: images("dev"), patches: [{ path: "development.yaml" }] })}`,
    "deploy/kubernetes/overlays/development/development.yaml": `${HEADER}${hpaPatch(1, 2)}---\n${devConfig}`,
  };
}

// ---------------------------------------------------------------- PostgreSQL and RabbitMQ in Kubernetes

// Single-node StatefulSets, so the base renders and validates without operators or CRDs. For
// high availability run them through their operators instead (a CloudNativePG Cluster with one
// managed role and Database per service; a RabbitMQ Cluster Operator RabbitmqCluster of 3 nodes
// for quorum queues) and point the same Secrets at them: docs/deployment.md, "Data and broker".
const BACKING_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  runAsUser: 999,
  runAsGroup: 999,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};
const backingLabels = (name) => ({ "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF });

function statefulSet(name, { image, port, env, probe, volumeMounts, volumes, dataPath, extraPorts = [] }) {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, labels: { ...backingLabels(name), "app.kubernetes.io/component": "data" } },
    spec: {
      serviceName: name,
      replicas: 1,
      selector: { matchLabels: { "app.kubernetes.io/name": name } },
      template: {
        metadata: { labels: { ...backingLabels(name), "app.kubernetes.io/component": "data" } },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 60,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 999,
            runAsGroup: 999,
            fsGroup: 999,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name,
              image,
              ports: [{ name: port.name, containerPort: port.number, protocol: "TCP" }, ...extraPorts],
              env,
              readinessProbe: { exec: { command: probe }, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 3 },
              livenessProbe: { exec: { command: probe }, periodSeconds: 20, timeoutSeconds: 10, failureThreshold: 6 },
              resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } },
              securityContext: BACKING_SECURITY,
              volumeMounts: [{ name: "data", mountPath: dataPath }, ...volumeMounts],
            },
          ],
          volumes,
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } } },
        },
      ],
    },
  };
}

function backingService(name, ports) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, labels: backingLabels(name) },
    spec: { selector: { "app.kubernetes.io/name": name }, ports },
  };
}

function backingPolicy(name, clients, port, monitoringPort) {
  const ingress = [{ from: pods(clients), ports: [{ port, protocol: "TCP" }] }];
  if (monitoringPort) ingress.push({ from: [MONITORING], ports: [{ port: monitoringPort, protocol: "TCP" }] });
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, labels: backingLabels(name) },
    spec: { podSelector: { matchLabels: { "app.kubernetes.io/name": name } }, policyTypes: ["Ingress"], ingress },
  };
}

function postgresManifests() {
  const owners = DEPLOYABLES.filter((d) => d.database);
  const script = readFileSync(join(root, "deploy/postgres/create-databases.sh"), "utf8");
  const env = [
    { name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: "postgres-superuser", key: "password" } } },
    { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
    { name: "SERVICE_DATABASES", value: owners.map((d) => d.name).join(" ") },
    ...owners.map((d) => ({
      name: `${prefix(d.name)}_DB_PASSWORD`,
      valueFrom: { secretKeyRef: { name: `${d.name}-database`, key: "password" } },
    })),
  ];
  const objects = [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "postgres-init", labels: backingLabels("postgres") },
      data: { "10-create-databases.sh": script },
    },
    statefulSet("postgres", {
      image: "postgres:18.1-bookworm",
      port: { name: "postgres", number: 5432 },
      env,
      probe: ["pg_isready", "-U", "postgres", "-h", "127.0.0.1"],
      dataPath: "/var/lib/postgresql/data",
      volumeMounts: [
        { name: "init", mountPath: "/docker-entrypoint-initdb.d", readOnly: true },
        { name: "run", mountPath: "/var/run/postgresql" },
        { name: "tmp", mountPath: "/tmp" },
      ],
      volumes: [
        { name: "init", configMap: { name: "postgres-init", defaultMode: 0o555 } },
        { name: "run", emptyDir: {} },
        { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
      ],
    }),
    backingService("postgres", [{ name: "postgres", port: 5432, targetPort: "postgres", protocol: "TCP" }]),
    backingPolicy(
      "postgres",
      owners.map((d) => d.name),
      "postgres",
    ),
  ];
  return `${HEADER}# PostgreSQL 18: one server, one role and database per service (created at first start by
# deploy/postgres/create-databases.sh from the Secrets <service>-database, key "password"; each
# service's DATABASE_URL is the same Secret's key "url"). Only the services that own a database may
# reach it, and each role may connect to its own database only. Secrets are created out of band:
#   kubectl create secret generic postgres-superuser --from-literal=password="$(openssl rand -hex 24)"
#   p="$(openssl rand -hex 24)"; kubectl create secret generic catalog-database \
#     --from-literal=password="$p" --from-literal=url="postgres://catalog:$p@postgres:5432/catalog"
${objects.map((o) => stringify(o, { lineWidth: 0 })).join("---\n")}`;
}

function rabbitmqManifests() {
  const users = DEPLOYABLES.filter((d) => d.events);
  const objects = [
    statefulSet("rabbitmq", {
      image: "rabbitmq:4.2-management",
      port: { name: "amqp", number: 5672 },
      extraPorts: [{ name: "metrics", containerPort: 15692, protocol: "TCP" }],
      env: [
        { name: "RABBITMQ_DEFAULT_USER", value: "obfy" },
        { name: "RABBITMQ_DEFAULT_PASS", valueFrom: { secretKeyRef: { name: "rabbitmq-admin", key: "password" } } },
        { name: "RABBITMQ_NODENAME", value: "rabbit@localhost" },
      ],
      probe: ["rabbitmq-diagnostics", "-q", "check_port_connectivity"],
      dataPath: "/var/lib/rabbitmq",
      volumeMounts: [
        { name: "tmp", mountPath: "/tmp" },
        { name: "etc", mountPath: "/etc/rabbitmq/conf.d" },
      ],
      volumes: [
        { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
        { name: "etc", emptyDir: {} },
      ],
    }),
    backingService("rabbitmq", [
      { name: "amqp", port: 5672, targetPort: "amqp", protocol: "TCP" },
      { name: "metrics", port: 15692, targetPort: "metrics", protocol: "TCP" },
    ]),
    backingPolicy(
      "rabbitmq",
      users.map((d) => d.name),
      "amqp",
      "metrics",
    ),
  ];
  return `${HEADER}# RabbitMQ 4, one node (quorum queues work on one; run three through the RabbitMQ Cluster
# Operator for high availability). Only the services that use the bus may reach AMQP; Prometheus
# scrapes its built-in metrics port. Each service's AMQP_URL comes from the Secret
# rabbitmq-<service>, key "url" (one user per service, created with rabbitmqctl add_user and
# set_permissions, or the operator's User resources):
#   kubectl create secret generic rabbitmq-admin --from-literal=password="$(openssl rand -hex 24)"
${objects.map((o) => stringify(o, { lineWidth: 0 })).join("---\n")}`;
}

// ---------------------------------------------------------------- compose

const composeAddress = (callee) => `dns:///${callee.name}:${callee.port}`;
const composeMetricsUrl = (x) => `http://${x.name}:${x.metricsPort}/metrics`;
const COMPOSE_JWKS = "http://accounts:9468/.well-known/jwks.json";
const need = (variable) => `\${${variable}:?run npm run compose:env first (writes .env)}`;

function composeService(d) {
  const env = settings(d, { address: composeAddress, metricsUrl: composeMetricsUrl, jwksUrl: COMPOSE_JWKS, bus: true });
  if (d.database)
    env.DATABASE_URL = `postgres://${d.name}:\${${prefix(d.name)}_DB_PASSWORD:?run npm run compose:env first (writes .env)}@postgres:5432/${d.name}`;
  if (d.events)
    env.AMQP_URL = `amqp://obfy:\${RABBITMQ_PASSWORD:?run npm run compose:env first (writes .env)}@rabbitmq:5672`;
  for (const [name] of d.secretEnv ?? []) {
    if (name === "SMTP_URL") env.SMTP_URL = `\${SMTP_URL:-}`;
    else env[name] = need(name);
  }
  const dependsOn = {};
  if (d.database) dependsOn.postgres = { condition: "service_healthy" };
  if (d.events) dependsOn.rabbitmq = { condition: "service_healthy" };
  for (const callee of d.calls) dependsOn[callee] = { condition: "service_healthy" };
  if (d.name !== "accounts") dependsOn.accounts = { condition: "service_healthy" };
  const healthcheck =
    d.protocol === "grpc"
      ? ["CMD", "node", "/app/deploy/docker/grpc-healthcheck.mjs", grpcServiceName(d.name)]
      : [
          "CMD",
          "node",
          "-e",
          `fetch('http://127.0.0.1:${d.port}/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
        ];
  return {
    build: { context: ".", dockerfile: `services/${d.name}/Dockerfile` },
    image: `obfy/${d.name}:${VERSION}`,
    init: true,
    read_only: true,
    tmpfs: ["/tmp"],
    security_opt: ["no-new-privileges:true"],
    cap_drop: ["ALL"],
    environment: env,
    ...(d.public ? { ports: [`127.0.0.1:${d.port}:${d.port}`, `127.0.0.1:${d.metricsPort}:${d.metricsPort}`] } : {}),
    networks: ["microservices"],
    depends_on: dependsOn,
    healthcheck: { test: healthcheck, interval: "10s", timeout: "5s", retries: 3, start_period: "20s" },
    stop_grace_period: "40s",
  };
}

function compose() {
  const databases = DEPLOYABLES.filter((d) => d.database);
  const postgresEnv = {
    POSTGRES_PASSWORD: need("POSTGRES_PASSWORD"),
    // Read by deploy/postgres/create-databases.sh at first start: one role and database per service.
    SERVICE_DATABASES: databases.map((d) => d.name).join(" "),
  };
  for (const d of databases) postgresEnv[`${prefix(d.name)}_DB_PASSWORD`] = need(`${prefix(d.name)}_DB_PASSWORD`);
  const file = {
    services: {
      postgres: {
        image: "postgres:18.1-bookworm",
        environment: postgresEnv,
        volumes: [
          "postgres-data:/var/lib/postgresql",
          "./deploy/postgres/create-databases.sh:/docker-entrypoint-initdb.d/10-create-databases.sh:ro",
        ],
        networks: ["microservices"],
        healthcheck: {
          test: ["CMD", "pg_isready", "-U", "postgres", "-h", "127.0.0.1"],
          interval: "5s",
          timeout: "5s",
          retries: 10,
          start_period: "20s",
        },
        stop_grace_period: "60s",
      },
      rabbitmq: {
        image: "rabbitmq:4.2-management",
        hostname: "rabbitmq",
        environment: {
          RABBITMQ_DEFAULT_USER: "obfy",
          RABBITMQ_DEFAULT_PASS: need("RABBITMQ_PASSWORD"),
        },
        volumes: ["rabbitmq-data:/var/lib/rabbitmq"],
        networks: ["microservices"],
        healthcheck: {
          test: ["CMD", "rabbitmq-diagnostics", "-q", "check_port_connectivity"],
          interval: "10s",
          timeout: "10s",
          retries: 10,
          start_period: "30s",
        },
        stop_grace_period: "60s",
      },
      ...Object.fromEntries(DEPLOYABLES.map((d) => [d.name, composeService(d)])),
    },
    networks: { microservices: {} },
    volumes: { "postgres-data": {}, "rabbitmq-data": {} },
  };
  return `${HEADER}# Online Books For You on one machine, with PostgreSQL 18 and RabbitMQ 4:
#   npm run compose:env        # once: random passwords and COOKIE_SECRET into .env (not committed)
#   docker compose up --build
# then open http://localhost:5000 (shop), http://localhost:8080/docs (REST API) and
# http://localhost:9465/dashboard (operators). See docs/deployment.md.
${stringify(file, { lineWidth: 0 })}`;
}

// ---------------------------------------------------------------- main

export function generate() {
  const files = {};
  for (const d of DEPLOYABLES) {
    files[`services/${d.name}/Dockerfile`] = dockerfile(d);
    for (const [file, make, comment] of FILES)
      files[`deploy/kubernetes/base/${d.name}/${file}`] = yamlDoc(comment(d), make(d));
  }
  Object.assign(files, kustomizations());
  files["deploy/kubernetes/base/postgres/postgres.yaml"] = postgresManifests();
  files["deploy/kubernetes/base/rabbitmq/rabbitmq.yaml"] = rabbitmqManifests();
  files["compose.yaml"] = compose();
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes("--check");
  const stale = [];
  for (const [path, text] of Object.entries(generate())) {
    const full = join(root, path);
    const current = existsSync(full) ? readFileSync(full, "utf8") : undefined;
    if (current === text) continue;
    if (check) stale.push(path);
    else {
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, text);
      console.log(`wrote ${path}`);
    }
  }
  if (check && stale.length > 0) {
    console.error(`deploy/generate.mjs: out of date (run node deploy/generate.mjs): ${stale.join(", ")}`);
    process.exit(1);
  }
}
