import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { dummyV1 } from "@obfy/protos";
import pino from "pino";
import { readServerConfig } from "../config.js";
import { currentContext } from "../context.js";
import { InvalidArgument, NotFound } from "../errors.js";
import type { ServerInterceptor } from "../interceptor.js";
import { dummyClient, raises } from "../testing/index.js";
import { createServer } from "./create-server.js";
import { defineService } from "./service.js";

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === "number";
}

describe("createServer with the Dummy service", () => {
  it("serves all four RPC kinds over a real socket", async (t) => {
    const client = await dummyClient();
    t.after(() => client.close());
    assert.equal((await client.execute("foo")).output, "foo");
    assert.deepEqual(
      (await client.executeServerStream("abc")).map((r) => r.output),
      ["a", "b", "c"],
    );
    assert.equal((await client.executeClientStream(["a", "b", "c"])).output, "abc");
    assert.deepEqual(
      (await client.executeClientServerStream(["x", "yy", "z"])).map((r) => r.output),
      ["x", "yy", "z"],
    );
    assert.equal(client.server.inFlight, 0);
  });

  it("sends a GrpcError's code and message, and hides any other error behind INTERNAL", async (t) => {
    const secret = new Error("password=hunter2 at db.ts:42");
    const client = await dummyClient({
      specialCases: {
        missing: raises(new NotFound("Book 7 not found")),
        bad: raises(new InvalidArgument("input must not be bad")),
        crash: raises(secret),
      },
    });
    t.after(() => client.close());
    await assert.rejects(client.execute("missing"), { code: status.NOT_FOUND, details: "Book 7 not found" });
    await assert.rejects(client.execute("bad"), { code: status.INVALID_ARGUMENT, details: "input must not be bad" });
    for (const call of [
      () => client.execute("crash"),
      () => client.executeServerStream("crash"),
      () => client.executeClientStream(["ok", "crash"]),
      () => client.executeClientServerStream(["ok", "crash"]),
    ]) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(isServiceError(error));
        assert.equal(error.code, status.INTERNAL);
        assert.equal(error.details, "Internal server error");
        assert.doesNotMatch(JSON.stringify(error.metadata.getMap()), /hunter2|db\.ts/);
        return true;
      });
    }
    // The server keeps serving after errors.
    assert.equal((await client.execute("still-here")).output, "still-here");
  });

  it("echoes a sane x-request-id and replaces an unsafe one", async (t) => {
    let seen: string | undefined;
    const client = await dummyClient({
      specialCases: {
        id: (_request, context) => {
          seen = currentContext()?.requestId;
          assert.equal(context.requestId, seen);
          return { output: context.requestId };
        },
      },
    });
    t.after(() => client.close());
    const call = (id: string): Promise<{ output: string; header: string | undefined }> =>
      new Promise((resolve, reject) => {
        const metadata = new Metadata();
        metadata.set("x-request-id", id);
        let header: string | undefined;
        const unary = client.raw.execute({ input: "id" }, metadata, (error, response) =>
          error ? reject(error) : resolve({ output: response.output, header }),
        );
        unary.on("metadata", (headers: Metadata) => {
          header = String(headers.get("x-request-id")[0]);
        });
      });
    const good = await call("req-1.2:abc_DEF");
    assert.deepEqual(good, { output: "req-1.2:abc_DEF", header: "req-1.2:abc_DEF" });
    assert.equal(seen, "req-1.2:abc_DEF");
    for (const bad of ["has space", "a".repeat(129), 'quote"', "semi;colon"]) {
      const replaced = await call(bad);
      assert.notEqual(replaced.output, bad);
      assert.match(replaced.output, /^[0-9a-f-]{36}$/);
      assert.equal(replaced.header, replaced.output);
    }
  });

  it("aborts the handler's signal when the caller cancels a stream", async (t) => {
    let aborted: (reason: unknown) => void = () => {};
    const abortReason = new Promise<unknown>((resolve) => {
      aborted = resolve;
    });
    let started: () => void = () => {};
    const handlerStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const service = defineService(dummyV1.DummyServiceService, {
      execute: (request) => ({ output: request.input }),
      async *executeServerStream(_request, context) {
        context.signal.addEventListener("abort", () => aborted(context.signal.reason), { once: true });
        yield { output: "first" };
        started();
        await new Promise((resolve) => context.signal.addEventListener("abort", resolve, { once: true }));
      },
      executeClientStream: () => ({ output: "" }),
      async *executeClientServerStream() {},
    });
    const server = createServer({
      services: [service],
      config: readServerConfig({}, { host: "127.0.0.1", port: 0, shutdownGraceSeconds: 5 }),
      logger: pino({ level: "silent" }),
    });
    t.after(() => server.shutdown());
    const { port } = await server.listen();
    const client = new dummyV1.DummyServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    t.after(() => client.close());
    const stream = client.executeServerStream({ input: "x" });
    stream.on("error", () => {});
    await once(stream, "data");
    await handlerStarted;
    assert.equal(server.inFlight, 1);
    stream.cancel();
    const reason = await abortReason;
    assert.ok(reason instanceof Error);
    assert.equal((reason as { code?: number }).code, status.CANCELLED);
    assert.equal(server.inFlight, 0);
  });

  it("runs interceptors outermost first, around the whole stream", async (t) => {
    const events: string[] = [];
    const tag =
      (name: string): ServerInterceptor =>
      (next) =>
      async (call) => {
        events.push(`${name}:before:${call.method.name}`);
        const send = call.send;
        const result = await next(
          send
            ? {
                ...call,
                send: (message: unknown) => {
                  events.push(`${name}:send`);
                  return send(message);
                },
              }
            : call,
        );
        events.push(`${name}:after`);
        return result;
      };
    const client = await dummyClient({ interceptors: [tag("outer"), tag("inner")] });
    t.after(() => client.close());
    await client.executeServerStream("ab");
    assert.deepEqual(events, [
      "outer:before:ExecuteServerStream",
      "inner:before:ExecuteServerStream",
      "inner:send",
      "outer:send",
      "inner:send",
      "outer:send",
      "inner:after",
      "outer:after",
    ]);
  });

  it("falls back to INTERNAL without details when an outer interceptor throws a raw error", async (t) => {
    const client = await dummyClient({
      outerInterceptors: [
        () => async () => {
          throw new Error("secret outer failure");
        },
      ],
    });
    t.after(() => client.close());
    await assert.rejects(client.execute("x"), { code: status.INTERNAL, details: "Internal server error" });
  });

  it("exposes the caller's deadline and aborts the signal when it passes", async (t) => {
    let deadlineSeen = 0;
    const client = await dummyClient({
      specialCases: {
        wait: async (_request, context) => {
          deadlineSeen = context.deadline;
          const reason = await new Promise((resolve) =>
            context.signal.addEventListener("abort", () => resolve(context.signal.reason), { once: true }),
          );
          return { output: String((reason as { code?: number }).code) };
        },
      },
    });
    t.after(() => client.close());
    const deadline = Date.now() + 300;
    await assert.rejects(client.execute("wait", { deadline }), { code: status.DEADLINE_EXCEEDED });
    assert.ok(Math.abs(deadlineSeen - deadline) < 100, `deadline ${deadlineSeen} vs ${deadline}`);
  });
});
