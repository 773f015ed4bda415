import { status } from "@grpc/grpc-js";
import {
  type Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import type { MethodInfo } from "../context.js";
import { GrpcError, isServiceError } from "../errors.js";
import type { ClientInterceptor, ServerInterceptor } from "../interceptor.js";
import { metadataGetter, metadataSetter } from "./internal/otel-carriers.js";
import { isQuiet, quietChildContext } from "./internal/quiet-tracing.js";
import { KIT_TRACER_NAME } from "./tracing.js";

// RPC attributes are still "incubating" in @opentelemetry/semantic-conventions; OpenTelemetry
// advises copying incubating names rather than importing the unstable entry point.
const ATTR_RPC_SYSTEM = "rpc.system";
const ATTR_RPC_SERVICE = "rpc.service";
const ATTR_RPC_METHOD = "rpc.method";
const ATTR_RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code";

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

function rpcAttributes(method: MethodInfo): Attributes {
  return { [ATTR_RPC_SYSTEM]: "grpc", [ATTR_RPC_SERVICE]: method.service, [ATTR_RPC_METHOD]: method.name };
}

/** The span status of a call that ended with `code`: an error for the codes in `errorCodes`. */
function endSpan(span: Span, code: number, errorCodes: ReadonlySet<number> | undefined, error?: unknown): void {
  span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, code);
  if (code !== status.OK && (errorCodes === undefined || errorCodes.has(code))) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: status[code] });
    if (error instanceof GrpcError && error.cause instanceof Error) span.recordException(error.cause);
    else if (error instanceof Error && !(error instanceof GrpcError)) span.recordException(error);
  }
  span.end();
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
  if (isQuiet(provider)) return quietServerInterceptor;
  const tracer = provider.getTracer(KIT_TRACER_NAME);
  return (next) => async (call) => {
    const attributes = rpcAttributes(call.method);
    const parent = propagation.extract(ROOT_CONTEXT, call.context.metadata, metadataGetter);
    const span = tracer.startSpan(call.method.path.slice(1), { kind: SpanKind.SERVER, attributes }, parent);
    const callContext = call.context;
    try {
      const result = await context.with(trace.setSpan(parent, span), next, undefined, call);
      endSpan(span, callContext.abortReason?.code ?? status.OK, SERVER_ERROR_CODES);
      return result;
    } catch (error) {
      endSpan(span, (callContext.abortReason ?? GrpcError.from(error)).code, SERVER_ERROR_CODES, error);
      throw error;
    }
  };
}

// The quiet server path: nothing is recorded, but every call still runs in a trace context, so
// every log line carries trace_id and span_id and outgoing calls carry the trace. W3C Trace
// Context asks that unsampled traces be propagated too; a call without a traceparent starts a new
// unsampled trace.
const quietServerInterceptor: ServerInterceptor = (next) => async (call) => {
  const metadata = call.context.metadata;
  const parent =
    metadata.get("traceparent").length === 0
      ? ROOT_CONTEXT
      : propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
  return context.with(quietChildContext(parent, trace.getSpanContext(parent)), next, undefined, call);
};

/**
 * Creates a client interceptor that starts a CLIENT span for each call (a child of the active
 * span, e.g. the server span of the call being handled or the HTTP request's span) and injects
 * its `traceparent` into the outgoing metadata. Any status but OK marks the span as an error.
 * Pass it first in `createClient({ interceptors })`.
 *
 * With a provider that exports nothing, no span is built: the active trace context, when there
 * is one, is injected as it is, and a call outside any trace goes out untouched.
 */
export function createGrpcClientTracingInterceptor(options: GrpcTracingOptions = {}): ClientInterceptor {
  const provider = options.tracerProvider ?? trace.getTracerProvider();
  if (isQuiet(provider)) return quietClientInterceptor;
  const tracer = provider.getTracer(KIT_TRACER_NAME);
  return (next) => async (call) => {
    const attributes = rpcAttributes(call.method);
    const parent = context.active();
    const span = tracer.startSpan(call.method.path.slice(1), { kind: SpanKind.CLIENT, attributes }, parent);
    propagation.inject(trace.setSpan(parent, span), call.metadata, metadataSetter);
    try {
      const response = await next(call);
      endSpan(span, status.OK, undefined);
      return response;
    } catch (error) {
      endSpan(span, isServiceError(error) ? error.code : status.CANCELLED, undefined);
      throw error;
    }
  };
}

const quietClientInterceptor: ClientInterceptor = (next) => async (call) => {
  const active = context.active();
  if (trace.getSpanContext(active) !== undefined) propagation.inject(active, call.metadata, metadataSetter);
  return next(call);
};
