/**
 * The CloudEvents 1.0 envelope every event and task travels in, and its two wire forms:
 *
 * - the AMQP protocol binding's **binary** content mode, on RabbitMQ: `datacontenttype` is the
 *   message's content-type, every other attribute an application property named
 *   `cloudEvents:<attribute>` (AMQP 0-9-1 calls them headers; RabbitMQ 4 shows them to AMQP 1.0
 *   clients as application-properties), and the body is the protobuf bytes as they are;
 * - the **JSON event format**, structured, in pg-boss job data: the attributes as JSON members and
 *   the protobuf bytes base64-encoded in `data_base64`.
 *
 * `traceparent` and `tracestate` are the attributes of the CloudEvents distributed-tracing
 * extension (W3C Trace Context), so a consumer continues the producer's trace.
 *
 * The CloudEvents JavaScript SDK is not used: it has no AMQP binding, and its JSON format validates
 * through ajv and carries polyfills a Node service does not need; these mappings are short and the
 * tests check them against the specifications' examples.
 */

/** The CloudEvents specification version the kit writes and accepts. */
export const CLOUDEVENTS_SPEC_VERSION = "1.0";

/** The media type of protobuf-encoded event data (`datacontenttype`). */
export const PROTOBUF_CONTENT_TYPE = "application/protobuf";

/** The media type of the CloudEvents JSON event format. */
export const CLOUDEVENTS_JSON_CONTENT_TYPE = "application/cloudevents+json";

/** The prefix of CloudEvents attributes among AMQP application properties (AMQP binding §3.1.3.1). */
export const AMQP_ATTRIBUTE_PREFIX = "cloudEvents:";

/** One event or task: the CloudEvents context attributes the kit uses, and the encoded data. */
export interface CloudEvent {
  /** Unique per event of a `source`; the consumers' idempotency key. */
  readonly id: string;
  /** Who produced it, a URI-reference: `/bookstore/<service>`. */
  readonly source: string;
  /** The full protobuf message name of `data`, e.g. `bookstore.orders.events.v1.OrderPlaced`. */
  readonly type: string;
  /** When the state change happened (RFC 3339, UTC). */
  readonly time: string;
  /** What the event is about, e.g. the order id; optional. */
  readonly subject?: string | undefined;
  /** `application/protobuf` for everything the kit publishes. */
  readonly datacontenttype: string;
  /** W3C `traceparent` of the span that published it (distributed-tracing extension). */
  readonly traceparent?: string | undefined;
  /** W3C `tracestate` that went with it. */
  readonly tracestate?: string | undefined;
  /** The encoded data: protobuf bytes. */
  readonly data: Uint8Array;
}

/** A CloudEvent in the JSON event format with binary data (`data_base64`). */
export interface StructuredCloudEvent {
  specversion: string;
  id: string;
  source: string;
  type: string;
  time: string;
  subject?: string;
  datacontenttype: string;
  traceparent?: string;
  tracestate?: string;
  data_base64: string;
}

/** The parts of an AMQP 0-9-1 message that carry a CloudEvent in binary mode. */
export interface AmqpCloudEventMessage {
  contentType: string;
  headers: Record<string, string>;
  /** AMQP message-id: the event id, for RabbitMQ's own tooling. */
  messageId: string;
  /** AMQP type property: the event type. */
  type: string;
  /** AMQP timestamp, seconds. */
  timestamp: number;
  body: Uint8Array;
}

/** A message that is not a valid CloudEvent as the kit reads them. */
export class InvalidCloudEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidCloudEventError";
  }
}

const OPTIONAL_ATTRIBUTES = ["subject", "traceparent", "tracestate"] as const;
const REQUIRED_ATTRIBUTES = ["id", "source", "type", "time"] as const;

/** The event as the binary mode of the AMQP binding carries it. */
export function toAmqpMessage(event: CloudEvent): AmqpCloudEventMessage {
  const headers: Record<string, string> = { [`${AMQP_ATTRIBUTE_PREFIX}specversion`]: CLOUDEVENTS_SPEC_VERSION };
  for (const name of REQUIRED_ATTRIBUTES) headers[`${AMQP_ATTRIBUTE_PREFIX}${name}`] = event[name];
  for (const name of OPTIONAL_ATTRIBUTES) {
    const value = event[name];
    if (value !== undefined) headers[`${AMQP_ATTRIBUTE_PREFIX}${name}`] = value;
  }
  return {
    contentType: event.datacontenttype,
    headers,
    messageId: event.id,
    type: event.type,
    timestamp: Math.floor(Date.parse(event.time) / 1000),
    body: event.data,
  };
}

/** An AMQP application property value as text: the binding allows native AMQP types or canonical strings. */
function propertyText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return undefined;
}

/**
 * Reads a CloudEvent from an AMQP message in binary mode. Throws {@link InvalidCloudEventError}
 * when `specversion` is not 1.0 or a required attribute is missing.
 */
export function fromAmqpMessage(message: {
  contentType?: string | undefined;
  headers?: Record<string, unknown> | undefined;
  body: unknown;
}): CloudEvent {
  const headers = message.headers ?? {};
  const attribute = (name: string) => propertyText(headers[`${AMQP_ATTRIBUTE_PREFIX}${name}`]);
  const specversion = attribute("specversion");
  if (specversion !== CLOUDEVENTS_SPEC_VERSION) {
    throw new InvalidCloudEventError(
      `not a CloudEvents ${CLOUDEVENTS_SPEC_VERSION} message: cloudEvents:specversion is ${JSON.stringify(specversion ?? null)}`,
    );
  }
  const body = message.body;
  const data =
    body instanceof Uint8Array ? body : typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.alloc(0);
  const event: Record<string, unknown> = { datacontenttype: message.contentType ?? "", data };
  for (const name of REQUIRED_ATTRIBUTES) {
    const value = attribute(name);
    if (value === undefined || value === "") {
      throw new InvalidCloudEventError(`CloudEvent has no cloudEvents:${name} application property`);
    }
    event[name] = value;
  }
  for (const name of OPTIONAL_ATTRIBUTES) {
    const value = attribute(name);
    if (value !== undefined) event[name] = value;
  }
  return event as unknown as CloudEvent;
}

/** The event in the CloudEvents JSON format, data as `data_base64`. */
export function toStructuredCloudEvent(event: CloudEvent): StructuredCloudEvent {
  const structured: StructuredCloudEvent = {
    specversion: CLOUDEVENTS_SPEC_VERSION,
    id: event.id,
    source: event.source,
    type: event.type,
    time: event.time,
    datacontenttype: event.datacontenttype,
    data_base64: Buffer.from(event.data).toString("base64"),
  };
  for (const name of OPTIONAL_ATTRIBUTES) {
    const value = event[name];
    if (value !== undefined) structured[name] = value;
  }
  return structured;
}

/**
 * Reads a CloudEvent in the JSON format with `data_base64`. Throws {@link InvalidCloudEventError}
 * for anything else (wrong specversion, a missing or non-string attribute, JSON `data`).
 */
export function fromStructuredCloudEvent(value: unknown): CloudEvent {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidCloudEventError("a structured CloudEvent must be a JSON object");
  }
  const record = value as Record<string, unknown>;
  if (record.specversion !== CLOUDEVENTS_SPEC_VERSION) {
    throw new InvalidCloudEventError(
      `not a CloudEvents ${CLOUDEVENTS_SPEC_VERSION} event: specversion is ${JSON.stringify(record.specversion ?? null)}`,
    );
  }
  const event: Record<string, unknown> = {};
  for (const name of REQUIRED_ATTRIBUTES) {
    const attribute = record[name];
    if (typeof attribute !== "string" || attribute === "") {
      throw new InvalidCloudEventError(`CloudEvent attribute ${name} must be a non-empty string`);
    }
    event[name] = attribute;
  }
  for (const name of OPTIONAL_ATTRIBUTES) {
    const attribute = record[name];
    if (attribute === undefined || attribute === null) continue;
    if (typeof attribute !== "string")
      throw new InvalidCloudEventError(`CloudEvent attribute ${name} must be a string`);
    event[name] = attribute;
  }
  const datacontenttype = record.datacontenttype;
  event.datacontenttype = typeof datacontenttype === "string" ? datacontenttype : "";
  const base64 = record.data_base64;
  if (typeof base64 !== "string") {
    throw new InvalidCloudEventError("CloudEvent has no data_base64 (the kit's events carry binary data)");
  }
  event.data = Buffer.from(base64, "base64");
  return event as unknown as CloudEvent;
}
