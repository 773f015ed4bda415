// The re-issue of unary calls whose server died after sending response headers, over real
// sockets: a raw node:http2 "server" answers the Dummy service's Execute by the attempt number
// of each request id and, when told to, sends the response headers and message and then drops
// the connection before its trailers, as a replica SIGKILLed between those writes does.
import assert from "node:assert/strict";
import http2 from "node:http2";
import type { Socket } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { Metadata, Server, type ServerUnaryCall, type sendUnaryData, status } from "@grpc/grpc-js";
import { dummyV1, recommendationsV1 } from "@obfy/protos";
import { Registry } from "prom-client";
import { REQUEST_ID_HEADER } from "../context.js";
import { createGrpcClientMetricsInterceptor } from "../observability/grpc-client-metrics.js";
import { ClientError } from "./client-error.js";
import type { ClientOptions } from "./client-options.js";
import { createClient } from "./create-client.js";
import { capturingLogger, dummyServer, listen, silentLogger } from "./fixtures/plain-servers.js";

/**
 * What the server does with one attempt: answer it; send headers and message and then close the
 * connection with a FIN (the client reads both before the close, so the call is always
 * committed) or with a TCP reset (as a SIGKILL with unread data does; the client may or may not
 * have read the headers first); or hold it unanswered.
 */
type Behaviour = "answer" | "close" | "reset" | "hold";

interface Attempt {
  readonly headers: http2.IncomingHttpHeaders;
  readonly stream: http2.ServerHttp2Stream;
}

interface DroppingServer {
  readonly port: number;
  /** Attempts seen, by `x-request-id`. */
  readonly attempts: Map<string, Attempt[]>;
}

function grpcFrame(output: string): Buffer {
  const message = dummyV1.DummyResponse.encode({ output }).finish();
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  return frame;
}

/** Starts the server; `behaviour(n)` decides what happens to the n-th attempt (1-based) of a request id. */
async function startDroppingServer(t: TestContext, behaviour: (attempt: number) => Behaviour): Promise<DroppingServer> {
  const server = http2.createServer();
  const sockets = new Set<Socket>();
  const attempts = new Map<string, Attempt[]>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    const requestId = String(headers[REQUEST_ID_HEADER]);
    const seen = attempts.get(requestId) ?? [];
    seen.push({ headers, stream });
    attempts.set(requestId, seen);
    const attempt = seen.length;
    const what = behaviour(attempt);
    stream.on("error", () => {});
    stream.resume();
    stream.on("end", () => {
      if (what === "hold" || stream.destroyed) return;
      const frame = grpcFrame(`attempt ${attempt}`);
      if (what === "answer") {
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(frame);
        return;
      }
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      // Once headers and message are on the wire, drop every connection (one at a time here).
      stream.write(frame, () =>
        setTimeout(() => {
          for (const socket of sockets) {
            if (what === "reset") socket.resetAndDestroy();
            else socket.end(() => socket.destroy());
          }
        }, 5),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return { port: address.port, attempts };
}

/** A Dummy client; Execute is not idempotent in the proto, so tests opt it in with `retryableMethods`. */
function dummyClient(t: TestContext, target: string, options: ClientOptions<typeof dummyV1.DummyServiceService>) {
  const client = createClient(dummyV1.DummyServiceService, target, { logger: silentLogger(), ...options });
  t.after(() => client.close());
  return client;
}

/** Settles `count` sequential Execute calls (bounded in count and, by their deadline, in time). */
async function callSequentially(
  call: (i: number) => Promise<dummyV1.DummyResponse>,
  count: number,
): Promise<PromiseSettledResult<dummyV1.DummyResponse>[]> {
  const results: PromiseSettledResult<dummyV1.DummyResponse>[] = [];
  for (let i = 0; i < count; i++) {
    try {
      results.push({ status: "fulfilled", value: await call(i) });
    } catch (reason) {
      results.push({ status: "rejected", reason });
    }
  }
  return results;
}

const isUnavailable = (result: PromiseSettledResult<unknown>) =>
  result.status === "rejected" && result.reason instanceof ClientError && result.reason.code === status.UNAVAILABLE;

function grpcTimeoutMs(value: string | string[] | undefined): number {
  const match = /^(\d+)([HMSmun])$/.exec(String(value));
  assert.ok(match, `grpc-timeout header ${String(value)}`);
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[match[2] as "H"];
  return Number(match[1]) * unitMs;
}

describe("re-issue after response headers", () => {
  it("re-issues a call dropped after its headers once, with the same headers and deadline; callers and metrics see one call", async (t) => {
    const server = await startDroppingServer(t, (attempt) => (attempt === 1 ? "close" : "answer"));
    const registry = new Registry();
    const { logger, lines } = capturingLogger();
    const client = dummyClient(t, `127.0.0.1:${server.port}`, {
      retryableMethods: ["execute"],
      logger,
      interceptors: [createGrpcClientMetricsInterceptor(registry)],
    });
    const results = await callSequentially(
      (i) =>
        client.execute(
          { input: "x" },
          { timeoutMs: 5000, metadata: { traceparent: `00-${"a".repeat(31)}${i}-${"b".repeat(16)}-01` } },
        ),
      10,
    );

    // Each caller got the second attempt's answer: nothing of the dropped first one leaked.
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? r.value.output : String(r.reason))),
      Array(10).fill("attempt 2"),
    );
    assert.equal(server.attempts.size, 10);
    for (const [requestId, attempts] of server.attempts) {
      assert.equal(attempts.length, 2, `request ${requestId}: one re-issue`);
      const [first, second] = attempts as [Attempt, Attempt];
      assert.equal(second.headers[REQUEST_ID_HEADER], requestId);
      assert.equal(second.headers.traceparent, first.headers.traceparent);
      // The same absolute deadline: the re-issue is sent with what is left of it, never more.
      assert.ok(grpcTimeoutMs(second.headers["grpc-timeout"]) <= grpcTimeoutMs(first.headers["grpc-timeout"]));
    }
    const metrics = await registry.metrics();
    assert.match(metrics, /grpc_client_started_total\{[^}]*grpc_method="Execute"\} 10\n/);
    assert.match(metrics, /grpc_client_handled_total\{[^}]*grpc_method="Execute",grpc_code="OK"\} 10\n/);
    assert.match(metrics, /grpc_client_msg_sent_total\{[^}]*grpc_method="Execute"\} 10\n/);
    assert.doesNotMatch(metrics, /grpc_code="UNAVAILABLE"/);
    const reissued = lines.filter((line) => String(line.msg).startsWith("grpc client call re-issued"));
    assert.equal(reissued.length, 10);
    assert.equal(reissued[0]?.method, "/kit.testing.v1.DummyService/Execute");
    assert.ok(server.attempts.has(String(reissued[0]?.request_id)));
  });

  it("without it (reissue: false) the same calls fail UNAVAILABLE after one attempt", async (t) => {
    const server = await startDroppingServer(t, (attempt) => (attempt === 1 ? "close" : "answer"));
    const client = dummyClient(t, `127.0.0.1:${server.port}`, { retryableMethods: ["execute"], reissue: false });
    const results = await callSequentially(() => client.execute({ input: "x" }, { timeoutMs: 5000 }), 10);
    assert.equal(results.filter(isUnavailable).length, 10);
    assert.deepEqual(
      [...server.attempts.values()].map((attempts) => attempts.length),
      Array(10).fill(1),
    );
  });

  it("re-issues at most once per call, and no more calls than the budget allows", async (t) => {
    const server = await startDroppingServer(t, () => "close");
    const client = dummyClient(t, `127.0.0.1:${server.port}`, {
      retryableMethods: ["execute"],
      reissue: { maxTokens: 3 },
    });
    const results = await callSequentially(() => client.execute({ input: "x" }, { timeoutMs: 5000 }), 6);
    assert.equal(results.filter(isUnavailable).length, 6);
    // Calls that never succeed earn nothing back: three re-issues, then none.
    assert.deepEqual(
      [...server.attempts.values()].map((attempts) => attempts.length),
      [2, 2, 2, 1, 1, 1],
    );
    const target = `127.0.0.1:${server.port}`;
    const options = { logger: silentLogger(), retryableMethods: ["execute"] as const };
    assert.throws(
      () => createClient(dummyV1.DummyServiceService, target, { ...options, reissue: { maxTokens: 0 } }),
      /reissue\.maxTokens must be a number >= 1, got 0/,
    );
    assert.throws(
      () => createClient(dummyV1.DummyServiceService, target, { ...options, reissue: { tokenRatio: -1 } }),
      /reissue\.tokenRatio must be a number > 0, got -1/,
    );
  });

  it("re-issues a NO_SIDE_EFFECTS method by its proto, also after a server's own UNAVAILABLE that followed headers", async (t) => {
    let calls = 0;
    const server = new Server();
    server.addService(recommendationsV1.RecommendationsServiceService, {
      recommend: (
        call: ServerUnaryCall<unknown, unknown>,
        callback: sendUnaryData<recommendationsV1.RecommendResponse>,
      ) => {
        calls += 1;
        if (calls > 1) return callback(null, { recommendations: [] });
        call.sendMetadata(new Metadata());
        callback({ code: status.UNAVAILABLE, details: "gave up half-way" });
      },
    });
    const plain = await listen(server);
    t.after(() => plain.close());
    const client = createClient(recommendationsV1.RecommendationsServiceService, plain.address, {
      logger: silentLogger(),
    });
    t.after(() => client.close());
    assert.deepEqual(await client.recommend({ userId: 1, category: 0, maxResults: 1 }), { recommendations: [] });
    assert.equal(calls, 2);
  });

  it("does not re-issue methods the proto does not declare safe to repeat", async (t) => {
    const server = await startDroppingServer(t, (attempt) => (attempt === 1 ? "close" : "answer"));
    const client = dummyClient(t, `127.0.0.1:${server.port}`, {});
    const results = await callSequentially(() => client.execute({ input: "x" }, { timeoutMs: 5000 }), 3);
    assert.equal(results.filter(isUnavailable).length, 3);
    assert.deepEqual(
      [...server.attempts.values()].map((attempts) => attempts.length),
      [1, 1, 1],
    );
  });

  it("a caller's cancel reaches the re-issued attempt, and nothing is re-issued after it", async (t) => {
    let secondArrived: () => void = () => {};
    const second = new Promise<void>((resolve) => {
      secondArrived = resolve;
    });
    const server = await startDroppingServer(t, (attempt) => {
      if (attempt === 2) setImmediate(secondArrived);
      return attempt === 1 ? "close" : "hold";
    });
    const client = dummyClient(t, `127.0.0.1:${server.port}`, { retryableMethods: ["execute"] });
    const controller = new AbortController();
    const call = client.execute({ input: "x" }, { timeoutMs: 5000, signal: controller.signal });
    await second;
    const [attempts] = [...server.attempts.values()] as [Attempt[]];
    const held = attempts[1] as Attempt;
    const heldClosed = new Promise<void>((resolve) => held.stream.once("close", resolve));
    controller.abort();
    await assert.rejects(call, (error: unknown) => error instanceof ClientError && error.code === status.CANCELLED);
    await heldClosed;
    assert.equal(held.stream.rstCode, http2.constants.NGHTTP2_CANCEL);
    assert.equal(attempts.length, 2);
  });

  it("round robin with a server reset after headers beside a healthy one: failures without it, none with it", async (t) => {
    const dying = await startDroppingServer(t, () => "reset");
    const healthy = await listen(dummyServer());
    t.after(() => healthy.close());
    const target = `ipv4:127.0.0.1:${dying.port},${healthy.address}`;
    const run = async (options: ClientOptions<typeof dummyV1.DummyServiceService>) => {
      const client = dummyClient(t, target, { retryableMethods: ["execute"], ...options });
      const results = await callSequentially(() => client.execute({ input: "x" }, { timeoutMs: 5000 }), 20);
      return results.filter((r) => r.status === "rejected");
    };

    const attemptsBefore = [...dying.attempts.values()].length;
    const without = await run({ reissue: false });
    assert.ok(without.length > 0, "some calls were lost to the reset");
    assert.ok(without.every(isUnavailable), String(without.map((r) => (r.status === "rejected" ? r.reason : r))));
    assert.ok(dying.attempts.size > attemptsBefore);

    const attemptsWithout = dying.attempts.size;
    const withReissue = await run({});
    assert.deepEqual(withReissue, []);
    assert.ok(dying.attempts.size > attemptsWithout, "the dying server was picked with re-issue on too");
  });
});
