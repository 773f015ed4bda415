import { performance } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import { type Counter, Histogram, type Registry } from "prom-client";
import { GrpcError } from "../errors.js";
import type { ServerCall, ServerInterceptor } from "../interceptor.js";
import { statusName } from "./grpc-status-names.js";
import { counter } from "./prom-helpers.js";

/** go-grpc-prometheus' default handling-time buckets (Prometheus `DefBuckets`), in seconds. */
export const GRPC_HANDLING_SECONDS_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

type MethodLabels = "grpc_type" | "grpc_service" | "grpc_method";

/** The per-method children, bound once so a call does no label hashing it can avoid. */
interface BoundMethod {
  readonly started: Counter.Internal;
  readonly received: Counter.Internal;
  readonly sent: Counter.Internal;
  readonly seconds: Histogram.Internal<MethodLabels>;
  /** handled_total children by status code, bound on first use. */
  readonly handled: (Counter.Internal | undefined)[];
}

/**
 * Creates a server interceptor recording the go-grpc-prometheus server metrics on `registry`:
 *
 * - `grpc_server_started_total{grpc_type,grpc_service,grpc_method}`
 * - `grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}`, `grpc_code` the
 *   status name (`OK`, `NOT_FOUND`, …)
 * - `grpc_server_msg_received_total` / `grpc_server_msg_sent_total{grpc_type,grpc_service,grpc_method}`
 * - `grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}` histogram
 *
 * The code recorded is the one the caller gets: the handler's error through
 * {@link GrpcError.from}, or the abort reason when the call was cancelled, timed out or ended
 * by a shutdown. Use it as an outer interceptor so it sees every call.
 */
export function createGrpcServerMetricsInterceptor(registry: Registry): ServerInterceptor {
  const labelNames: MethodLabels[] = ["grpc_type", "grpc_service", "grpc_method"];
  const started = counter(
    registry,
    "grpc_server_started_total",
    "Total number of RPCs started on the server.",
    labelNames,
  );
  const handled = counter(
    registry,
    "grpc_server_handled_total",
    "Total number of RPCs completed on the server, regardless of success or failure.",
    [...labelNames, "grpc_code"],
  );
  const received = counter(
    registry,
    "grpc_server_msg_received_total",
    "Total number of RPC stream messages received on the server.",
    labelNames,
  );
  const sent = counter(
    registry,
    "grpc_server_msg_sent_total",
    "Total number of gRPC stream messages sent by the server.",
    labelNames,
  );
  const seconds = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
    labelNames,
    buckets: [...GRPC_HANDLING_SECONDS_BUCKETS],
    registers: [registry],
  });

  const bound = new Map<string, BoundMethod>();
  const bind = (call: ServerCall): BoundMethod => {
    const { kind, service, name } = call.method;
    const method: BoundMethod = {
      started: started.labels(kind, service, name),
      received: received.labels(kind, service, name),
      sent: sent.labels(kind, service, name),
      seconds: seconds.labels(kind, service, name),
      handled: [],
    };
    bound.set(call.method.path, method);
    return method;
  };
  const finish = (call: ServerCall, method: BoundMethod, code: number, startedAt: number): void => {
    method.seconds.observe((performance.now() - startedAt) / 1000);
    let child = method.handled[code];
    if (child === undefined) {
      const { kind, service, name } = call.method;
      child = handled.labels(kind, service, name, statusName(code));
      method.handled[code] = child;
    }
    child.inc();
  };

  return (next) => async (call) => {
    const method = bound.get(call.method.path) ?? bind(call);
    const startedAt = performance.now();
    method.started.inc();
    let forwarded = call;
    if (call.requests === undefined) method.received.inc();
    else forwarded = { ...forwarded, requests: countMessages(call.requests, method.received) };
    const send = call.send;
    if (send !== undefined) {
      forwarded = {
        ...forwarded,
        send: async (message) => {
          await send(message);
          method.sent.inc();
        },
      };
    }
    const signal = call.context.signal;
    try {
      const result = await next(forwarded);
      if (send === undefined) method.sent.inc();
      finish(call, method, signal.aborted ? GrpcError.from(signal.reason).code : status.OK, startedAt);
      return result;
    } catch (error) {
      finish(call, method, GrpcError.from(signal.aborted ? signal.reason : error).code, startedAt);
      throw error;
    }
  };
}

async function* countMessages(source: AsyncIterable<unknown>, received: Counter.Internal): AsyncIterable<unknown> {
  for await (const message of source) {
    received.inc();
    yield message;
  }
}
