import { performance } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import type { Registry } from "prom-client";
import { GrpcError } from "../errors.js";
import type { ServerInterceptor } from "../interceptor.js";
import { codeLabel, countEach, createGrpcMetricFamilies, methodLabels } from "./internal/grpc-metric-families.js";

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
  const metrics = createGrpcMetricFamilies(registry, "server", {
    started: "Total number of RPCs started on the server.",
    handled: "Total number of RPCs completed on the server, regardless of success or failure.",
    received: "Total number of RPC stream messages received on the server.",
    sent: "Total number of gRPC stream messages sent by the server.",
    seconds: "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
  });
  return (next) => async (call) => {
    const labels = methodLabels(call.method);
    const started = performance.now();
    metrics.started.inc(labels);
    // A unary or server-streaming call has one request; a unary or client-streaming one, one response.
    let forwarded = call;
    const { requests, send } = call;
    if (requests === undefined) metrics.received.inc(labels);
    else forwarded = { ...forwarded, requests: countEach(requests, () => metrics.received.inc(labels)) };
    if (send !== undefined) {
      forwarded = {
        ...forwarded,
        send: async (message) => {
          await send(message);
          metrics.sent.inc(labels);
        },
      };
    }
    let code: number = status.OK;
    try {
      const response = await next(forwarded);
      if (send === undefined) metrics.sent.inc(labels);
      return response;
    } catch (error) {
      code = GrpcError.from(error).code;
      throw error;
    } finally {
      metrics.seconds.observe(labels, (performance.now() - started) / 1000);
      metrics.handled.inc({ ...labels, grpc_code: codeLabel(call.context.abortReason?.code ?? code) });
    }
  };
}
