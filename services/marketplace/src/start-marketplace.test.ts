// The Marketplace as main.ts starts it (startMarketplace): real ports, a real Recommendations gRPC
// server, and the admin server with metrics and the dashboard.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import {
  createMetrics,
  createServerSecurity,
  type DashboardSummary,
  parsePrometheusText,
  startMetricsServer,
  sumSamples,
  traceLogMixin,
} from "@obfy/kit";
import { createDevCertificates } from "@obfy/kit/dev";
import { UNAVAILABLE_NOTICE } from "./calls.js";
import { createCaptureLogger } from "./fixtures/capture-logger.js";
import {
  recommendedBooks,
  recommendedTitles,
  startTestRecommendationsServer,
} from "./fixtures/recommendations-server.js";
import { type RunningMarketplace, startMarketplace } from "./start-marketplace.js";

const TITLES = ["The Maltese Falcon", "Murder on the Orient Express", "The Hound of the Baskervilles"];
const RECOMMEND = {
  grpc_service: "bookstore.recommendations.v1.RecommendationsService",
  grpc_method: "RecommendForShopper",
};
const listItems = recommendedTitles;

const books = () => recommendedBooks(...TITLES);

/**
 * Starts the Marketplace on loopback, port 0 for both servers, with `env` on top; stops it after
 * the test. The other store services point at a port nothing listens on: their sections degrade.
 */
async function start(t: TestContext, env: Record<string, string>) {
  const { logger, lines } = createCaptureLogger({ mixin: traceLogMixin });
  const nobody = `127.0.0.1:${await unusedPort()}`;
  const elsewhere = Object.fromEntries(
    ["CATALOG", "INVENTORY", "ACCOUNTS", "REVIEWS", "CART", "ORDERS", "PAYMENTS", "NOTIFICATIONS", "WEBHOOKS"].map(
      (name) => [`${name}_ADDRESS`, nobody],
    ),
  );
  const marketplace = await startMarketplace({
    logger,
    env: { HOST: "127.0.0.1", PORT: "0", METRICS_HOST: "127.0.0.1", METRICS_PORT: "0", ...elsewhere, ...env },
  });
  t.after(() => marketplace.close());
  return { marketplace, lines };
}

async function scrape(marketplace: RunningMarketplace) {
  const response = await fetch(`${marketplace.adminUrl}/metrics`);
  assert.equal(response.status, 200);
  return parsePrometheusText(await response.text());
}

async function homepageRequests(marketplace: RunningMarketplace) {
  const metrics = await scrape(marketplace);
  return {
    http: sumSamples(metrics, "http_server_request_duration_seconds_count", {
      http_request_method: "GET",
      http_route: "/",
      http_response_status_code: "200",
    }),
    grpc: sumSamples(metrics, "grpc_client_handled_total", { ...RECOMMEND, grpc_code: "OK", grpc_type: "unary" }),
  };
}

/** A loopback port nothing listens on. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  assert.ok(typeof address === "object" && address !== null);
  return address.port;
}

describe("startMarketplace", () => {
  it("counts homepage requests and RecommendForShopper calls on the admin port, which also serves the dashboard", async (t) => {
    // Recommendations with its own server metrics, scraped by the dashboard like the real one.
    const recommendationsMetrics = createMetrics({ defaultMetrics: false });
    const server = await startTestRecommendationsServer(books, 0, {
      outerInterceptors: [recommendationsMetrics.grpcServerInterceptor],
    });
    t.after(() => server.shutdown());
    const recommendationsAdmin = await startMetricsServer({
      host: "127.0.0.1",
      port: 0,
      registry: recommendationsMetrics.registry,
    });
    t.after(() => recommendationsAdmin.close());
    const { marketplace } = await start(t, {
      RECOMMENDATIONS_HOST: "127.0.0.1",
      RECOMMENDATIONS_PORT: String(server.port),
      RECOMMENDATIONS_METRICS_URL: `${recommendationsAdmin.url}/metrics`,
    });
    assert.ok(marketplace.adminUrl !== undefined && marketplace.adminUrl !== marketplace.url);

    const before = await homepageRequests(marketplace);
    for (let i = 0; i < 3; i++) {
      const page = await fetch(`${marketplace.url}/`);
      assert.equal(page.status, 200);
      assert.deepEqual(listItems(await page.text()), TITLES);
    }
    const after = await homepageRequests(marketplace);
    assert.deepEqual(after, { http: before.http + 3, grpc: before.grpc + 3 });
    await fetch(`${marketplace.url}/?from=newsletter`).then((r) => r.text());
    assert.equal((await homepageRequests(marketplace)).http, after.http + 1, "the route label is /, not the URL");

    // Neither metrics nor the dashboard are on the public port.
    for (const path of ["/metrics", "/dashboard", "/dashboard/api/summary"]) {
      assert.equal((await fetch(`${marketplace.url}${path}`)).status, 404, path);
    }
    const page = await fetch(`${marketplace.adminUrl}/dashboard`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(await page.text(), /live dashboard/);

    // Two scrapes so rates exist; then both services are up and the homepage route is charted.
    await marketplace.dashboard?.scrapeNow();
    await fetch(`${marketplace.url}/`).then((r) => r.text());
    await marketplace.dashboard?.scrapeNow();
    const summary = (await (await fetch(`${marketplace.adminUrl}/dashboard/api/summary`)).json()) as DashboardSummary;
    const byName = new Map(summary.targets.map((target) => [target.name, target]));
    assert.equal(byName.get("marketplace")?.up, true, JSON.stringify(byName.get("marketplace")?.error));
    assert.equal(byName.get("recommendations")?.up, true, JSON.stringify(byName.get("recommendations")?.error));
    assert.ok(
      byName.get("marketplace")?.methods.some((m) => m.kind === "http" && m.name.includes("/") && m.total >= 5),
      JSON.stringify(byName.get("marketplace")?.methods),
    );
    assert.ok(
      byName.get("recommendations")?.methods.some((m) => m.name.includes("Recommend") && m.total >= 5),
      JSON.stringify(byName.get("recommendations")?.methods),
    );
  });

  it("continues an incoming trace into the RecommendForShopper call and the logs", async (t) => {
    const server = await startTestRecommendationsServer(books);
    t.after(() => server.shutdown());
    const { marketplace, lines } = await start(t, {
      RECOMMENDATIONS_HOST: "127.0.0.1",
      RECOMMENDATIONS_PORT: String(server.port),
      LOG_REQUESTS: "true",
    });

    const traceId = randomBytes(16).toString("hex");
    const parentSpanId = randomBytes(8).toString("hex");
    const page = await fetch(`${marketplace.url}/`, { headers: { traceparent: `00-${traceId}-${parentSpanId}-01` } });
    assert.equal(page.status, 200);
    await page.text();
    const sent = server.traceparents.at(-1);
    const match = new RegExp(`^00-${traceId}-([0-9a-f]{16})-01$`).exec(sent ?? "");
    assert.ok(match, `RecommendForShopper carried the caller's trace: ${sent}`);
    assert.notEqual(match[1], parentSpanId, "as a child of the Marketplace's own spans");

    const traced = lines.filter((line) => line.trace_id === traceId);
    // The calls' lines and the access-log line (LOG_REQUESTS) can be found by the trace id.
    const messages = traced.map((line) => line.msg);
    assert.ok(messages.includes("grpc client call"), JSON.stringify(lines));
    assert.equal(messages.at(-1), "request completed", JSON.stringify(lines));
    assert.ok(traced.every((line) => typeof line.span_id === "string" && line.trace_flags === "01"));
    assert.ok(!lines.some((line) => line.trace_id !== undefined && line.trace_id !== traceId));

    // Without a traceparent a new trace starts (not sampled: nothing is exported) and still goes downstream.
    await fetch(`${marketplace.url}/`).then((r) => r.text());
    const fresh = server.traceparents.at(-1) ?? "";
    assert.match(fresh, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    assert.ok(!fresh.includes(traceId));
  });

  it("talks to Recommendations over mutual TLS when TLS_MODE=mtls, and fails closed without it", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "marketplace-mtls-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const certs = await createDevCertificates({ dir });
    const serverSecurity = createServerSecurity({
      TLS_MODE: "mtls",
      TLS_CERT_FILE: certs.server.certFile,
      TLS_KEY_FILE: certs.server.keyFile,
      TLS_CA_FILE: certs.ca.certFile,
    });
    const server = await startTestRecommendationsServer(books, 0, {
      credentials: serverSecurity.credentials,
      interceptors: serverSecurity.interceptors,
    });
    t.after(() => server.shutdown());
    const target = { RECOMMENDATIONS_HOST: "localhost", RECOMMENDATIONS_PORT: String(server.port) };

    const { marketplace, lines } = await start(t, {
      ...target,
      TLS_MODE: "mtls",
      TLS_CERT_FILE: certs.client.certFile,
      TLS_KEY_FILE: certs.client.keyFile,
      TLS_CA_FILE: certs.ca.certFile,
    });
    assert.equal(lines.find((line) => line.msg === "Marketplace ready")?.tls, "mtls");
    const page = await (await fetch(`${marketplace.url}/`)).text();
    assert.deepEqual(listItems(page), TITLES);

    // The default (TLS_MODE unset: plaintext) cannot reach a TLS server: the page degrades.
    const plain = await start(t, target);
    const degraded = await (await fetch(`${plain.marketplace.url}/`)).text();
    assert.ok(degraded.includes(UNAVAILABLE_NOTICE));
    assert.deepEqual(listItems(degraded), []);
  });

  it("rejects bad settings with a message naming the variable, and stops what it had started", async (t) => {
    const { logger } = createCaptureLogger();
    const attempt = (env: Record<string, string>) =>
      startMarketplace({ logger, env: { HOST: "127.0.0.1", PORT: "0", METRICS_PORT: "0", ...env } });
    await assert.rejects(attempt({ METRICS_PORT: "lots" }), /METRICS_PORT must be an integer between 0 and 65535/);
    await assert.rejects(attempt({ RATE_LIMIT_MAX: "0" }), /RATE_LIMIT_MAX must be a positive integer, got "0"/);
    await assert.rejects(
      attempt({ RECOMMENDATIONS_METRICS_URL: "recommendations:9464" }),
      /RECOMMENDATIONS_METRICS_URL must be an http\(s\) URL, got "recommendations:9464"/,
    );
    await assert.rejects(attempt({ TLS_MODE: "mtls" }), /TLS_MODE=mtls requires/);

    // The public port is taken: the admin server, already listening, is closed again.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise((resolve) => taken.close(resolve)));
    const address = taken.address();
    assert.ok(typeof address === "object" && address !== null);
    const adminPort = await unusedPort();
    await assert.rejects(
      attempt({ PORT: String(address.port), METRICS_HOST: "127.0.0.1", METRICS_PORT: String(adminPort) }),
      /EADDRINUSE/,
    );
    await assert.rejects(fetch(`http://127.0.0.1:${adminPort}/metrics`), "the admin server was stopped");

    // METRICS_PORT=off: no admin server at all.
    const { marketplace } = await start(t, { METRICS_PORT: "off" });
    assert.equal(marketplace.adminUrl, undefined);
    assert.equal(marketplace.dashboard, undefined);
    assert.equal((await fetch(`${marketplace.url}/healthz`)).status, 200);
  });
});
