import { performance } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import type { Registry } from "prom-client";
import { GrpcError } from "../errors.js";
import { callNext, type Next, type ServerCall, type ServerInterceptor } from "../interceptor.js";
import { createGrpcMethodMetrics, type GrpcMethodStats } from "./grpc-method-metrics.js";

export { GRPC_HANDLING_SECONDS_BUCKETS } from "./grpc-method-metrics.js";

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
 *
 * A call only adds to plain per-method numbers; prom-client gets the totals when the registry
 * is read (see `grpc-method-metrics.ts`).
 */
export function createGrpcServerMetricsInterceptor(registry: Registry): ServerInterceptor {
  const metrics = createGrpcMethodMetrics(registry, "server", {
    started: "Total number of RPCs started on the server.",
    handled: "Total number of RPCs completed on the server, regardless of success or failure.",
    received: "Total number of RPC stream messages received on the server.",
    sent: "Total number of gRPC stream messages sent by the server.",
    seconds: "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
  });
  const byPath = new Map<string, GrpcMethodStats>();
  const bind = (call: ServerCall): GrpcMethodStats => {
    const { kind, service, name, path } = call.method;
    const stats = metrics.stats(kind, service, name);
    byPath.set(path, stats);
    return stats;
  };
  const finish = (stats: GrpcMethodStats, code: number, startedAt: number): void => {
    metrics.observe(stats, (performance.now() - startedAt) / 1000);
    stats.handled[code] = (stats.handled[code] ?? 0) + 1;
  };

  return (next) => (call) => {
    const stats = byPath.get(call.method.path) ?? bind(call);
    const startedAt = performance.now();
    stats.started++;
    // abortReason, not signal: reading the signal would create an AbortController for every call.
    const callContext = call.context;
    if (call.requests === undefined && call.send === undefined) {
      // Unary: one message each way. One `then` on the rest of the chain, no async frame (an
      // async function costs a promise and a resumption per call, each seen by async hooks).
      stats.received++;
      return callNext(next, call).then(
        (response) => {
          stats.sent++;
          finish(stats, callContext.abortReason?.code ?? status.OK, startedAt);
          return response;
        },
        (error: unknown) => {
          finish(stats, (callContext.abortReason ?? GrpcError.from(error)).code, startedAt);
          throw error;
        },
      );
    }
    return streamingCall(next, call, stats, startedAt, finish);
  };
}

/** The streaming kinds: messages are counted as they pass. */
async function streamingCall(
  next: Next,
  call: ServerCall,
  stats: GrpcMethodStats,
  startedAt: number,
  finish: (stats: GrpcMethodStats, code: number, startedAt: number) => void,
): Promise<unknown> {
  let forwarded = call;
  if (call.requests === undefined) stats.received++;
  else forwarded = { ...forwarded, requests: countMessages(call.requests, stats) };
  const send = call.send;
  if (send !== undefined) {
    forwarded = {
      ...forwarded,
      send: async (message) => {
        await send(message);
        stats.sent++;
      },
    };
  }
  const callContext = call.context;
  try {
    const result = await next(forwarded);
    if (send === undefined) stats.sent++;
    finish(stats, callContext.abortReason?.code ?? status.OK, startedAt);
    return result;
  } catch (error) {
    finish(stats, (callContext.abortReason ?? GrpcError.from(error)).code, startedAt);
    throw error;
  }
}

async function* countMessages(source: AsyncIterable<unknown>, stats: GrpcMethodStats): AsyncIterable<unknown> {
  for await (const message of source) {
    stats.received++;
    yield message;
  }
}
