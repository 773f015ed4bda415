import { InterceptingCall, type Interceptor, status } from "@grpc/grpc-js";
import {
  type Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { GrpcError } from "../errors.js";
import type { ServerInterceptor } from "../interceptor.js";
import { splitMethodPath } from "./grpc-status-names.js";
import { metadataGetter, metadataSetter } from "./otel-carriers.js";
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
 */
export function createGrpcServerTracingInterceptor(options: GrpcTracingOptions = {}): ServerInterceptor {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(KIT_TRACER_NAME);
  const attributesByPath = new Map<string, Attributes>();
  return (next) => (call) => {
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
    const signal = call.context.signal;
    return context.with(trace.setSpan(parent, span), async () => {
      try {
        const result = await next(call);
        end(signal.aborted ? GrpcError.from(signal.reason).code : status.OK);
        return result;
      } catch (error) {
        end(GrpcError.from(signal.aborted ? signal.reason : error).code, error);
        throw error;
      }
    });
  };
}

/**
 * Creates a grpc-js client interceptor that starts a CLIENT span for each call (a child of the
 * active span, e.g. the server span of the call being handled or the HTTP request's span) and
 * injects its `traceparent` into the outgoing metadata. Any status but OK marks the span as an
 * error. Pass it first in `createClient({ interceptors })`.
 */
export function createGrpcClientTracingInterceptor(options: GrpcTracingOptions = {}): Interceptor {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(KIT_TRACER_NAME);
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
