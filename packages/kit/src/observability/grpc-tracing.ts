import { InterceptingCall, type Interceptor, status } from "@grpc/grpc-js";
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { type CallContext, markContextCarrier, runWithContext } from "../context.js";
import { GrpcError } from "../errors.js";
import type { Next, ServerCall, ServerInterceptor } from "../interceptor.js";
import { splitMethodPath } from "./grpc-status-names.js";
import { metadataGetter, metadataSetter } from "./otel-carriers.js";
import { isQuiet, quietChildContext } from "./quiet-tracing.js";
import { KIT_TRACER_NAME } from "./tracing.js";

// RPC attributes are still "incubating" in @opentelemetry/semantic-conventions; OpenTelemetry
// advises copying incubating names rather than importing the unstable entry point.
/** `rpc.system` */
export const ATTR_RPC_SYSTEM = "rpc.system";
/** `rpc.service` */
export const ATTR_RPC_SERVICE = "rpc.service";
/** `rpc.method` */
export const ATTR_RPC_METHOD = "rpc.method";
/** `rpc.grpc.status_code` */
export const ATTR_RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code";

// Semconv: a server span is an error only for codes that mean the server failed.
const SERVER_ERROR_CODES = new Set<number>([
  status.UNKNOWN,
  status.DEADLINE_EXCEEDED,
  status.UNIMPLEMENTED,
  status.INTERNAL,
  status.UNAVAILABLE,
  status.DATA_LOSS,
]);

/** Options for the gRPC tracing interceptors. */
export interface GrpcTracingOptions {
  /** Where spans come from; default the global provider. Pass `setupTracing(...).provider`. */
  tracerProvider?: TracerProvider;
}

// The call's CallContext rides in the OpenTelemetry context the interceptor makes current, so
// `currentContext()` finds it there and the adapter need not enter the kit's own
// AsyncLocalStorage as well (see markContextCarrier).
const CALL_CONTEXT_KEY = createContextKey("obfy.kit.call-context");
const callContextLookup = (): CallContext | undefined =>
  context.active().getValue(CALL_CONTEXT_KEY) as CallContext | undefined;

/** `interceptor`, declared a carrier of the call context. */
function asCarrier(interceptor: ServerInterceptor): ServerInterceptor {
  markContextCarrier(interceptor, callContextLookup);
  return interceptor;
}

/**
 * Runs the rest of the chain, which `context.with(expected, …)` made current. When the global
 * context manager could not (none registered, or disabled by a tracing shutdown) the kit's own
 * AsyncLocalStorage carries the call context instead, so `currentContext()` never goes missing.
 */
function carryOn(next: Next, call: ServerCall, expected: Context): Promise<unknown> {
  return context.active() === expected ? next(call) : runWithContext(call.context, next, call);
}

function rpcAttributes(path: string): Attributes {
  const { service, method } = splitMethodPath(path);
  return { [ATTR_RPC_SYSTEM]: "grpc", [ATTR_RPC_SERVICE]: service, [ATTR_RPC_METHOD]: method };
}

/**
 * Creates a server interceptor that continues the caller's trace: it extracts `traceparent` /
 * `tracestate` from the request metadata (through the global propagator), starts a SERVER span
 * named after the method (`package.Service/Method`, with `rpc.system`, `rpc.service`,
 * `rpc.method` and `rpc.grpc.status_code`), and runs the rest of the chain inside the span's
 * context, so log lines carry its ids and outgoing calls become its children. Put it first in
 * `outerInterceptors`.
 *
 * With a provider that exports nothing (`setupTracing` without an exporter or OTLP endpoint) no
 * span is built: the call runs in a context continuing the caller's trace, sampled or not (a new
 * span id, same flags), or a new unsampled trace when it brought none, so its log lines and
 * outgoing calls still carry trace ids.
 */
export function createGrpcServerTracingInterceptor(options: GrpcTracingOptions = {}): ServerInterceptor {
  const provider = options.tracerProvider ?? trace.getTracerProvider();
  if (isQuiet(provider)) return asCarrier(quietServerInterceptor);
  const tracer = provider.getTracer(KIT_TRACER_NAME);
  const attributesByPath = new Map<string, Attributes>();
  return asCarrier((next) => (call) => {
    const path = call.method.path;
    let attributes = attributesByPath.get(path);
    if (attributes === undefined) {
      attributes = rpcAttributes(path);
      attributesByPath.set(path, attributes);
    }
    const parent = propagation.extract(ROOT_CONTEXT, call.context.metadata, metadataGetter);
    const span = tracer.startSpan(path.slice(1), { kind: SpanKind.SERVER, attributes }, parent);
    const end = (code: number, error?: unknown): void => {
      span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, code);
      if (SERVER_ERROR_CODES.has(code)) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: status[code] });
        if (error instanceof GrpcError && error.cause instanceof Error) span.recordException(error.cause);
        else if (error instanceof Error && !(error instanceof GrpcError)) span.recordException(error);
      }
      span.end();
    };
    // abortReason, not signal: reading the signal would create an AbortController for every call.
    const callContext = call.context;
    const active = trace.setSpan(parent, span).setValue(CALL_CONTEXT_KEY, callContext);
    return context.with(active, async () => {
      try {
        const result = await carryOn(next, call, active);
        end(callContext.abortReason?.code ?? status.OK);
        return result;
      } catch (error) {
        end((callContext.abortReason ?? GrpcError.from(error)).code, error);
        throw error;
      }
    });
  });
}

// The quiet server path: nothing is recorded, but every call still runs in a trace context, so
// every log line carries trace_id and span_id and outgoing calls carry the trace. W3C Trace
// Context asks that unsampled traces be propagated too; a call without a traceparent starts a new
// unsampled trace. It costs a header lookup, two random ids and a context switch (about 1 µs).
const quietServerInterceptor: ServerInterceptor = (next) => (call) => {
  const metadata = call.context.metadata;
  const parent =
    metadata.get("traceparent").length === 0
      ? ROOT_CONTEXT
      : propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
  const active = quietChildContext(parent, trace.getSpanContext(parent)).setValue(CALL_CONTEXT_KEY, call.context);
  return context.with(active, carryOn, undefined, next, call, active);
};

/**
 * Creates a grpc-js client interceptor that starts a CLIENT span for each call (a child of the
 * active span, e.g. the server span of the call being handled or the HTTP request's span) and
 * injects its `traceparent` into the outgoing metadata. Any status but OK marks the span as an
 * error. Pass it first in `createClient({ interceptors })`.
 *
 * With a provider that exports nothing, no span is built: the active trace context, when there
 * is one, is injected as it is, and a call outside any trace goes out untouched.
 */
export function createGrpcClientTracingInterceptor(options: GrpcTracingOptions = {}): Interceptor {
  const provider = options.tracerProvider ?? trace.getTracerProvider();
  if (isQuiet(provider)) return quietClientInterceptor;
  const tracer = provider.getTracer(KIT_TRACER_NAME);
  const attributesByPath = new Map<string, Attributes>();
  return (callOptions, nextCall) => {
    const path = callOptions.method_definition.path;
    let attributes = attributesByPath.get(path);
    if (attributes === undefined) {
      attributes = rpcAttributes(path);
      attributesByPath.set(path, attributes);
    }
    const parent = context.active();
    const span = tracer.startSpan(path.slice(1), { kind: SpanKind.CLIENT, attributes }, parent);
    return new InterceptingCall(nextCall(callOptions), {
      start(metadata, _listener, next) {
        propagation.inject(trace.setSpan(parent, span), metadata, metadataSetter);
        next(metadata, {
          onReceiveStatus(received, nextStatus) {
            span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, received.code);
            if (received.code !== status.OK) {
              span.setStatus({ code: SpanStatusCode.ERROR, message: status[received.code] });
            }
            span.end();
            nextStatus(received);
          },
        });
      },
    });
  };
}

const quietClientInterceptor: Interceptor = (callOptions, nextCall) => {
  const active = context.active();
  // grpc-js wants an InterceptingCall back; one without a requester only passes through.
  if (trace.getSpanContext(active) === undefined) return new InterceptingCall(nextCall(callOptions));
  return new InterceptingCall(nextCall(callOptions), {
    start(metadata, listener, next) {
      propagation.inject(active, metadata, metadataSetter);
      next(metadata, listener);
    },
  });
};
