import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createMarketplace } from "./app.js";
import { createCaptureLogger } from "./fixtures/capture-logger.js";
import {
  recommendedBooks,
  recommendedTitles,
  startTestRecommendationsServer,
} from "./fixtures/recommendations-server.js";
import { startMarketplace } from "./start-marketplace.js";
import { createStore } from "./store.js";

/** Every store service but Recommendations at a port nothing listens on (port 1). */
const ELSEWHERE = Object.fromEntries(
  ["CATALOG", "INVENTORY", "ACCOUNTS", "REVIEWS", "CART", "ORDERS", "PAYMENTS", "NOTIFICATIONS", "WEBHOOKS"].map(
    (name) => [`${name}_ADDRESS`, "127.0.0.1:1"],
  ),
);

describe("closing the Marketplace", () => {
  it("finishes a request in flight and refuses new connections", async (t) => {
    let arrived: () => void = () => {};
    const requestArrived = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const server = await startTestRecommendationsServer(() => {
      arrived();
      return { delayMs: 400, books: recommendedBooks("The Maltese Falcon") };
    });
    t.after(() => server.shutdown());
    const { logger } = createCaptureLogger();
    const store = createStore({ env: { ...ELSEWHERE, RECOMMENDATIONS_ADDRESS: `127.0.0.1:${server.port}` } });
    t.after(() => store.close());
    const app = await createMarketplace({ store, logger, callTimeoutMs: 5000 });
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
    assert.deepEqual(recommendedTitles(page.body), ["The Maltese Falcon"]);
    await assert.rejects(fetch(`${address}/`), /fetch failed/);
    assert.equal(server.requests.length, 1);
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
        ...ELSEWHERE,
        RECOMMENDATIONS_ADDRESS: `127.0.0.1:${server.port}`,
        CALL_TIMEOUT_MS: "30000",
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
