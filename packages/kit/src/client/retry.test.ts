import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { type handleUnaryCall, Metadata, Server, status } from "@grpc/grpc-js";
import { dummyV1, recommendationsV1 } from "@obfy/protos";
import { ClientError } from "./client-error.js";
import { createClient } from "./create-client.js";
import { dummyServer, listen, reserveFreePort, silentLogger } from "./fixtures/plain-servers.js";
import { idempotentMethodPaths } from "./internal/service-config.js";

type RecommendHandler = handleUnaryCall<recommendationsV1.RecommendRequest, recommendationsV1.RecommendResponse>;

/** A grpc-js server with only RecommendationsService, answering with `handler`. */
function recommendationsServer(handler: RecommendHandler): Server {
  const server = new Server();
  server.addService(recommendationsV1.RecommendationsServiceService, { recommend: handler });
  return server;
}

const request = recommendationsV1.RecommendRequest.fromPartial({
  userId: 1,
  category: recommendationsV1.BookCategory.BOOK_CATEGORY_MYSTERY,
});
const book = { id: 1, title: "The Maltese Falcon", category: recommendationsV1.BookCategory.BOOK_CATEGORY_MYSTERY };

const isUnavailable = (error: unknown) => error instanceof ClientError && error.code === status.UNAVAILABLE;

describe("retries", () => {
  it("reads retry safety from the protos' idempotency_level", () => {
    const paths = idempotentMethodPaths();
    assert.ok(paths.has("/bookstore.recommendations.v1.RecommendationsService/Recommend"));
    assert.ok(!paths.has("/kit.testing.v1.DummyService/Execute"));
  });

  it("retries an idempotent call on UNAVAILABLE until a server appears; the server sees one call", async (t) => {
    const port = await reserveFreePort();
    let calls = 0;
    const server = recommendationsServer((_call, callback) => {
      calls += 1;
      callback(null, { recommendations: [book] });
    });
    t.after(() => server.forceShutdown());
    // Defaults but one more attempt and a slower start: attempts at about 0, 0.2, 0.6, 1.4 and
    // 2.4 s (±20%) leave a wide margin over "server listening at 0.3 s, channel reconnected
    // within its 100-160 ms backoff", so the test cannot flake on timer jitter.
    const client = createClient(recommendationsV1.RecommendationsServiceService, `127.0.0.1:${port}`, {
      logger: silentLogger(),
      retry: { maxAttempts: 5, initialBackoffMs: 200 },
    });
    t.after(() => client.close());

    const startedAt = Date.now();
    const response = client.recommend(request, { timeoutMs: 10_000 });
    await delay(300);
    await listen(server, "127.0.0.1", port);
    assert.deepEqual(await response, { recommendations: [book] });
    assert.equal(calls, 1);
    assert.ok(Date.now() - startedAt < 5000);
  });

  it("does not retry a method that is not marked idempotent unless retryableMethods says so", async (t) => {
    let calls = 0;
    const server = await listen(
      dummyServer({
        execute: (_call, callback) => {
          calls += 1;
          callback({ code: status.UNAVAILABLE, details: "try elsewhere" });
        },
      }),
    );
    t.after(() => server.close());

    const byProto = createClient(dummyV1.DummyServiceService, server.address, { logger: silentLogger() });
    t.after(() => byProto.close());
    await assert.rejects(byProto.execute({ input: "x" }), isUnavailable);
    assert.equal(calls, 1);

    calls = 0;
    const overridden = createClient(dummyV1.DummyServiceService, server.address, {
      logger: silentLogger(),
      retryableMethods: ["execute"],
    });
    t.after(() => overridden.close());
    await assert.rejects(overridden.execute({ input: "x" }), isUnavailable);
    assert.equal(calls, 4, "default maxAttempts is 4");
  });

  it("never retries once response headers have arrived", async (t) => {
    let calls = 0;
    let sendHeadersFirst = true;
    const server = await listen(
      recommendationsServer((call, callback) => {
        calls += 1;
        if (sendHeadersFirst) call.sendMetadata(new Metadata());
        callback({ code: status.UNAVAILABLE, details: "gave up half-way" });
      }),
    );
    t.after(() => server.close());
    const client = createClient(recommendationsV1.RecommendationsServiceService, server.address, {
      logger: silentLogger(),
      retryThrottling: false,
      // grpc-js's rule alone; the kit's one re-issue on top is tested in reissue-interceptor.test.ts.
      reissue: false,
    });
    t.after(() => client.close());

    await assert.rejects(client.recommend(request), isUnavailable);
    assert.equal(calls, 1, "headers were sent: the server committed, so the call must not be retried");

    // Control: the same failure as a trailers-only response is retried.
    sendHeadersFirst = false;
    calls = 0;
    await assert.rejects(client.recommend(request), isUnavailable);
    assert.equal(calls, 4);
  });

  it("throttles retries against a target that keeps failing", async (t) => {
    let calls = 0;
    const server = await listen(
      recommendationsServer((_call, callback) => {
        calls += 1;
        callback({ code: status.UNAVAILABLE, details: "down" });
      }),
    );
    t.after(() => server.close());
    const client = createClient(recommendationsV1.RecommendationsServiceService, server.address, {
      logger: silentLogger(),
    });
    t.after(() => client.close());

    // 100 tokens, 1 per failed attempt, retries only while above 50: twelve calls get their 4
    // attempts (100 -> 52), the 13th gets 2 (52 -> 50), after that only first attempts go out.
    for (let i = 0; i < 15; i++) await assert.rejects(client.recommend(request), isUnavailable);
    assert.equal(calls, 12 * 4 + 2 + 1 + 1);
  });

  it("does not retry at all with retry: false", async (t) => {
    let calls = 0;
    const server = await listen(
      recommendationsServer((_call, callback) => {
        calls += 1;
        callback({ code: status.UNAVAILABLE, details: "down" });
      }),
    );
    t.after(() => server.close());
    const client = createClient(recommendationsV1.RecommendationsServiceService, server.address, {
      logger: silentLogger(),
      retry: false,
    });
    t.after(() => client.close());
    await assert.rejects(client.recommend(request), isUnavailable);
    assert.equal(calls, 1);
  });
});
