import { performance } from "node:perf_hooks";
import { InterceptingCall, type Interceptor } from "@grpc/grpc-js";
import type { Registry } from "prom-client";
import { createGrpcMethodMetrics, type GrpcMethodStats } from "./grpc-method-metrics.js";
import { grpcType, splitMethodPath } from "./grpc-status-names.js";

/**
 * Creates a grpc-js client interceptor recording the go-grpc-prometheus client metrics on
 * `registry`:
 *
 * - `grpc_client_started_total{grpc_type,grpc_service,grpc_method}`
 * - `grpc_client_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}` (status name)
 * - `grpc_client_msg_received_total` / `grpc_client_msg_sent_total{grpc_type,grpc_service,grpc_method}`
 * - `grpc_client_handling_seconds{grpc_type,grpc_service,grpc_method}` histogram, from the
 *   start of the call to its status
 *
 * Pass it in `createClient({ interceptors })` (or any grpc-js client's `interceptors` option).
 */
export function createGrpcClientMetricsInterceptor(registry: Registry): Interceptor {
  const metrics = createGrpcMethodMetrics(registry, "client", {
    started: "Total number of RPCs started on the client.",
    handled: "Total number of RPCs completed by the client, regardless of success or failure.",
    received: "Total number of RPC stream messages received by the client.",
    sent: "Total number of gRPC stream messages sent by the client.",
    seconds: "Histogram of response latency (seconds) of the gRPC until it is finished by the application.",
  });
  const byPath = new Map<string, GrpcMethodStats>();
  const bind = (path: string, requestStream: boolean, responseStream: boolean): GrpcMethodStats => {
    const { service, method } = splitMethodPath(path);
    const stats = metrics.stats(grpcType(requestStream, responseStream), service, method);
    byPath.set(path, stats);
    return stats;
  };

  return (options, nextCall) => {
    const definition = options.method_definition;
    const stats =
      byPath.get(definition.path) ?? bind(definition.path, definition.requestStream, definition.responseStream);
    const startedAt = performance.now();
    stats.started++;
    return new InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        next(metadata, {
          onReceiveMessage(message, nextMessage) {
            // grpc-js reports a unary call that ended without a response as a null message.
            if (message !== null && message !== undefined) stats.received++;
            nextMessage(message);
          },
          onReceiveStatus(status, nextStatus) {
            metrics.observe(stats, (performance.now() - startedAt) / 1000);
            stats.handled[status.code] = (stats.handled[status.code] ?? 0) + 1;
            nextStatus(status);
          },
        });
      },
      sendMessage(message, next) {
        stats.sent++;
        next(message);
      },
    });
  };
}
