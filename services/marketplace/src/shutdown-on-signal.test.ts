import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { recommendationsV1 } from "@obfy/protos";
import { createMarketplace } from "./app.js";
import { createCaptureLogger } from "./fixtures/capture-logger.js";
import { startTestRecommendationsServer, v1Books } from "./fixtures/recommendations-server.js";
import { createRecommendationsClient } from "./recommendations-client.js";
import { shutdownOnSignal } from "./shutdown-on-signal.js";

describe("shutdownOnSignal", () => {
  it("closes once on the first signal, exits 0, and ignores a second signal", async () => {
    const { logger, lines } = createCaptureLogger();
    const target = new EventEmitter();
    let closes = 0;
    let release: () => void = () => {};
    const exits: number[] = [];
    const exited = new Promise<void>((resolve) => {
      shutdownOnSignal({
        logger,
        target,
        graceMs: 60_000,
        close: () => {
          closes++;
          return new Promise<void>((r) => {
            release = r;
          });
        },
        exit: (code) => {
          exits.push(code);
          resolve();
        },
      });
    });
    target.emit("SIGTERM", "SIGTERM");
    target.emit("SIGINT", "SIGINT");
    assert.equal(closes, 1);
    assert.ok(lines.some((l) => l.msg.startsWith("Already shutting down")));
    release();
    await exited;
    assert.deepEqual(exits, [0]);
  });

  it("exits 1 when closing fails, and force-closes after the grace period", async (t) => {
    const { logger, lines } = createCaptureLogger();
    const target = new EventEmitter();
    let forced = false;
    let fail: (error: Error) => void = () => {};
    const exited = new Promise<number>((resolve) => {
      shutdownOnSignal({
        logger,
        target,
        graceMs: 10,
        close: () =>
          new Promise<void>((_, reject) => {
            fail = reject;
          }),
        forceClose: () => {
          forced = true;
          fail(new Error("stuck request"));
        },
        exit: resolve,
      });
    });
    // The grace timer is unref'd (it must not keep a finished process alive); hold the loop open meanwhile.
    const keepAlive = setInterval(() => {}, 1000);
    t.after(() => clearInterval(keepAlive));
    target.emit("SIGINT", "SIGINT");
    assert.equal(await exited, 1);
    assert.ok(forced);
    assert.ok(lines.some((l) => l.msg === "Shutdown failed"));
  });
});

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
});
