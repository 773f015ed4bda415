import { context, isSpanContextValid, trace } from "@opentelemetry/api";
import { currentContext } from "../context.js";
import { isCallLogger } from "../internal/call-storage.js";

/** Fields {@link traceLogMixin} adds to a log line. */
export interface TraceLogFields {
  /** 32 hex digits, the W3C trace id. */
  trace_id?: string;
  /** 16 hex digits, the active span's id. */
  span_id?: string;
  /** `01` when the trace is sampled (exported), `00` otherwise. */
  trace_flags?: string;
  /** The gRPC call's request id, added only when the line is not written through `context.log` (which already binds it). */
  request_id?: string;
}

/**
 * A pino `mixin` adding `trace_id`, `span_id` and `trace_flags` from the active OpenTelemetry
 * span to every line written while handling a request, so a log search by trace id finds every
 * line of a request across services. Lines written through another logger than the call's own
 * `context.log` (e.g. the process logger, from a library) also get the call's `request_id`.
 *
 * `pino({ mixin: traceLogMixin })`; children inherit it. It returns a new object each time
 * because pino merges the line's fields into it.
 */
export function traceLogMixin(_mergeObject: object, _level: number, logger: unknown): TraceLogFields {
  const fields: TraceLogFields = {};
  const spanContext = trace.getSpan(context.active())?.spanContext();
  if (spanContext !== undefined && isSpanContextValid(spanContext)) {
    fields.trace_id = spanContext.traceId;
    fields.span_id = spanContext.spanId;
    fields.trace_flags = (spanContext.traceFlags & 1) === 1 ? "01" : "00";
  }
  const call = currentContext();
  // isCallLogger, not `logger !== call.log`: reading call.log would build a child logger per line.
  if (call !== undefined && !isCallLogger(logger)) fields.request_id = call.requestId;
  return fields;
}
