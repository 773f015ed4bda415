// The Marketplace's main.ts as a real process: it starts without certificates (TLS_MODE off by
// default), serves the shop on PORT and metrics plus the dashboard on METRICS_PORT only, and stops
// cleanly on SIGTERM; a bad setting stops the start with one clear line.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type LoggedProcess, spawnLogged } from "./support/logged-process.js";
import { getPage, logRecords } from "./support/pages.js";
import { freePort } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const MAIN = join(repoRoot, "services", "marketplace", "src", "main.ts");
const STARTUP_MS = 30_000;

function startMarketplace(env: Record<string, string>): LoggedProcess {
  // Only what the test sets: no TLS_*, COOKIE_* or RATE_LIMIT_* from the developer's shell.
  const { PATH, HOME } = process.env;
  return spawnLogged(process.execPath, ["--conditions=source", "--import", "tsx", MAIN], {
    cwd: repoRoot,
    env: { PATH, HOME, HOST: "127.0.0.1", METRICS_HOST: "127.0.0.1", LOG_FORMAT: "json", ...env },
  });
}

describe("marketplace process (main.ts)", () => {
  it("serves the shop and, on the admin port only, metrics and the dashboard; exits 0 on SIGTERM", async (t) => {
    const [port, adminPort, nobody] = [await freePort(), await freePort(), await freePort()];
    // Every store service at a port nothing listens on: each section of the page degrades.
    const elsewhere = Object.fromEntries(
      [
        "RECOMMENDATIONS",
        "CATALOG",
        "INVENTORY",
        "ACCOUNTS",
        "REVIEWS",
        "CART",
        "ORDERS",
        "PAYMENTS",
        "NOTIFICATIONS",
        "WEBHOOKS",
      ].map((name) => [`${name}_ADDRESS`, `127.0.0.1:${nobody}`]),
    );
    const service = startMarketplace({
      PORT: String(port),
      METRICS_PORT: String(adminPort),
      ...elsewhere,
    });
    t.after(() => service.stop());
    await service.waitForLine(/"msg":"Marketplace ready"/, STARTUP_MS);
    const ready = logRecords(service.lines).find((r) => r.msg === "Marketplace ready");
    assert.deepEqual(
      {
        url: ready?.url,
        tls: ready?.tls,
        metrics: ready?.metrics,
        dashboard: ready?.dashboard,
      },
      {
        url: `http://127.0.0.1:${port}`,
        tls: "off",
        metrics: `http://127.0.0.1:${adminPort}/metrics`,
        dashboard: `http://127.0.0.1:${adminPort}/dashboard`,
      },
    );

    const home = await getPage(`http://127.0.0.1:${port}/`);
    assert.equal(home.status, 200);
    assert.match(home.body, /<form role="search" method="get" action="\/search">/);
    assert.match(home.body, /<h2 id="recommended-heading">Recommended for you<\/h2>/);
    assert.equal((await getPage(`http://127.0.0.1:${port}/metrics`)).status, 404);
    assert.equal((await getPage(`http://127.0.0.1:${port}/dashboard`)).status, 404);
    const metrics = await getPage(`http://127.0.0.1:${adminPort}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^http_server_request_duration_seconds_count\{[^}]*http_route="\/"[^}]*\} 1$/m);
    assert.match(metrics.body, /^grpc_client_handled_total\{[^}]*grpc_method="RecommendForShopper"[^}]*\} 1$/m);
    assert.match(metrics.body, /^grpc_client_handled_total\{[^}]*grpc_method="ListCategories"[^}]*\} 1$/m);
    assert.match(metrics.body, /^process_resident_memory_bytes \d+/m);
    const dashboard = await getPage(`http://127.0.0.1:${adminPort}/dashboard`);
    assert.equal(dashboard.status, 200);
    assert.match(dashboard.body, /<title>Online Books For You: live dashboard<\/title>/);

    service.kill("SIGTERM");
    assert.deepEqual(await service.exited, { code: 0, signal: null }, service.lines.join("\n"));
    assert.ok(logRecords(service.lines).some((r) => r.msg === "Shut down gracefully"));
  });

  it("refuses a bad setting with one line naming it, and no stack trace", async (t) => {
    const service = startMarketplace({ PORT: "0", METRICS_PORT: "0", RATE_LIMIT_WINDOW: "soon" });
    t.after(() => service.stop());
    assert.deepEqual(await service.exited, { code: 1, signal: null });
    const fatal = logRecords(service.lines).find((r) => r.level === 60);
    assert.match(String(fatal?.msg), /^Cannot start: RATE_LIMIT_WINDOW must be milliseconds or like "1 minute"/);
    assert.ok(!service.lines.join("\n").includes("    at "), "no stack trace");
  });
});
