import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { Metadata, status } from "@grpc/grpc-js";
import pino from "pino";
import { NotFound } from "../errors.js";
import { dummyClient, raises } from "../testing/index.js";

interface LogLine {
  level: number;
  msg: string;
  method?: string;
  request_id?: string;
  grpc_code?: string;
  duration_ms?: number;
  peer?: string;
  kind?: string;
  err?: { message: string; stack: string };
}

function captureLogger(): { logger: pino.Logger; lines: LogLine[]; raw: string[] } {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (!line) continue;
        raw.push(line);
        lines.push(JSON.parse(line) as LogLine);
      }
      callback();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines, raw };
}

const LEVEL = { info: 30, warn: 40, error: 50 };

describe("logging interceptor", () => {
  it("writes exactly one line per call with method, code, duration, peer, request id and kind", async (t) => {
    const { logger, lines } = captureLogger();
    const client = await dummyClient({
      logger,
      specialCases: { missing: raises(new NotFound("nope")), crash: raises(new Error("kaboom")) },
    });
    t.after(() => client.close());
    const metadata = new Metadata();
    metadata.set("x-request-id", "log-test-1");
    await client.execute("hello", { metadata });
    await client.executeServerStream("abc");
    await client.executeClientStream(["a", "b"]);
    await client.executeClientServerStream(["a"]);
    await assert.rejects(client.execute("missing"), { code: status.NOT_FOUND });
    await assert.rejects(client.execute("crash"), { code: status.INTERNAL });

    const finished = lines.filter((line) => line.msg === "gRPC call finished");
    assert.equal(finished.length, 6);
    const [unary, serverStream, clientStream, bidi, missing, crash] = finished;
    assert.equal(unary?.method, "/kit.testing.v1.DummyService/Execute");
    assert.equal(unary?.request_id, "log-test-1");
    assert.equal(unary?.grpc_code, "OK");
    assert.equal(unary?.level, LEVEL.info);
    assert.equal(unary?.kind, "unary");
    assert.match(unary?.peer ?? "", /^(ipv4:)?127\.0\.0\.1:\d+$/);
    assert.equal(typeof unary?.duration_ms, "number");
    assert.deepEqual(
      [serverStream?.kind, clientStream?.kind, bidi?.kind],
      ["server_stream", "client_stream", "bidi_stream"],
    );
    assert.equal(serverStream?.method, "/kit.testing.v1.DummyService/ExecuteServerStream");
    assert.deepEqual([missing?.grpc_code, missing?.level], ["NOT_FOUND", LEVEL.warn]);
    assert.deepEqual([crash?.grpc_code, crash?.level], ["INTERNAL", LEVEL.error]);

    // The unexpected error is logged once, with its stack, by exception-to-status.
    const unhandled = lines.filter((line) => line.msg === "Unhandled error in gRPC handler");
    assert.equal(unhandled.length, 1);
    assert.equal(unhandled[0]?.err?.message, "kaboom");
    assert.match(unhandled[0]?.err?.stack ?? "", /kaboom\n\s+at /);
    assert.equal(unhandled[0]?.method, "/kit.testing.v1.DummyService/Execute");
    assert.equal(unhandled[0]?.request_id, crash?.request_id);
  });

  it("writes each field once and follows a later change of the server logger's level", async (t) => {
    const { logger, lines, raw } = captureLogger();
    const client = await dummyClient({ logger });
    t.after(() => client.close());
    const finished = (): LogLine[] => lines.filter((line) => line.msg === "gRPC call finished");

    await client.execute("first");
    assert.equal(finished().length, 1);
    const line = raw.find((text) => text.includes("gRPC call finished")) ?? "";
    for (const key of ["method", "request_id", "kind", "grpc_code", "duration_ms", "peer"]) {
      assert.equal(line.split(`"${key}":`).length - 1, 1, `${key} appears once in ${line}`);
    }

    logger.level = "warn";
    await client.execute("quiet");
    assert.equal(finished().length, 1, "an OK call writes no line at warn");

    logger.level = "info";
    await client.execute("again");
    assert.equal(finished().length, 2);
    assert.equal(finished()[1]?.method, "/kit.testing.v1.DummyService/Execute");
  });
});
