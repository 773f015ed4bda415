import assert from "node:assert/strict";
import { connect, constants } from "node:http2";
import { describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import { dummyClient } from "../testing/index.js";

/** Sends one raw gRPC request (5-byte frame header + `payload`) and returns the status trailers. */
async function rawGrpcCall(port: number, path: string, payload: Buffer): Promise<{ code: number; message: string }> {
  const session = connect(`http://127.0.0.1:${port}`);
  try {
    const request = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: path,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
      [constants.HTTP2_HEADER_TE]: "trailers",
    });
    const header = Buffer.alloc(5);
    header.writeUInt8(0, 0); // not compressed
    header.writeUInt32BE(payload.length, 1);
    request.end(Buffer.concat([header, payload]));
    request.resume();
    return await new Promise((resolve, reject) => {
      let statusHeaders: Record<string, unknown> | undefined;
      // A trailers-only response carries the status in the headers.
      request.on("response", (headers) => {
        if (headers["grpc-status"] !== undefined) statusHeaders = headers;
      });
      request.on("trailers", (trailers) => {
        statusHeaders = trailers;
      });
      request.on("error", reject);
      request.on("close", () => {
        if (!statusHeaders) return reject(new Error("No grpc-status received"));
        resolve({
          code: Number(statusHeaders["grpc-status"]),
          message: decodeURIComponent(String(statusHeaders["grpc-message"] ?? "")),
        });
      });
    });
  } finally {
    session.close();
  }
}

describe("limits and bad input", () => {
  it("rejects a message over the receive limit (4 MiB default) with RESOURCE_EXHAUSTED and keeps serving", async (t) => {
    const client = await dummyClient();
    t.after(() => client.close());
    assert.equal(client.server.config.maxReceiveMessageBytes, 4 * 1024 * 1024);
    await assert.rejects(client.execute("x".repeat(4 * 1024 * 1024 + 1)), { code: status.RESOURCE_EXHAUSTED });
    assert.equal((await client.execute("x".repeat(1024 * 1024))).output.length, 1024 * 1024);
  });

  it("answers garbage protobuf bytes with INTERNAL or INVALID_ARGUMENT and keeps serving", async (t) => {
    const client = await dummyClient();
    t.after(() => client.close());
    const path = "/kit.testing.v1.DummyService/Execute";
    const garbage = [
      Buffer.alloc(12, 0xff), // a varint that never ends
      Buffer.from([0x0f, 0x01, 0x02]), // field 1 with the invalid wire type 7
      Buffer.from([0x0a, 0x7f, 0x61]), // a string field claiming 127 bytes, holding 1
    ];
    for (const payload of garbage) {
      const result = await rawGrpcCall(client.port, path, payload);
      assert.ok(
        result.code === status.INTERNAL || result.code === status.INVALID_ARGUMENT,
        `unexpected status ${result.code} ${result.message}`,
      );
      assert.doesNotMatch(result.message, /\n\s+at /, "no stack trace in grpc-message");
    }
    // A well-formed raw request through the same path still works, and so does the client.
    const good = await rawGrpcCall(client.port, path, Buffer.from([0x0a, 0x02, 0x68, 0x69]));
    assert.equal(good.code, status.OK);
    assert.equal((await client.execute("after garbage")).output, "after garbage");
  });
});
