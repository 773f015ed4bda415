#!/usr/bin/env node
// Container health check for a gRPC server: calls grpc.health.v1.Health/Check in plain text on
// 127.0.0.1 and exits 0 only for SERVING. Docker and Compose have no native gRPC check and the image
// has no grpc-health-probe binary, so this reuses the grpc-js and grpc-health-check packages the
// service already ships. Kubernetes does not need it: its native gRPC probes make the same call.
//
// It never speaks TLS. With TLS_MODE=tls or mtls the service serves health in plain text on its
// probe port, HEALTH_PORT (only grpc.health.v1 lives there; see docs/security.md), and this checks
// that port; so no client certificate is needed to probe, and the check sees the same health state
// (NOT_SERVING while draining) as callers on the TLS port.
//
// Usage: node grpc-healthcheck.mjs [service]   ("" = the whole server, as in the liveness probe)
// Environment: HEALTH_PORT (preferred) or PORT (default 50051), HEALTHCHECK_TIMEOUT_MS (default 2000),
// TLS_MODE (off, tls or mtls: with TLS on, HEALTH_PORT must be set).
import { credentials, makeClientConstructor } from "@grpc/grpc-js";
import health from "grpc-health-check";

const service = process.argv[2] ?? "";
const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS ?? "2000");
const tlsMode = (process.env.TLS_MODE ?? "off").trim().toLowerCase() || "off";
const healthPort = process.env.HEALTH_PORT?.trim();

function fail(message) {
  console.error(`healthcheck: ${message}`);
  process.exit(1);
}

if (!["off", "tls", "mtls"].includes(tlsMode))
  fail(`TLS_MODE must be off, tls or mtls, got ${JSON.stringify(tlsMode)}`);
if (tlsMode !== "off" && !healthPort) {
  fail(`TLS_MODE=${tlsMode}: set HEALTH_PORT (the plaintext probe port); this check does not speak TLS`);
}
const variable = healthPort ? "HEALTH_PORT" : "PORT";
const raw = healthPort || process.env.PORT || "50051";
const port = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`${variable} must be a port number, got ${raw}`);
if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) fail("HEALTHCHECK_TIMEOUT_MS must be a positive number");

const HealthClient = makeClientConstructor(health.service, "grpc.health.v1.Health");
const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
client.Check({ service }, { deadline: Date.now() + timeoutMs }, (error, response) => {
  client.close();
  if (error) fail(`${error.code} ${error.details}`);
  // grpc-health-check loads the proto with enums as strings; accept the number too.
  const status = response?.status;
  if (status === "SERVING" || status === 1) process.exit(0);
  fail(`service ${JSON.stringify(service)} is ${status}`);
});
