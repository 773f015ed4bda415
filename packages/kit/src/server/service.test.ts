import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dummyV1 } from "@obfy/protos";
import { methodInfo, methodKind } from "../internal/method-info.js";
import { defineService } from "./service.js";

const echo = {
  execute: (request: dummyV1.DummyRequest) => ({ output: request.input }),
  async *executeServerStream(request: dummyV1.DummyRequest) {
    yield { output: request.input };
  },
  executeClientStream: () => ({ output: "" }),
  async *executeClientServerStream() {},
};

describe("defineService", () => {
  it("registers every method with its kind and the proto's service name", () => {
    const service = defineService(dummyV1.DummyServiceService, echo);
    assert.equal(service.name, "kit.testing.v1.DummyService");
    assert.deepEqual(
      service.methods.map((m) => [m.key, m.kind]),
      [
        ["execute", "unary"],
        ["executeServerStream", "server_stream"],
        ["executeClientStream", "client_stream"],
        ["executeClientServerStream", "bidi_stream"],
      ],
    );
  });

  it("checks handlers at compile time", () => {
    // Each @ts-expect-error fails `tsc --noEmit` if the kit stops rejecting the mistake.
    // @ts-expect-error a unary handler must return a DummyResponse, not a string
    defineService(dummyV1.DummyServiceService, { ...echo, execute: () => "nope" });
    // @ts-expect-error a server-streaming handler must return an AsyncIterable
    defineService(dummyV1.DummyServiceService, { ...echo, executeServerStream: () => ({ output: "x" }) });
    // @ts-expect-error every method needs a handler
    assert.throws(() => defineService(dummyV1.DummyServiceService, { execute: echo.execute }), /No handler for/);
  });

  it("parses method paths and kinds", () => {
    const info = methodInfo({ path: "/a.b.C/D", requestStream: false, responseStream: true });
    assert.deepEqual(info, {
      path: "/a.b.C/D",
      service: "a.b.C",
      name: "D",
      kind: "server_stream",
      requestStream: false,
      responseStream: true,
    });
    assert.throws(
      () => methodInfo({ path: "nope", requestStream: false, responseStream: false }),
      /Invalid gRPC method path/,
    );
    assert.equal(methodKind({ requestStream: true, responseStream: false }), "client_stream");
  });
});
