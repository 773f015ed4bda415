import {
  type Context,
  context,
  isSpanContextValid,
  ProxyTracerProvider,
  type Span,
  type SpanContext,
  type SpanOptions,
  TraceFlags,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";

const idBytes = Buffer.alloc(16);

/**
 * `bytes` random bytes as lowercase hex, never all zeros (an all-zero id is invalid in W3C Trace
 * Context), made as the OpenTelemetry SDK's RandomIdGenerator makes them, from Math.random: trace
 * and span ids must be unique, not secret. (crypto.randomBytes costs ≈ 5 µs per id on Node 26,
 * this ≈ 0.1 µs: 1e6 ids of 8 bytes timed in a loop.)
 */
function randomHexId(bytes: number): string {
  for (;;) {
    for (let i = 0; i < bytes; i += 4) idBytes.writeUInt32BE((Math.random() * 2 ** 32) >>> 0, i);
    const id = idBytes.toString("hex", 0, bytes);
    if (!/^0+$/.test(id)) return id;
  }
}

const ids = {
  generateTraceId: (): string => randomHexId(16),
  generateSpanId: (): string => randomHexId(8),
};

/**
 * Whether spans from `provider` can never be exported: a provider `setupTracing` built without an
 * exporter, directly or as the global provider's delegate. Anything else (another SDK setup, a
 * provider registered later) counts as recording, so tracing keeps its full behaviour there.
 */
export function isQuiet(provider: TracerProvider): boolean {
  return (provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider) instanceof QuietTracerProvider;
}

/**
 * A context whose active span is a non-recording stand-in for the span a recording setup would
 * start: a new span id under `parent`'s trace, with its flags (so a sampled trace stays sampled
 * downstream), or, without a valid parent, the root of a new unsampled trace. Log lines written in
 * it carry its ids, and outgoing calls propagate them; nothing is recorded.
 */
export function quietChildContext(parent: Context, parentSpan: SpanContext | undefined): Context {
  return trace.setSpan(parent, trace.wrapSpanContext(quietSpanContext(parentSpan)));
}

/** The span context of a quiet child of `parentSpan` (see {@link quietChildContext}). */
function quietSpanContext(parentSpan: SpanContext | undefined): SpanContext {
  return parentSpan !== undefined && isSpanContextValid(parentSpan)
    ? {
        traceId: parentSpan.traceId,
        spanId: ids.generateSpanId(),
        traceFlags: parentSpan.traceFlags,
        ...(parentSpan.traceState === undefined ? {} : { traceState: parentSpan.traceState }),
      }
    : { traceId: ids.generateTraceId(), spanId: ids.generateSpanId(), traceFlags: TraceFlags.NONE };
}

/** The tracer of {@link QuietTracerProvider}: every span is a non-recording quiet child. */
class QuietTracer implements Tracer {
  startSpan(_name: string, options?: SpanOptions, ctx: Context = context.active()): Span {
    return trace.wrapSpanContext(quietSpanContext(options?.root ? undefined : trace.getSpanContext(ctx)));
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    ctx: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    optionsOrFn: SpanOptions | F,
    ctxOrFn?: Context | F,
    lastFn?: F,
  ): ReturnType<F> {
    const options = typeof optionsOrFn === "function" ? undefined : optionsOrFn;
    const ctx = typeof ctxOrFn === "object" ? ctxOrFn : context.active();
    const fn = (lastFn ?? (typeof ctxOrFn === "function" ? ctxOrFn : optionsOrFn)) as (span: Span) => ReturnType<F>;
    const span = this.startSpan(name, options, ctx);
    return context.with(trace.setSpan(ctx, span), fn, undefined, span);
  }
}

/**
 * The provider `setupTracing` registers when spans go nowhere. It behaves as the SDK's
 * NodeTracerProvider would with no span processor and a parent-based, always-off sampler, minus
 * the recording nobody could read: every span is non-recording, a child of the active span's
 * trace (keeping its sampled flag for downstream services) or the root of a new unsampled trace,
 * with fresh ids for logs and propagation. Built on `@opentelemetry/api` alone, so a service that
 * exports no traces never loads the SDK (~40 ms and ~4 MB at start-up).
 */
export class QuietTracerProvider implements TracerProvider {
  readonly #tracer = new QuietTracer();

  getTracer(): Tracer {
    return this.#tracer;
  }

  /** Nothing is buffered. */
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to release. */
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
