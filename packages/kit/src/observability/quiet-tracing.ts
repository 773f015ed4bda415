import {
  type Context,
  isSpanContextValid,
  ProxyTracerProvider,
  type SpanContext,
  TraceFlags,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { RandomIdGenerator } from "@opentelemetry/sdk-trace-node";

// Providers set up by setupTracing that export nothing. Through them no span can ever be seen,
// so the kit's tracing interceptors skip span work entirely and only carry trace context along.
const quietProviders = new WeakSet<TracerProvider>();
const ids = new RandomIdGenerator();

/** Records that `provider` exports nothing (called by `setupTracing`). */
export function markQuiet(provider: TracerProvider): void {
  quietProviders.add(provider);
}

/**
 * Whether spans from `provider` can never be exported: a provider `setupTracing` built without an
 * exporter, directly or as the global provider's delegate. Anything else (another SDK setup, a
 * provider registered later) counts as recording, so tracing keeps its full behaviour there.
 */
export function isQuiet(provider: TracerProvider): boolean {
  return quietProviders.has(provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider);
}

/**
 * A context whose active span is a non-recording stand-in for the span a recording setup would
 * start: a new span id under `parent`'s trace, with its flags (so a sampled trace stays sampled
 * downstream), or, without a valid parent, the root of a new unsampled trace. Log lines written in
 * it carry its ids, and outgoing calls propagate them; nothing is recorded.
 */
export function quietChildContext(parent: Context, parentSpan: SpanContext | undefined): Context {
  const spanContext: SpanContext =
    parentSpan !== undefined && isSpanContextValid(parentSpan)
      ? {
          traceId: parentSpan.traceId,
          spanId: ids.generateSpanId(),
          traceFlags: parentSpan.traceFlags,
          ...(parentSpan.traceState === undefined ? {} : { traceState: parentSpan.traceState }),
        }
      : { traceId: ids.generateTraceId(), spanId: ids.generateSpanId(), traceFlags: TraceFlags.NONE };
  return trace.setSpan(parent, trace.wrapSpanContext(spanContext));
}
