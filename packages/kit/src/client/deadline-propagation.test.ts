import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it, type TestContext } from "node:test";
import { type Deadline, type ServerUnaryCall, status } from "@grpc/grpc-js";
import { dummyV1 } from "@obfy/protos";
import { readServerConfig } from "../config.js";
import type { CallContext } from "../context.js";
import { createServer } from "../server/create-server.js";
import { defineService } from "../server/service.js";
import { ClientError } from "./client-error.js";
import { createClient } from "./create-client.js";
import { dummyServer, listen, type PlainServer, silentLogger } from "./fixtures/plain-servers.js";

type DummyRequest = dummyV1.DummyRequest;
type DummyResponse = dummyV1.DummyResponse;

function epochMs(deadline: Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/** What server B saw of one call. */
interface Seen {
  deadline: number;
  requestId: string;
  call: ServerUnaryCall<DummyRequest, DummyResponse> | undefined;
}

/**
 * Server B: a plain grpc-js Dummy server recording each Execute / ExecuteServerStream call. Input
 * "hang" never answers (the call ends when cancelled or past its deadline).
 */
async function startB(t: TestContext): Promise<{ server: PlainServer; seen: Seen[]; arrived: Promise<void> }> {
  const seen: Seen[] = [];
  let signalArrived = () => {};
  const arrived = new Promise<void>((resolve) => {
    signalArrived = resolve;
  });
  const server = await listen(
    dummyServer({
      execute: (call, callback) => {
        seen.push({
          deadline: epochMs(call.getDeadline()),
          requestId: String(call.metadata.get("x-request-id")[0]),
          call,
        });
        signalArrived();
        if (call.request.input !== "hang") callback(null, { output: `B:${call.request.input}` });
      },
      executeServerStream: (call) => {
        seen.push({
          deadline: epochMs(call.getDeadline()),
          requestId: String(call.metadata.get("x-request-id")[0]),
          call: undefined,
        });
        call.write({ output: "B-stream" });
        call.end();
      },
    }),
  );
  t.after(() => server.close());
  return { server, seen, arrived };
}

/**
 * Server A: a kit server (H1's createServer) whose Execute handler calls B through createClient
 * and records its own context. Input "stream" makes it call B's server-streaming method instead.
 */
async function startA(t: TestContext, bAddress: string): Promise<{ address: string; contexts: CallContext[] }> {
  const toB = createClient(dummyV1.DummyServiceService, bAddress, { logger: silentLogger(), defaultTimeoutMs: 30_000 });
  t.after(() => toB.close());
  const contexts: CallContext[] = [];
  const service = defineService(dummyV1.DummyServiceService, {
    async execute(request, context) {
      contexts.push(context);
      if (request.input === "stream") {
        const outputs: string[] = [];
        for await (const response of toB.executeServerStream({ input: "" })) outputs.push(response.output);
        return { output: outputs.join(",") };
      }
      return await toB.execute({ input: request.input });
    },
    async *executeServerStream() {},
    async executeClientStream() {
      return { output: "" };
    },
    async *executeClientServerStream() {},
  });
  const server = createServer({
    services: [service],
    logger: silentLogger(),
    config: readServerConfig({}, { host: "127.0.0.1", port: 0, shutdownGraceSeconds: 1, reflection: false }),
  });
  const { port } = await server.listen("127.0.0.1", 0);
  t.after(() => server.shutdown());
  return { address: `127.0.0.1:${port}`, contexts };
}

describe("deadline, cancellation and request-id propagation", () => {
  it("gives a downstream call the parent's deadline when it is the tighter one, and the parent's request id", async (t) => {
    const b = await startB(t);
    const a = await startA(t, b.server.address);
    const client = createClient(dummyV1.DummyServiceService, a.address, { logger: silentLogger() });
    t.after(() => client.close());

    const response = await client.execute(
      { input: "hi" },
      { timeoutMs: 1500, metadata: { "x-request-id": "outer-request-1" } },
    );
    assert.deepEqual(response, { output: "B:hi" });
    const [context] = a.contexts;
    const [seen] = b.seen;
    assert.ok(context && seen);
    assert.ok(Number.isFinite(context.deadline));
    // B's own client default is 30 s; B must see A's ~1.5 s instead. grpc-timeout is relative, so
    // B's reconstruction can be later than A's deadline by the transit time: allow 100 ms.
    assert.ok(
      seen.deadline <= context.deadline + 100,
      `B saw ${seen.deadline - context.deadline} ms past A's deadline`,
    );
    assert.ok(seen.deadline - Date.now() < 1600);
    assert.equal(context.requestId, "outer-request-1");
    assert.equal(seen.requestId, "outer-request-1");
  });

  it("propagates the deadline and request id to streaming calls started while handling a call", async (t) => {
    const b = await startB(t);
    const a = await startA(t, b.server.address);
    const client = createClient(dummyV1.DummyServiceService, a.address, { logger: silentLogger() });
    t.after(() => client.close());

    const response = await client.execute({ input: "stream" }, { timeoutMs: 1500 });
    assert.deepEqual(response, { output: "B-stream" });
    const [context] = a.contexts;
    const [seen] = b.seen;
    assert.ok(context && seen);
    assert.ok(seen.deadline <= context.deadline + 100);
    assert.equal(seen.requestId, context.requestId);
  });

  it("fails the downstream call with DEADLINE_EXCEEDED when the parent's deadline passes", async (t) => {
    const b = await startB(t);
    const a = await startA(t, b.server.address);
    const client = createClient(dummyV1.DummyServiceService, a.address, { logger: silentLogger() });
    t.after(() => client.close());

    const startedAt = Date.now();
    await assert.rejects(
      client.execute({ input: "hang" }, { timeoutMs: 300 }),
      (error: unknown) => error instanceof ClientError && error.code === status.DEADLINE_EXCEEDED,
    );
    assert.ok(Date.now() - startedAt < 3000);
    const [seen] = b.seen;
    assert.ok(seen?.call);
    assert.ok(seen.deadline - startedAt < 1000, "B got the parent's 300 ms budget, not the client's 30 s default");
    // B's call ends too, long before the 30 s default of A's client to B.
    if (!seen.call.cancelled) await once(seen.call, "cancelled", { signal: AbortSignal.timeout(3000) });
  });

  it("cancels the downstream call when the caller cancels the parent call", async (t) => {
    const b = await startB(t);
    const a = await startA(t, b.server.address);
    const client = createClient(dummyV1.DummyServiceService, a.address, { logger: silentLogger() });
    t.after(() => client.close());

    const controller = new AbortController();
    const outer = client.execute({ input: "hang" }, { timeoutMs: 20_000, signal: controller.signal });
    await b.arrived;
    const [seen] = b.seen;
    assert.ok(seen?.call);
    const downstreamCancelled = once(seen.call, "cancelled", { signal: AbortSignal.timeout(3000) });
    const startedAt = Date.now();
    controller.abort();
    await assert.rejects(outer, (error: unknown) => error instanceof ClientError && error.code === status.CANCELLED);
    await downstreamCancelled;
    assert.ok(Date.now() - startedAt < 3000, "B saw the cancellation long before any deadline");
    assert.ok(seen.deadline - startedAt > 15_000, "the downstream call was cancelled, not timed out");
  });
});
