// The gateway and Webhooks deployables as processes: the built bundles, with real PostgreSQL and
// the pg-boss bus for Webhooks and a Catalog stand-in behind the gateway; Swagger UI's assets and
// the generated OpenAPI document are found by the bundle; /metrics answers; SIGTERM ends both.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { createTestIdentity } from "@obfy/kit/dev";
import { type StandIns, startStandIns } from "../services/gateway/src/fixtures/stand-ins.js";
import { type LoggedProcess, spawnLogged } from "./support/logged-process.js";
import { freePort, waitForGrpcServing, waitForHttpReady } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const gatewayBundle = join(repoRoot, "services", "gateway", "dist", "main.bundle.js");
const webhooksBundle = join(repoRoot, "services", "webhooks", "dist", "main.bundle.js");

describe("gateway and webhooks processes", () => {
  const processes: LoggedProcess[] = [];
  const databases: TestDatabase[] = [];
  let standIns: StandIns | undefined;
  after(async () => {
    for (const p of processes) if (!p.hasExited) process.kill(p.pid, "SIGKILL");
    await standIns?.stop();
    await Promise.all(databases.map((d) => d.drop()));
  });

  it("serve, find their files, and stop on SIGTERM", async () => {
    assert.ok(existsSync(gatewayBundle) && existsSync(webhooksBundle), "run `npm run build` first");
    const identity = await createTestIdentity();
    standIns = await startStandIns(identity);
    databases.push(await createTestDatabase(), await createTestDatabase());
    const [own, bus] = databases as [TestDatabase, TestDatabase];
    const [webhooksPort, webhooksMetrics, gatewayPort, gatewayMetrics] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const base = { PATH: process.env.PATH ?? "", LOG_LEVEL: "info", HOST: "127.0.0.1", ...identity.env };
    const webhooks = spawnLogged(process.execPath, ["--enable-source-maps", webhooksBundle], {
      cwd: repoRoot,
      env: {
        ...base,
        PORT: String(webhooksPort),
        METRICS_PORT: String(webhooksMetrics),
        DATABASE_URL: own.url,
        EVENT_BUS: "postgres",
        EVENT_BUS_DATABASE_URL: bus.url,
      },
    });
    processes.push(webhooks);
    await waitForGrpcServing(webhooksPort, 60_000);
    const gateway = spawnLogged(process.execPath, ["--enable-source-maps", gatewayBundle], {
      cwd: repoRoot,
      env: {
        ...base,
        PORT: String(gatewayPort),
        METRICS_PORT: String(gatewayMetrics),
        WEBHOOKS_ADDRESS: `127.0.0.1:${webhooksPort}`,
        ...standIns.env,
      },
    });
    processes.push(gateway);
    const url = `http://127.0.0.1:${gatewayPort}`;
    await waitForHttpReady(`${url}/healthz`, 60_000);

    const books = (await (await fetch(`${url}/v1/books?page_size=2`)).json()) as { books: unknown[] };
    assert.equal(books.books.length, 2);
    const document = (await (await fetch(`${url}/openapi.json`)).json()) as { openapi: string };
    assert.equal(document.openapi, "3.1.0");
    const ui = await fetch(`${url}/docs/static/swagger-ui-bundle.js`);
    assert.equal(ui.status, 200, "Swagger UI's assets are served by the bundle");
    assert.ok((await ui.arrayBuffer()).byteLength > 100_000);
    const token = await identity.token({ subject: "cli_p", role: "client", scopes: ["webhooks:manage"] });
    const listed = await fetch(`${url}/v1/webhooks`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(listed.status, 200, "through the gateway to the Webhooks process");
    assert.deepEqual(await listed.json(), { subscriptions: [], nextPageToken: "" });
    const metrics = await (await fetch(`http://127.0.0.1:${gatewayMetrics}/metrics`)).text();
    assert.match(metrics, /http_server_request_duration_seconds/);
    assert.match(metrics, /grpc_client/);

    process.kill(gateway.pid, "SIGTERM");
    process.kill(webhooks.pid, "SIGTERM");
    assert.deepEqual(await gateway.exited, { code: 0, signal: null });
    assert.deepEqual(await webhooks.exited, { code: 0, signal: null });
  });
});
