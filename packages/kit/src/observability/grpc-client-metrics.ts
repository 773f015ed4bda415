import { performance } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import type { Registry } from "prom-client";
import { isServiceError } from "../errors.js";
import type { ClientInterceptor } from "../interceptor.js";
import { codeLabel, countEach, createGrpcMetricFamilies, methodLabels } from "./internal/grpc-metric-families.js";

/**
 * Creates a client interceptor recording the go-grpc-prometheus client metrics on `registry`:
 *
 * - `grpc_client_started_total{grpc_type,grpc_service,grpc_method}`
 * - `grpc_client_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}` (status name)
 * - `grpc_client_msg_received_total` / `grpc_client_msg_sent_total{grpc_type,grpc_service,grpc_method}`
 * - `grpc_client_handling_seconds{grpc_type,grpc_service,grpc_method}` histogram, from the
 *   start of the call to its status
 *
 * Pass it in `createClient({ interceptors })`, after the tracing interceptor.
 */
export function createGrpcClientMetricsInterceptor(registry: Registry): ClientInterceptor {
  const metrics = createGrpcMetricFamilies(registry, "client", {
    started: "Total number of RPCs started on the client.",
    handled: "Total number of RPCs completed by the client, regardless of success or failure.",
    received: "Total number of RPC stream messages received by the client.",
    sent: "Total number of gRPC stream messages sent by the client.",
    seconds: "Histogram of response latency (seconds) of the gRPC until it is finished by the application.",
  });
  return (next) => async (call) => {
    const labels = methodLabels(call.method);
    const started = performance.now();
    metrics.started.inc(labels);
    let forwarded = call;
    const { requests, receive } = call;
    if (requests === undefined) metrics.sent.inc(labels);
    else forwarded = { ...forwarded, requests: countEach(requests, () => metrics.sent.inc(labels)) };
    if (receive !== undefined) {
      forwarded = {
        ...forwarded,
        receive: (message) => {
          metrics.received.inc(labels);
          return receive(message);
        },
      };
    }
    let code: number = status.OK;
    try {
      const response = await next(forwarded);
      if (receive === undefined) metrics.received.inc(labels);
      return response;
    } catch (error) {
      // Not a status: the request stream threw, and the kit cancelled the call.
      code = isServiceError(error) ? error.code : status.CANCELLED;
      throw error;
    } finally {
      metrics.seconds.observe(labels, (performance.now() - started) / 1000);
      metrics.handled.inc({ ...labels, grpc_code: codeLabel(code) });
    }
  };
}
