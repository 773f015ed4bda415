// The bench's hand-framed HTTP/2 client against a real grpc-js server over loopback: statuses
// from trailers and from trailers-only answers, an HPACK dynamic table that churns on every
// response (a fresh x-request-id per call, as the kit sends), a response larger than the default
// connection window, and calls in flight when the server goes away.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServiceDefinition,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import HPACK from "hpack";
import { type RawCallResult, RawGrpcConnection, requestHeaderBlock } from "./h2-raw.js";

const identity = (b: Buffer): Buffer => b;
const method = (path: string) => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});
const definition: ServiceDefinition = {
  Ok: method("/bench.Raw/Ok"),
  Invalid: method("/bench.Raw/Invalid"),
  Big: method("/bench.Raw/Big"),
  Slow: method("/bench.Raw/Slow"),
};
const BIG_BYTES = 1 << 20;

function grpcFrame(message: Buffer): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

const REQUEST = grpcFrame(Buffer.from("ping"));

function call(connection: RawGrpcConnection): Promise<RawCallResult> {
  return new Promise((resolve) => connection.call(resolve));
}

async function startServer(): Promise<{ server: Server; port: number }> {
  const server = new Server();
  const implementation: UntypedServiceImplementation = {
    Ok(raw: { request: Buffer; sendMetadata(m: Metadata): void }, callback: (e: null, r: Buffer) => void) {
      const headers = new Metadata();
      headers.set("x-request-id", randomUUID());
      raw.sendMetadata(headers);
      callback(null, Buffer.concat([Buffer.from("pong:"), raw.request]));
    },
    Invalid(_raw: unknown, callback: (e: { code: number; details: string }) => void) {
      callback({ code: status.INVALID_ARGUMENT, details: "bad request: max_results must be 1..10" });
    },
    Big(_raw: unknown, callback: (e: null, r: Buffer) => void) {
      callback(null, Buffer.alloc(BIG_BYTES, 7));
    },
    Slow(_raw: unknown, callback: (e: null, r: Buffer) => void) {
      setTimeout(() => callback(null, Buffer.from("late")), 10_000).unref();
    },
  };
  server.addService(definition, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return { server, port };
}

describe("requestHeaderBlock", () => {
  it("decodes to exactly the gRPC request headers", () => {
    const fields = new HPACK().decode(requestHeaderBlock("127.0.0.1:5", "/pkg.Svc/Method"));
    assert.deepEqual(fields, [
      [":method", "POST"],
      [":scheme", "http"],
      [":path", "/pkg.Svc/Method"],
      [":authority", "127.0.0.1:5"],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
    ]);
  });
});

describe("RawGrpcConnection against grpc-js", () => {
  let server: Server;
  let port: number;
  before(async () => {
    ({ server, port } = await startServer());
  });
  after(() => server.forceShutdown());

  it("reads grpc-status 0 from the trailers of 2,000 calls while the header table churns", async () => {
    const connection = await RawGrpcConnection.open("127.0.0.1", port, "/bench.Raw/Ok", REQUEST);
    try {
      // Waves of 100 in flight: every response inserts a new x-request-id into the server's
      // HPACK table and evicts old ones, so one missed or misordered decode would show up as
      // a wrong or missing status.
      const results: RawCallResult[] = [];
      for (let wave = 0; wave < 20; wave++) {
        results.push(...(await Promise.all(Array.from({ length: 100 }, () => call(connection)))));
      }
      assert.equal(results.length, 2000);
      assert.deepEqual(
        results.filter((r) => r.grpcStatus !== "0" || r.transportError !== undefined),
        [],
      );
      assert.equal(connection.inFlight, 0);
    } finally {
      connection.close();
    }
  });

  it("reports an error status and its message", async () => {
    const connection = await RawGrpcConnection.open("127.0.0.1", port, "/bench.Raw/Invalid", REQUEST);
    try {
      const result = await call(connection);
      assert.equal(result.grpcStatus, String(status.INVALID_ARGUMENT));
      assert.equal(result.grpcMessage, "bad request: max_results must be 1..10");
      assert.equal(result.transportError, undefined);
    } finally {
      connection.close();
    }
  });

  it("reads the status of a trailers-only answer (unknown method)", async () => {
    const connection = await RawGrpcConnection.open("127.0.0.1", port, "/bench.Raw/Missing", REQUEST);
    try {
      const result = await call(connection);
      assert.equal(result.grpcStatus, String(status.UNIMPLEMENTED));
    } finally {
      connection.close();
    }
  });

  it("receives a response larger than HTTP/2's default connection window", async () => {
    const connection = await RawGrpcConnection.open("127.0.0.1", port, "/bench.Raw/Big", REQUEST);
    try {
      const results = await Promise.all([call(connection), call(connection), call(connection)]);
      assert.deepEqual(
        results.map((r) => r.grpcStatus),
        ["0", "0", "0"],
      );
    } finally {
      connection.close();
    }
  });

  it("ends calls in flight with a transport error when the server goes away, and later calls at once", async () => {
    const own = await startServer();
    const connection = await RawGrpcConnection.open("127.0.0.1", own.port, "/bench.Raw/Slow", REQUEST);
    try {
      const pending = call(connection);
      await new Promise((resolve) => setTimeout(resolve, 100));
      own.server.forceShutdown();
      const result = await pending;
      assert.equal(result.grpcStatus, undefined);
      assert.ok(result.transportError, "a transport error is reported");
      const later = await call(connection);
      assert.ok(later.transportError, "a call on the dead connection fails at once");
    } finally {
      connection.close();
    }
  });
});
