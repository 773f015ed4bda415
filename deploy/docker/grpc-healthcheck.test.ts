// The container health check script, run as Docker runs it (a child process) against a real
// grpc-js server with the standard health service.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { startProbeServer } from "@obfy/kit";
import { HealthImplementation, service as healthService } from "grpc-health-check";

const run = promisify(execFile);
const script = join(dirname(fileURLToPath(import.meta.url)), "grpc-healthcheck.mjs");
const SERVICE = "bookstore.recommendations.v1.RecommendationsService";

async function check(
  port: number,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [script, ...args], {
      env: { PATH: process.env.PATH, PORT: String(port), ...env },
      timeout: 15_000,
    });
    return { code: 0, stderr: "" };
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? "" };
  }
}

async function startServer(): Promise<{ server: Server; port: number; health: HealthImplementation }> {
  const server = new Server();
  const health = new HealthImplementation({ "": "SERVING", [SERVICE]: "SERVING" });
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return { server, port, health };
}

describe("grpc-healthcheck.mjs", () => {
  test("exits 0 for SERVING and 1 for NOT_SERVING or an unknown service", async (t) => {
    const { server, port, health } = await startServer();
    t.after(() => server.forceShutdown());
    assert.ok(healthService, "grpc-health-check exports the service definition the script uses");
    assert.equal((await check(port)).code, 0);
    assert.equal((await check(port, [SERVICE])).code, 0);
    health.setStatus(SERVICE, "NOT_SERVING");
    const draining = await check(port, [SERVICE]);
    assert.equal(draining.code, 1);
    assert.match(draining.stderr, /NOT_SERVING/);
    assert.equal((await check(port)).code, 0, "the server as a whole still answers");
    const unknown = await check(port, ["no.such.Service"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^healthcheck: 5 /m, "NOT_FOUND");
  });

  test("exits 1 when nothing listens, within its deadline", async () => {
    const { server, port } = await startServer();
    server.forceShutdown();
    const started = Date.now();
    const result = await check(port, [], { HEALTHCHECK_TIMEOUT_MS: "1000" });
    assert.equal(result.code, 1);
    assert.ok(Date.now() - started < 10_000, "gives up instead of hanging");
  });

  test("with HEALTH_PORT set, checks the kit's plaintext probe server there, also under TLS_MODE=mtls", async (t) => {
    // The main port's server says NOT_SERVING, the probe port's SERVING: the answer shows which was asked.
    const main = await startServer();
    t.after(() => main.server.forceShutdown());
    main.health.setStatus(SERVICE, "NOT_SERVING");
    const probeHealth = new HealthImplementation({ "": "SERVING", [SERVICE]: "SERVING" });
    const probe = await startProbeServer({ host: "127.0.0.1", port: 0, health: probeHealth });
    t.after(() => probe.close());
    const env = { TLS_MODE: "mtls", HEALTH_PORT: String(probe.port) };
    assert.equal((await check(main.port, [SERVICE], env)).code, 0);
    probeHealth.setStatus(SERVICE, "NOT_SERVING");
    const draining = await check(main.port, [SERVICE], env);
    assert.equal(draining.code, 1);
    assert.match(draining.stderr, /NOT_SERVING/);
  });

  test("rejects bad settings with a clear message", async () => {
    const badPort = await check(0, [], { PORT: "http" });
    assert.equal(badPort.code, 1);
    assert.match(badPort.stderr, /PORT must be a port number/);
    const badHealthPort = await check(50051, [], { HEALTH_PORT: "70000" });
    assert.equal(badHealthPort.code, 1);
    assert.match(badHealthPort.stderr, /HEALTH_PORT must be a port number, got 70000/);
    const tlsWithoutProbePort = await check(50051, [], { TLS_MODE: "mtls" });
    assert.equal(tlsWithoutProbePort.code, 1);
    assert.match(tlsWithoutProbePort.stderr, /TLS_MODE=mtls: set HEALTH_PORT/);
    const badMode = await check(50051, [], { TLS_MODE: "ssl" });
    assert.equal(badMode.code, 1);
    assert.match(badMode.stderr, /TLS_MODE must be off, tls or mtls/);
  });
});
