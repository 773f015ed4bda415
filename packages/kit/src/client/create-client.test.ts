import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it, type TestContext } from "node:test";
import { connectivityState, Metadata, type ServerUnaryCall, status } from "@grpc/grpc-js";
import { dummyV1, recommendationsV1 } from "@obfy/protos";
import { GrpcError, isServiceError } from "../errors.js";
import { ClientError } from "./client-error.js";
import type { CallOptions } from "./client-options.js";
import { createClient } from "./create-client.js";
import { capturingLogger, dummyServer, listen, type PlainServer, silentLogger } from "./fixtures/plain-servers.js";
import { pooledChannelCount } from "./internal/channel-pool.js";

type DummyRequest = dummyV1.DummyRequest;
type DummyResponse = dummyV1.DummyResponse;

async function* from<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function started(t: TestContext, server: ReturnType<typeof dummyServer>): Promise<PlainServer> {
  const plain = await listen(server);
  t.after(() => plain.close());
  return plain;
}

describe("createClient", () => {
  it("types every method kind from the definition and calls all four over a real socket", async (t) => {
    const server = await started(t, dummyServer());
    const client = createClient(dummyV1.DummyServiceService, server.address, { logger: silentLogger() });
    t.after(() => client.close());

    // Compile-time checks: the methods have exactly the promised shapes.
    const unary: (request: DummyRequest, options?: CallOptions) => Promise<DummyResponse> = client.execute;
    const serverStream: (request: DummyRequest, options?: CallOptions) => AsyncIterable<DummyResponse> =
      client.executeServerStream;
    const clientStream: (requests: AsyncIterable<DummyRequest>, options?: CallOptions) => Promise<DummyResponse> =
      client.executeClientStream;
    const bidi: (requests: AsyncIterable<DummyRequest>, options?: CallOptions) => AsyncIterable<DummyResponse> =
      client.executeClientServerStream;

    assert.deepEqual(await unary({ input: "hello" }), { output: "hello" });
    assert.deepEqual(
      (await collect(serverStream({ input: "abc" }))).map((r) => r.output),
      ["a", "b", "c"],
    );
    assert.deepEqual(await clientStream(from([{ input: "x" }, { input: "y" }, { input: "z" }])), { output: "xyz" });
    assert.deepEqual(
      (await collect(bidi(from([{ input: "1" }, { input: "2" }])))).map((r) => r.output),
      ["1", "2"],
    );
  });

  it("rejects with a ClientError that keeps code, details, metadata and method but no server stack", async (t) => {
    const stack = "Error: database exploded\n    at query (/srv/app/db.js:10:5)\n    at handler (/srv/app/h.js:3:1)";
    const server = await started(
      t,
      dummyServer({
        execute: (_call, callback) => {
          const trailers = new Metadata();
          trailers.set("retry-hint", "never");
          callback({ code: status.FAILED_PRECONDITION, details: stack, metadata: trailers });
        },
      }),
    );
    const client = createClient(dummyV1.DummyServiceService, server.address, { logger: silentLogger() });
    t.after(() => client.close());

    const error = await client.execute({ input: "x" }).then(
      () => assert.fail("expected a failure"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ClientError);
    assert.equal(error.code, status.FAILED_PRECONDITION);
    assert.equal(error.codeName, "FAILED_PRECONDITION");
    assert.equal(error.details, stack);
    assert.deepEqual(error.metadata.get("retry-hint"), ["never"]);
    assert.equal(error.method, "/kit.testing.v1.DummyService/Execute");
    assert.equal(error.message, "/kit.testing.v1.DummyService/Execute FAILED_PRECONDITION: Error: database exploded");
    assert.doesNotMatch(error.message, /db\.js|\n/);
    // The kit's server side recognises it as a downstream failure and does not forward it.
    assert.ok(isServiceError(error));
    assert.equal(GrpcError.from(error).code, status.INTERNAL);
  });

  it("fails a call past its deadline with DEADLINE_EXCEEDED, promptly", async (t) => {
    const server = await started(
      t,
      dummyServer({
        // Never answers: only the deadline ends the call.
        execute: () => {},
      }),
    );
    const client = createClient(dummyV1.DummyServiceService, server.address, { logger: silentLogger() });
    t.after(() => client.close());

    const startedAt = Date.now();
    await assert.rejects(client.execute({ input: "slow" }, { timeoutMs: 100 }), (error: unknown) => {
      assert.ok(error instanceof ClientError);
      assert.equal(error.code, status.DEADLINE_EXCEEDED);
      return true;
    });
    const elapsed = Date.now() - startedAt;
    assert.ok(elapsed >= 90 && elapsed < 2000, `took ${elapsed} ms for a 100 ms deadline`);
  });

  it("puts a default deadline on every call and lets a call override it", async (t) => {
    const deadlines: number[] = [];
    const server = await started(
      t,
      dummyServer({
        execute: (call, callback) => {
          const deadline = call.getDeadline();
          deadlines.push(deadline instanceof Date ? deadline.getTime() : deadline);
          callback(null, { output: "" });
        },
      }),
    );
    const client = createClient(dummyV1.DummyServiceService, server.address, {
      logger: silentLogger(),
      defaultTimeoutMs: 3000,
    });
    t.after(() => client.close());

    const before = Date.now();
    await client.execute({ input: "" });
    await client.execute({ input: "" }, { timeoutMs: 60_000 });
    const absolute = Date.now() + 20_000;
    await client.execute({ input: "" }, { deadline: new Date(absolute) });
    const after = Date.now();
    const [first, second, third] = deadlines;
    assert.ok(first !== undefined && second !== undefined && third !== undefined);
    assert.ok(first >= before + 2900 && first <= after + 3100, `default deadline ${first - before} ms`);
    assert.ok(second >= before + 59_000 && second <= after + 60_100, `per-call deadline ${second - before} ms`);
    // grpc-js sends a relative timeout; allow for the clock skew that introduces.
    assert.ok(Math.abs(third - absolute) < 1000, `absolute deadline off by ${third - absolute} ms`);
  });

  it("cancels a call when its AbortSignal aborts, and the server sees the cancellation", async (t) => {
    let serverCall: ServerUnaryCall<DummyRequest, DummyResponse> | undefined;
    const arrived = deferred();
    const server = await started(
      t,
      dummyServer({
        execute: (call) => {
          serverCall = call;
          arrived.resolve();
        },
      }),
    );
    const client = createClient(dummyV1.DummyServiceService, server.address, { logger: silentLogger() });
    t.after(() => client.close());

    const controller = new AbortController();
    const result = client.execute({ input: "x" }, { signal: controller.signal, timeoutMs: 10_000 });
    await arrived.promise;
    assert.ok(serverCall);
    const serverCancelled = once(serverCall, "cancelled");
    controller.abort();
    await assert.rejects(result, (error: unknown) => error instanceof ClientError && error.code === status.CANCELLED);
    await serverCancelled;

    // An already-aborted signal never starts the call.
    await assert.rejects(
      client.execute({ input: "x" }, { signal: AbortSignal.abort() }),
      (error: unknown) => error instanceof ClientError && error.code === status.CANCELLED,
    );
  });

  it("stops a server stream when the consumer stops early", async (t) => {
    const cancelled = deferred();
    const server = await started(
      t,
      dummyServer({
        executeServerStream: (call) => {
          call.on("cancelled", () => cancelled.resolve());
          // Writes until cancelled (bounded, in case cancellation never comes).
          let sent = 0;
          const timer = setInterval(() => {
            if (call.cancelled || sent >= 500) {
              clearInterval(timer);
              if (!call.cancelled) call.end();
              return;
            }
            call.write({ output: String(sent++) });
          }, 5);
        },
      }),
    );
    const client = createClient(dummyV1.DummyServiceService, server.address, { logger: silentLogger() });
    t.after(() => client.close());

    const received: string[] = [];
    for await (const response of client.executeServerStream({ input: "" }, { timeoutMs: 10_000 })) {
      received.push(response.output);
      if (received.length === 3) break;
    }
    assert.deepEqual(received, ["0", "1", "2"]);
    await cancelled.promise;
  });

  it("surfaces an error thrown by a request stream instead of CANCELLED", async (t) => {
    const server = await started(t, dummyServer());
    const client = createClient(dummyV1.DummyServiceService, server.address, { logger: silentLogger() });
    t.after(() => client.close());

    async function* failing(): AsyncGenerator<DummyRequest> {
      yield { input: "a" };
      throw new Error("request source broke");
    }
    await assert.rejects(client.executeClientStream(failing()), /request source broke/);
    await assert.rejects(collect(client.executeClientServerStream(failing())), /request source broke/);
  });

  it("sends x-request-id: the caller's own, else a new UUID per call", async (t) => {
    const seen: string[] = [];
    const server = await started(
      t,
      dummyServer({
        execute: (call, callback) => {
          seen.push(String(call.metadata.get("x-request-id")[0]));
          callback(null, { output: "" });
        },
      }),
    );
    const client = createClient(dummyV1.DummyServiceService, server.address, { logger: silentLogger() });
    t.after(() => client.close());

    await client.execute({ input: "" }, { metadata: { "x-request-id": "req-from-caller" } });
    await client.execute({ input: "" });
    await client.execute({ input: "" });
    assert.equal(seen[0], "req-from-caller");
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    assert.match(seen[1] ?? "", uuid);
    assert.match(seen[2] ?? "", uuid);
    assert.notEqual(seen[1], seen[2]);
  });

  it("logs one line per call: debug for OK, warn for errors", async (t) => {
    const server = await started(
      t,
      dummyServer({
        execute: (call, callback) => {
          if (call.request.input === "fail") callback({ code: status.NOT_FOUND, details: "no such thing" });
          else callback(null, { output: "" });
        },
      }),
    );
    const { logger, lines } = capturingLogger();
    const client = createClient(dummyV1.DummyServiceService, server.address, { logger });
    t.after(() => client.close());

    await client.execute({ input: "ok" }, { metadata: { "x-request-id": "r-1" } });
    await assert.rejects(client.execute({ input: "fail" }, { metadata: { "x-request-id": "r-2" } }));
    assert.equal(lines.length, 2);
    const [ok, failed] = lines;
    assert.equal(ok?.level, 20);
    assert.equal(ok?.method, "/kit.testing.v1.DummyService/Execute");
    assert.equal(ok?.code, "OK");
    assert.equal(ok?.target, server.address);
    assert.equal(ok?.request_id, "r-1");
    assert.equal(typeof ok?.duration_ms, "number");
    assert.equal(failed?.level, 40);
    assert.equal(failed?.code, "NOT_FOUND");
    assert.equal(failed?.request_id, "r-2");
  });

  it("shares one channel per target between services and closes it with the last client", async (t) => {
    const server = await started(t, dummyServer());
    const before = pooledChannelCount();
    const a = createClient(dummyV1.DummyServiceService, server.address, { logger: silentLogger() });
    const b = createClient(dummyV1.DummyServiceService, server.address, { logger: silentLogger() });
    const c = createClient(recommendationsV1.RecommendationsServiceService, server.address, { logger: silentLogger() });
    t.after(() => {
      a.close();
      b.close();
      c.close();
    });
    assert.equal(pooledChannelCount(), before + 1);
    assert.deepEqual(await a.execute({ input: "a" }), { output: "a" });
    assert.deepEqual(await b.execute({ input: "b" }), { output: "b" });

    // Different options mean a different channel.
    const d = createClient(dummyV1.DummyServiceService, server.address, { logger: silentLogger(), retry: false });
    assert.equal(pooledChannelCount(), before + 2);
    d.close();
    assert.equal(pooledChannelCount(), before + 1);

    a.close();
    a.close(); // idempotent: must not release b's reference
    assert.deepEqual(await b.execute({ input: "still" }), { output: "still" });
    await assert.rejects(a.execute({ input: "x" }), /closed client/);
    b.close();
    c.close();
    assert.equal(pooledChannelCount(), before);
  });

  it("waitForReady resolves once connected and channelState reports it", async (t) => {
    const server = await started(t, dummyServer());
    const client = createClient(dummyV1.DummyServiceService, server.address, { logger: silentLogger() });
    t.after(() => client.close());
    await client.waitForReady(Date.now() + 5000);
    assert.equal(client.channelState(), connectivityState.READY);
  });
});
