import type { IncomingHttpHeaders } from "node:http";
import type { Metadata } from "@grpc/grpc-js";
import type { TextMapGetter, TextMapSetter } from "@opentelemetry/api";

/** Reads propagation headers (`traceparent`, `tracestate`, …) from gRPC metadata. */
export const metadataGetter: TextMapGetter<Metadata> = {
  get(carrier, key) {
    const values = carrier.get(key);
    if (values.length === 0) return undefined;
    if (values.length === 1) return typeof values[0] === "string" ? values[0] : undefined;
    return values.filter((value): value is string => typeof value === "string");
  },
  keys(carrier) {
    return Object.keys(carrier.getMap());
  },
};

/** Writes propagation headers into outgoing gRPC metadata. */
export const metadataSetter: TextMapSetter<Metadata> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

/** Reads propagation headers from node:http (and fastify) request headers. */
export const httpHeadersGetter: TextMapGetter<IncomingHttpHeaders> = {
  get(carrier, key) {
    return carrier[key];
  },
  keys(carrier) {
    return Object.keys(carrier);
  },
};
