import { performance } from "node:perf_hooks";
import { InterceptingCall, type Interceptor } from "@grpc/grpc-js";
import { type Counter, Histogram, type Registry } from "prom-client";
import { GRPC_HANDLING_SECONDS_BUCKETS } from "./grpc-server-metrics.js";
import { grpcType, splitMethodPath, statusName } from "./grpc-status-names.js";
import { counter } from "./prom-helpers.js";

type MethodLabels = "grpc_type" | "grpc_service" | "grpc_method";

interface BoundMethod {
  readonly labels: readonly [string, string, string];
  readonly started: Counter.Internal;
  readonly received: Counter.Internal;
  readonly sent: Counter.Internal;
  readonly seconds: Histogram.Internal<MethodLabels>;
  readonly handled: (Counter.Internal | undefined)[];
}

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
  const labelNames: MethodLabels[] = ["grpc_type", "grpc_service", "grpc_method"];
  const started = counter(
    registry,
    "grpc_client_started_total",
    "Total number of RPCs started on the client.",
    labelNames,
  );
  const handled = counter(
    registry,
    "grpc_client_handled_total",
    "Total number of RPCs completed by the client, regardless of success or failure.",
    [...labelNames, "grpc_code"],
  );
  const received = counter(
    registry,
    "grpc_client_msg_received_total",
    "Total number of RPC stream messages received by the client.",
    labelNames,
  );
  const sent = counter(
    registry,
    "grpc_client_msg_sent_total",
    "Total number of gRPC stream messages sent by the client.",
    labelNames,
  );
  const seconds = new Histogram({
    name: "grpc_client_handling_seconds",
    help: "Histogram of response latency (seconds) of the gRPC until it is finished by the application.",
    labelNames,
    buckets: [...GRPC_HANDLING_SECONDS_BUCKETS],
    registers: [registry],
  });

  const bound = new Map<string, BoundMethod>();
  const bind = (path: string, requestStream: boolean, responseStream: boolean): BoundMethod => {
    const { service, method } = splitMethodPath(path);
    const labels = [grpcType(requestStream, responseStream), service, method] as const;
    const result: BoundMethod = {
      labels,
      started: started.labels(...labels),
      received: received.labels(...labels),
      sent: sent.labels(...labels),
      seconds: seconds.labels(...labels),
      handled: [],
    };
    bound.set(path, result);
    return result;
  };

  return (options, nextCall) => {
    const definition = options.method_definition;
    const method =
      bound.get(definition.path) ?? bind(definition.path, definition.requestStream, definition.responseStream);
    const startedAt = performance.now();
    method.started.inc();
    return new InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        next(metadata, {
          onReceiveMessage(message, nextMessage) {
            // grpc-js reports a unary call that ended without a response as a null message.
            if (message !== null && message !== undefined) method.received.inc();
            nextMessage(message);
          },
          onReceiveStatus(status, nextStatus) {
            method.seconds.observe((performance.now() - startedAt) / 1000);
            let child = method.handled[status.code];
            if (child === undefined) {
              child = handled.labels(...method.labels, statusName(status.code));
              method.handled[status.code] = child;
            }
            child.inc();
            nextStatus(status);
          },
        });
      },
      sendMessage(message, next) {
        method.sent.inc();
        next(message);
      },
    });
  };
}
