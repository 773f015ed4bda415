#!/usr/bin/env node
// Container health check for a gRPC server: calls grpc.health.v1.Health/Check on 127.0.0.1:$PORT and
// exits 0 only for SERVING. Docker and Compose need a command for HEALTHCHECK and the image has no
// grpc-health-probe binary, so this reuses the grpc-js and grpc-health-check packages the service
// already ships. Kubernetes does not need it: its native gRPC probes do the same call (except over
// TLS, which kubelet probes cannot speak; see docs/deployment.md).
//
// Usage: node grpc-healthcheck.mjs [service]   ("" = the whole server, as in the liveness probe)
// Environment: PORT (default 50051), HEALTHCHECK_TIMEOUT_MS (default 2000), TLS_MODE=off|tls|mtls
// with TLS_CA_FILE (and TLS_CERT_FILE/TLS_KEY_FILE as the client identity for mtls), and
// HEALTHCHECK_SERVER_NAME (default "recommendations"), the name the server certificate is checked against.
import { readFileSync } from "node:fs";
import { credentials, makeClientConstructor } from "@grpc/grpc-js";
import health from "grpc-health-check";

const service = process.argv[2] ?? "";
const port = Number(process.env.PORT ?? "50051");
const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS ?? "2000");
const tlsMode = (process.env.TLS_MODE ?? "off").toLowerCase();

function fail(message) {
  console.error(`healthcheck: ${message}`);
  process.exit(1);
}

function channelCredentials() {
  if (tlsMode === "off") return { creds: credentials.createInsecure(), options: {} };
  if (tlsMode !== "tls" && tlsMode !== "mtls")
    fail(`TLS_MODE must be off, tls or mtls, got ${JSON.stringify(tlsMode)}`);
  const read = (name) => {
    const file = process.env[name];
    if (!file) fail(`${name} must be set when TLS_MODE=${tlsMode}`);
    return readFileSync(file);
  };
  const ca = read("TLS_CA_FILE");
  const creds =
    tlsMode === "mtls"
      ? credentials.createSsl(ca, read("TLS_KEY_FILE"), read("TLS_CERT_FILE"))
      : credentials.createSsl(ca);
  // We dial 127.0.0.1, but the certificate names the service, so check it against that name.
  const serverName = process.env.HEALTHCHECK_SERVER_NAME ?? "recommendations";
  return { creds, options: { "grpc.ssl_target_name_override": serverName, "grpc.default_authority": serverName } };
}

if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`PORT must be a port number, got ${process.env.PORT}`);
if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) fail("HEALTHCHECK_TIMEOUT_MS must be a positive number");

const HealthClient = makeClientConstructor(health.service, "grpc.health.v1.Health");
const { creds, options } = channelCredentials();
const client = new HealthClient(`127.0.0.1:${port}`, creds, options);
client.Check({ service }, { deadline: Date.now() + timeoutMs }, (error, response) => {
  client.close();
  if (error) fail(`${error.code} ${error.details}`);
  // grpc-health-check loads the proto with enums as strings; accept the number too.
  const status = response?.status;
  if (status === "SERVING" || status === 1) process.exit(0);
  fail(`service ${JSON.stringify(service)} is ${status}`);
});
