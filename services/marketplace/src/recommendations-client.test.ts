import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { ClientError } from "@obfy/kit";
import { recommendationsV1 } from "@obfy/protos";
import { createMarketplace } from "./app.js";
import { createCaptureLogger } from "./fixtures/capture-logger.js";
import { startTestRecommendationsServer, v1Books } from "./fixtures/recommendations-server.js";
import { createRecommendationsClient, recommendationsTarget } from "./recommendations-client.js";

const { BookCategory } = recommendationsV1;
const NOTICE = "Recommendations are unavailable right now. Please try again in a moment.";
const MYSTERY = v1Books(
  BookCategory.BOOK_CATEGORY_MYSTERY,
  "The Maltese Falcon",
  "Murder on the Orient Express",
  "The Hound of the Baskervilles",
);

function listItems(html: string): string[] {
  return [...html.matchAll(/<li>(.*?)<\/li>/g)].map((m) => m[1] ?? "");
}

function byCategory(request: recommendationsV1.RecommendRequest): recommendationsV1.Book[] {
  switch (request.category) {
    case BookCategory.BOOK_CATEGORY_MYSTERY:
      return MYSTERY.slice(0, request.maxResults);
    case BookCategory.BOOK_CATEGORY_SCIENCE_FICTION:
      return v1Books(request.category, "Ender's Game");
    default:
      return v1Books(request.category, "Man's Search for Meaning");
  }
}

/** Builds the Marketplace with the real gRPC client aimed at 127.0.0.1:port. */
async function buildMarketplace(port: number, timeoutMs = 800) {
  const { logger, lines } = createCaptureLogger();
  const recommendations = createRecommendationsClient({ host: "127.0.0.1", port, timeoutMs, logger });
  const app = await createMarketplace({ recommendations, logger });
  const close = async () => {
    await app.close();
    recommendations.close();
  };
  return { app, recommendations, lines, close };
}

/** A port nothing listens on: bind a server to a free port, then stop it. */
async function freePort(): Promise<number> {
  const probe = await startTestRecommendationsServer(() => []);
  await probe.shutdown();
  return probe.port;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - start };
}

describe("recommendationsTarget", () => {
  it("uses the dns resolver and brackets IPv6 literals", () => {
    assert.equal(recommendationsTarget("localhost", 50051), "dns:///localhost:50051");
    assert.equal(recommendationsTarget("::1", 50051), "dns:///[::1]:50051");
    assert.equal(recommendationsTarget("[::1]", 5), "dns:///[::1]:5");
  });
});

describe("Marketplace with a real Recommendations gRPC server", () => {
  it("shows the books the server recommends, asking for the right category and count", async (t) => {
    const server = await startTestRecommendationsServer(byCategory);
    t.after(() => server.shutdown());
    const marketplace = await buildMarketplace(server.port);
    t.after(() => marketplace.close());

    const home = await marketplace.app.inject("/");
    assert.equal(home.statusCode, 200);
    assert.deepEqual(listItems(home.body), [
      "The Maltese Falcon",
      "Murder on the Orient Express",
      "The Hound of the Baskervilles",
    ]);
    const selfHelp = await marketplace.app.inject("/?category=self-help");
    assert.deepEqual(listItems(selfHelp.body), ["Man&#39;s Search for Meaning"]);
    assert.deepEqual(
      server.requests.map((r) => [r.category, r.maxResults]),
      [
        [BookCategory.BOOK_CATEGORY_MYSTERY, 3],
        [BookCategory.BOOK_CATEGORY_SELF_HELP, 3],
      ],
    );
    const ready = await marketplace.app.inject("/readyz");
    assert.deepEqual(ready.json(), { status: "ready", recommendations: "READY" });
  });

  it("serves the page over a real HTTP port", async (t) => {
    const server = await startTestRecommendationsServer(byCategory);
    t.after(() => server.shutdown());
    const marketplace = await buildMarketplace(server.port);
    t.after(() => marketplace.close());
    const address = await marketplace.app.listen({ host: "127.0.0.1", port: 0 });
    const response = await fetch(`${address}/?category=science-fiction`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    const body = await response.text();
    assert.match(body, /<title>Online Books For You<\/title>/);
    assert.match(body, /<h1>Science fiction books you may like<\/h1>/);
    assert.deepEqual(listItems(body), ["Ender&#39;s Game"]);
  });

  it("escapes titles that come over gRPC", async (t) => {
    const evil = `<script>alert("x")</script> & "quotes"`;
    const server = await startTestRecommendationsServer((request) => v1Books(request.category, evil));
    t.after(() => server.shutdown());
    const marketplace = await buildMarketplace(server.port);
    t.after(() => marketplace.close());
    const response = await marketplace.app.inject("/");
    assert.deepEqual(listItems(response.body), [
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;",
    ]);
    assert.doesNotMatch(response.body, /<script/i);
  });

  it("degrades within about a second while nothing listens, then recovers when the server starts, without a rebuild", async (t) => {
    const port = await freePort();
    const marketplace = await buildMarketplace(port);
    t.after(() => marketplace.close());
    const address = await marketplace.app.listen({ host: "127.0.0.1", port: 0 });

    const down = await timed(() =>
      fetch(`${address}/`).then(async (r) => ({ status: r.status, body: await r.text() })),
    );
    assert.equal(down.result.status, 200);
    assert.ok(down.result.body.includes(NOTICE), down.result.body);
    assert.deepEqual(listItems(down.result.body), []);
    assert.ok(down.ms < 1500, `answered in ${Math.round(down.ms)} ms`);
    const warning = marketplace.lines.find(
      (line) => line.msg === "recommendations unavailable; serving the page without them",
    );
    assert.ok(warning, "the failure is logged");
    // Recommend is retried on UNAVAILABLE (it is idempotent), so the call ends either when the
    // retries run out (UNAVAILABLE) or when they use up the 800 ms deadline (DEADLINE_EXCEEDED).
    assert.ok(["UNAVAILABLE", "DEADLINE_EXCEEDED"].includes(String(warning.grpc_code)), String(warning.grpc_code));
    assert.equal(warning.category, "mystery");
    const notReady = await marketplace.app.inject("/readyz");
    assert.equal(notReady.statusCode, 200, "still ready: the page degrades gracefully");
    assert.notEqual(notReady.json().recommendations, "READY");

    const server = await startTestRecommendationsServer(byCategory, port);
    t.after(() => server.shutdown());
    // The channel reconnects in the background with a short backoff; poll until the books are back.
    let body = "";
    const deadline = Date.now() + 15_000;
    for (let attempt = 0; attempt < 150 && Date.now() < deadline; attempt++) {
      body = await (await fetch(`${address}/`)).text();
      if (listItems(body).length === 3) break;
      await delay(100);
    }
    assert.deepEqual(listItems(body), [
      "The Maltese Falcon",
      "Murder on the Orient Express",
      "The Hound of the Baskervilles",
    ]);
    assert.ok(!body.includes(NOTICE));
  });

  it("shows the notice within about a second when the server is slow", async (t) => {
    const server = await startTestRecommendationsServer((request) => ({ delayMs: 3000, books: byCategory(request) }));
    t.after(() => server.shutdown());
    const marketplace = await buildMarketplace(server.port);
    t.after(() => marketplace.close());
    const address = await marketplace.app.listen({ host: "127.0.0.1", port: 0 });
    const slow = await timed(() =>
      fetch(`${address}/`).then(async (r) => ({ status: r.status, body: await r.text() })),
    );
    assert.equal(slow.result.status, 200);
    assert.ok(slow.result.body.includes(NOTICE));
    assert.ok(slow.ms < 1200, `answered in ${Math.round(slow.ms)} ms`);
    assert.equal(server.requests.length, 1, "a deadline is not retried");
  });

  it("rejects with DEADLINE_EXCEEDED at the deadline and CANCELLED when the caller aborts", async (t) => {
    const server = await startTestRecommendationsServer(() => ({ delayMs: 3000, books: [] }));
    t.after(() => server.shutdown());
    const { logger } = createCaptureLogger();
    const client = createRecommendationsClient({ host: "127.0.0.1", port: server.port, timeoutMs: 300, logger });
    t.after(() => client.close());
    await assert.rejects(client.recommend("mystery", 3), (error: unknown) => {
      assert.ok(error instanceof ClientError);
      assert.equal(error.code, status.DEADLINE_EXCEEDED);
      return true;
    });
    const controller = new AbortController();
    const pending = client.recommend("mystery", 3, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const { ms } = await timed(() =>
      assert.rejects(pending, (error: unknown) => {
        assert.ok(error instanceof ClientError);
        assert.equal(error.code, status.CANCELLED);
        return true;
      }),
    );
    assert.ok(ms < 250, `cancelled after ${Math.round(ms)} ms`);
  });
});
