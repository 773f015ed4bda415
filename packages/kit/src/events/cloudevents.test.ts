import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CloudEvent,
  fromAmqpMessage,
  fromStructuredCloudEvent,
  InvalidCloudEventError,
  PROTOBUF_CONTENT_TYPE,
  toAmqpMessage,
  toStructuredCloudEvent,
} from "./cloudevents.js";

const event: CloudEvent = {
  id: "5f1c9f0e-7a52-4c1e-9d6c-3c1f8e2b9a10",
  source: "/bookstore/orders",
  type: "bookstore.orders.events.v1.OrderPlaced",
  time: "2026-12-02T03:56:24.123Z",
  subject: "order-42",
  datacontenttype: PROTOBUF_CONTENT_TYPE,
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  tracestate: "vendor=opaque",
  data: Uint8Array.from([0x0a, 0x08, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x2d, 0x34, 0x32]),
};

describe("CloudEvents AMQP binding, binary mode", () => {
  it("maps datacontenttype to content-type, every other attribute to a cloudEvents: property, data to the body", () => {
    const message = toAmqpMessage(event);
    assert.equal(message.contentType, "application/protobuf");
    assert.deepEqual(message.headers, {
      "cloudEvents:specversion": "1.0",
      "cloudEvents:id": event.id,
      "cloudEvents:source": "/bookstore/orders",
      "cloudEvents:type": "bookstore.orders.events.v1.OrderPlaced",
      "cloudEvents:time": "2026-12-02T03:56:24.123Z",
      "cloudEvents:subject": "order-42",
      "cloudEvents:traceparent": event.traceparent,
      "cloudEvents:tracestate": "vendor=opaque",
    });
    assert.deepEqual([...message.body], [...event.data]);
    assert.equal(message.messageId, event.id);
    assert.equal(message.timestamp, Math.floor(Date.parse(event.time) / 1000));
    assert.deepEqual(fromAmqpMessage({ ...message, body: Buffer.from(message.body) }), {
      ...event,
      data: Buffer.from(event.data),
    });
  });

  it("reads the binding's own example, with native AMQP values as well as strings", () => {
    // AMQP binding 1.0.2, §3.1.4, with the time as an AMQP timestamp and the id as binary.
    const parsed = fromAmqpMessage({
      contentType: "application/json; charset=utf-8",
      headers: {
        "cloudEvents:specversion": "1.0",
        "cloudEvents:type": "com.example.someevent",
        "cloudEvents:time": new Date("2018-04-05T03:56:24Z"),
        "cloudEvents:id": Buffer.from("1234-1234-1234"),
        "cloudEvents:source": "/mycontext/subcontext",
      },
      body: Buffer.from('{"a":1}'),
    });
    assert.equal(parsed.type, "com.example.someevent");
    assert.equal(parsed.id, "1234-1234-1234");
    assert.equal(parsed.time, "2018-04-05T03:56:24.000Z");
    assert.equal(parsed.source, "/mycontext/subcontext");
    assert.equal(parsed.subject, undefined);
    assert.equal(parsed.datacontenttype, "application/json; charset=utf-8");
  });

  it("rejects a message that is not a CloudEvent 1.0 or lacks a required attribute", () => {
    const { headers } = toAmqpMessage(event);
    assert.throws(() => fromAmqpMessage({ headers: {}, body: Buffer.alloc(0) }), InvalidCloudEventError);
    assert.throws(
      () => fromAmqpMessage({ headers: { ...headers, "cloudEvents:specversion": "0.3" }, body: Buffer.alloc(0) }),
      /specversion is "0.3"/,
    );
    const { "cloudEvents:source": _source, ...withoutSource } = headers;
    assert.throws(() => fromAmqpMessage({ headers: withoutSource, body: Buffer.alloc(0) }), /cloudEvents:source/);
  });
});

describe("CloudEvents JSON format, structured, with data_base64", () => {
  it("round-trips through JSON text", () => {
    const structured = toStructuredCloudEvent(event);
    assert.equal(structured.specversion, "1.0");
    assert.equal(structured.data_base64, Buffer.from(event.data).toString("base64"));
    assert.equal("data" in structured, false);
    const parsed = fromStructuredCloudEvent(JSON.parse(JSON.stringify(structured)));
    assert.deepEqual(parsed, { ...event, data: Buffer.from(event.data) });
  });

  it("reads the format's own example and ignores extension attributes it does not know", () => {
    // JSON event format 1.0.2, §3.1.2.
    const parsed = fromStructuredCloudEvent({
      specversion: "1.0",
      type: "com.example.someevent",
      source: "/mycontext",
      id: "A234-1234-1234",
      time: "2018-04-05T17:31:00Z",
      comexampleextension1: "value",
      comexampleothervalue: 5,
      datacontenttype: "application/vnd.apache.thrift.binary",
      data_base64: Buffer.from([1, 2, 3]).toString("base64"),
    });
    assert.equal(parsed.id, "A234-1234-1234");
    assert.deepEqual([...parsed.data], [1, 2, 3]);
    assert.equal(parsed.datacontenttype, "application/vnd.apache.thrift.binary");
  });

  it("rejects what the kit cannot handle, naming the problem", () => {
    const structured = toStructuredCloudEvent(event);
    assert.throws(() => fromStructuredCloudEvent("text"), /JSON object/);
    assert.throws(() => fromStructuredCloudEvent({ ...structured, specversion: "0.3" }), /specversion is "0.3"/);
    assert.throws(() => fromStructuredCloudEvent({ ...structured, id: 7 }), /id must be a non-empty string/);
    assert.throws(() => fromStructuredCloudEvent({ ...structured, subject: 7 }), /subject must be a string/);
    const { data_base64: _data, ...withoutData } = structured;
    assert.throws(() => fromStructuredCloudEvent({ ...withoutData, data: { a: 1 } }), /data_base64/);
  });
});
