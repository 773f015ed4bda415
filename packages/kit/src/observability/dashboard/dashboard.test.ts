import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { dummyClient, raises } from "@obfy/kit/testing";
import Fastify from "fastify";
import { chromium } from "playwright-core";
import { NotFound } from "../../errors.js";
import { createMetrics } from "../metrics.js";
import { startMetricsServer } from "../metrics-server.js";
import { createDashboard, type Dashboard, type DashboardSummary } from "./create-dashboard.js";

const repoRoot = fileURLToPath(new URL("../../../../../", import.meta.url));

describe("dashboard", () => {
  it("serves live numbers from real services to a real browser, under a strict CSP", async (t) => {
    // Cleanups run last-in first-out: traffic stops before the servers it calls close.
    const cleanups: (() => unknown)[] = [];
    const defer = (cleanup: () => unknown): void => {
      cleanups.push(cleanup);
    };
    t.after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });
    // A gRPC service with its metrics server…
    const grpcMetrics = createMetrics();
    const grpc = await dummyClient({
      outerInterceptors: [grpcMetrics.grpcServerInterceptor],
      specialCases: { missing: raises(new NotFound("No such book")) },
    });
    defer(() => grpc.close());
    const grpcAdmin = await startMetricsServer({ host: "127.0.0.1", port: 0, registry: grpcMetrics.registry });
    defer(() => grpcAdmin.close());

    // …and a web app whose admin port serves its metrics and the dashboard, as the Marketplace does.
    const webMetrics = createMetrics();
    const web = Fastify();
    defer(() => web.close());
    await web.register(webMetrics.httpPlugin);
    web.get("/books/:id", async () => ({ ok: true }));
    const webBase = await web.listen({ host: "127.0.0.1", port: 0 });
    // The admin server's port is known only once it listens, and the dashboard scrapes it too.
    let dashboard: Dashboard | undefined;
    const webAdmin = await startMetricsServer({
      host: "127.0.0.1",
      port: 0,
      registry: webMetrics.registry,
      handlers: [(request, response) => dashboard?.handler(request, response) ?? false],
    });
    defer(() => webAdmin.close());
    dashboard = createDashboard({
      targets: [
        { name: "recommendations", metricsUrl: `${grpcAdmin.url}/metrics`, kind: "grpc" },
        { name: "marketplace", metricsUrl: `${webAdmin.url}/metrics`, kind: "http" },
        // Nothing listens on port 1: this one must show as DOWN.
        { name: "offline", metricsUrl: "http://127.0.0.1:1/metrics", kind: "grpc" },
      ],
      intervalMs: 500,
    });
    defer(() => dashboard?.close());

    // Bounded traffic in the background: at most 20 000 calls or 30 s, whichever comes first.
    let stop = false;
    const traffic = (async () => {
      const until = Date.now() + 30_000;
      for (let i = 0; i < 20_000 && !stop && Date.now() < until; i++) {
        // Failures here show up as missing numbers on the page, which the test asserts on.
        await grpc.execute(i % 10 === 9 ? "missing" : `book-${i}`).catch(() => undefined);
        if (i % 4 === 0)
          await fetch(`${webBase}/books/${i}`).then(
            (r) => r.arrayBuffer(),
            () => undefined,
          );
      }
    })();
    defer(async () => {
      stop = true;
      await traffic;
    });

    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    defer(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));

    const response = await page.goto(`${webAdmin.url}/dashboard`);
    assert.equal(response?.status(), 200);
    assert.match(response?.headers()["content-security-policy"] ?? "", /script-src 'self'/);

    // Live numbers: the gRPC card shows non-zero requests/s, computed from scrapes of the real server.
    // (Strings, not functions: they run in the page, where the DOM types live.)
    await page.waitForFunction(
      `Number.parseFloat(document.querySelector('[data-target="recommendations"] .kpi-value.rps')?.textContent ?? "") > 0`,
      undefined,
      { timeout: 30_000 },
    );
    // Every tenth call is NOT_FOUND: wait until the scrapes have seen some (the first window may hold fewer than ten calls).
    await page.waitForFunction(
      `(document.querySelector('[data-target="recommendations"] table.methods tbody')?.textContent ?? "").includes("NOT_FOUND")`,
      undefined,
      { timeout: 15_000 },
    );
    const rowText = (await page.locator('[data-target="recommendations"] table.methods tbody').textContent()) ?? "";
    assert.match(rowText, /kit\.testing\.v1\.DummyService\/Execute/);
    assert.match(rowText, /NOT_FOUND/);
    // The unreachable target is shown as DOWN with the reason, not hidden.
    assert.equal(await page.locator('[data-target="offline"] .pill').textContent(), "DOWN");
    assert.match((await page.locator('[data-target="offline"] .error').textContent()) ?? "", /Last scrape failed/);
    assert.equal(await page.locator('[data-target="marketplace"] .pill').textContent(), "UP");
    assert.equal(await page.locator('[data-target="recommendations"] .pill').textContent(), "UP");
    // uPlot drew its canvases.
    assert.ok((await page.locator('[data-target="recommendations"] canvas').count()) >= 2);

    await mkdir(`${repoRoot}test-results`, { recursive: true });
    await page.screenshot({ path: `${repoRoot}test-results/dashboard.png`, fullPage: true });
    assert.deepEqual(problems, [], "no console errors (CSP violations included)");

    const summary = (await (await fetch(`${webAdmin.url}/dashboard/api/summary`)).json()) as DashboardSummary;
    const recommendations = summary.targets.find((target) => target.name === "recommendations");
    const execute = recommendations?.methods.find((m) => m.name === "kit.testing.v1.DummyService/Execute");
    assert.ok(execute && execute.rps > 0 && execute.errorRate > 0 && execute.errorRate < 0.5);
    assert.ok(execute.p99Ms !== null && execute.p99Ms > 0);
    assert.ok((recommendations?.process.residentBytes ?? 0) > 0);
    const marketplace = summary.targets.find((target) => target.name === "marketplace");
    assert.ok(marketplace?.methods.some((m) => m.kind === "http" && m.name === "GET /books/:id" && m.total > 0));
    assert.equal((await fetch(`${webAdmin.url}/dashboard/nope.js`)).status, 404);
    assert.equal((await fetch(`${webAdmin.url}/dashboard/api/summary`, { method: "POST" })).status, 405);
  });
});
