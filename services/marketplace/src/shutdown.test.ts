import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recommendationsV1 } from "@obfy/protos";
import { createMarketplace } from "./app.js";
import { createCaptureLogger } from "./fixtures/capture-logger.js";
import { startTestRecommendationsServer, v1Books } from "./fixtures/recommendations-server.js";
import { createRecommendationsClient } from "./recommendations-client.js";
import { startMarketplace } from "./start-marketplace.js";

describe("closing the Marketplace", () => {
  it("finishes a request in flight and refuses new connections", async (t) => {
    let arrived: () => void = () => {};
    const requestArrived = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const server = await startTestRecommendationsServer((request) => {
      arrived();
      return { delayMs: 400, books: v1Books(request.category, "The Maltese Falcon") };
    });
    t.after(() => server.shutdown());
    const { logger } = createCaptureLogger();
    const recommendations = createRecommendationsClient({
      host: "127.0.0.1",
      port: server.port,
      timeoutMs: 5000,
      logger,
    });
    t.after(() => recommendations.close());
    const app = await createMarketplace({ recommendations, logger });
    const address = await app.listen({ host: "127.0.0.1", port: 0 });

    const inFlight = fetch(`${address}/`).then(async (r) => ({ status: r.status, body: await r.text() }));
    // Close once the request has reached Recommendations, i.e. while it is in flight.
    await requestArrived;
    const closeStarted = performance.now();
    await app.close();
    // Without `Connection: close` on in-flight answers, close waits out the 72 s keep-alive timeout.
    assert.ok(performance.now() - closeStarted < 5000, "close does not wait for keep-alive connections");
    const page = await inFlight;
    assert.equal(page.status, 200);
    assert.match(page.body, /<li>The Maltese Falcon<\/li>/);
    await assert.rejects(fetch(`${address}/`), /fetch failed/);
    assert.equal(server.requests[0]?.category, recommendationsV1.BookCategory.BOOK_CATEGORY_MYSTERY);
  });

  it("shutdown() cuts a request still open after SHUTDOWN_GRACE_SECONDS, and the rest still closes", async (t) => {
    let arrived: () => void = () => {};
    const requestArrived = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const server = await startTestRecommendationsServer(() => {
      arrived();
      return { delayMs: 20_000, books: [] };
    });
    t.after(() => server.shutdown());
    const { logger, lines } = createCaptureLogger();
    const marketplace = await startMarketplace({
      logger,
      env: {
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_PORT: "off",
        SHUTDOWN_GRACE_SECONDS: "1",
        RECOMMENDATIONS_HOST: "127.0.0.1",
        RECOMMENDATIONS_PORT: String(server.port),
        RECOMMENDATIONS_TIMEOUT_MS: "30000",
      },
    });
    const stuck = fetch(`${marketplace.url}/`).then(
      (response) => response.status,
      () => "cut",
    );
    await requestArrived;
    const started = performance.now();
    await marketplace.shutdown();
    const waited = performance.now() - started;
    assert.equal(await stuck, "cut");
    assert.ok(waited >= 900 && waited < 10_000, `shutdown took ${Math.round(waited)} ms with a 1 s grace period`);
    assert.ok(lines.some((line) => line.msg === "Shutdown grace period over: closing remaining connections"));
    await assert.rejects(fetch(`${marketplace.url}/`), /fetch failed/);
  });
});
