import type { FastifyPluginCallback } from "fastify";
import { Counter, collectDefaultMetrics, Registry } from "prom-client";
import type { ClientInterceptor, ServerInterceptor } from "../interceptor.js";
import { createGrpcClientMetricsInterceptor } from "./grpc-client-metrics.js";
import { createGrpcServerMetricsInterceptor } from "./grpc-server-metrics.js";
import { createHttpMetricsPlugin } from "./http-metrics-plugin.js";

/** Options for {@link createMetrics}. */
export interface CreateMetricsOptions {
  /**
   * Registry to record on. Default: a new one, so two services (or tests) in one process never
   * collide on prom-client's global registry.
   */
  registry?: Registry;
  /**
   * Prefix for the Node.js process metrics (`process_cpu_seconds_total`, `nodejs_eventloop_lag_*`,
   * `nodejs_gc_duration_seconds`, …). The gRPC and HTTP metric names are never prefixed: dashboards
   * and alerts written for go-grpc-prometheus work unchanged.
   */
  prefix?: string;
  /** Collect the Node.js process metrics (default true). */
  defaultMetrics?: boolean;
}

/**
 * One service's metrics. The gRPC and HTTP families are registered on first use, so a service
 * exposes only the ones it records.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Kit server interceptor for `grpc_server_*`; pass in `createServer({ outerInterceptors })`. */
  readonly grpcServerInterceptor: ServerInterceptor;
  /** Client interceptor for `grpc_client_*`; pass in `createClient({ interceptors })`. */
  readonly grpcClientInterceptor: ClientInterceptor;
  /** Fastify plugin for `http_server_request_duration_seconds`; register it before the routes. */
  readonly httpPlugin: FastifyPluginCallback;
  /** `process_unhandled_errors_total{kind}`: uncaught exceptions and unhandled rejections. */
  readonly unhandledErrors: Counter<"kind">;
}

/**
 * Creates a service's metrics: Node.js process metrics from prom-client's
 * `collectDefaultMetrics` (CPU, resident memory, heap, event-loop lag and its percentiles from
 * `monitorEventLoopDelay`, GC durations, handles) plus lazily created gRPC and HTTP families.
 * Serve them with {@link startMetricsServer}.
 */
export function createMetrics(options: CreateMetricsOptions = {}): Metrics {
  const registry = options.registry ?? new Registry();
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) });
  }
  let server: ServerInterceptor | undefined;
  let client: ClientInterceptor | undefined;
  let http: FastifyPluginCallback | undefined;
  let unhandled: Counter<"kind"> | undefined;
  return {
    registry,
    get grpcServerInterceptor() {
      server ??= createGrpcServerMetricsInterceptor(registry);
      return server;
    },
    get grpcClientInterceptor() {
      client ??= createGrpcClientMetricsInterceptor(registry);
      return client;
    },
    get httpPlugin() {
      http ??= createHttpMetricsPlugin(registry);
      return http;
    },
    get unhandledErrors() {
      unhandled ??= new Counter({
        name: "process_unhandled_errors_total",
        help: "Uncaught exceptions and unhandled promise rejections, by kind.",
        labelNames: ["kind"],
        registers: [registry],
      });
      return unhandled;
    },
  };
}
