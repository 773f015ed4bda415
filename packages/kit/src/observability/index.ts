// The gRPC and process side of observability: metrics, tracing, the metrics server, process
// error handlers and the trace-id log mixin (`@obfy/kit/observability`). The Fastify plugins are
// in http-plugins.ts (`@obfy/kit/http`), the dashboard in dashboard/ (`@obfy/kit/dashboard`).
export { createGrpcClientMetricsInterceptor } from "./grpc-client-metrics.js";
export { createGrpcServerMetricsInterceptor, GRPC_HANDLING_SECONDS_BUCKETS } from "./grpc-server-metrics.js";
export { statusName } from "./grpc-status-names.js";
export {
  ATTR_RPC_GRPC_STATUS_CODE,
  ATTR_RPC_METHOD,
  ATTR_RPC_SERVICE,
  ATTR_RPC_SYSTEM,
  createGrpcClientTracingInterceptor,
  createGrpcServerTracingInterceptor,
  type GrpcTracingOptions,
} from "./grpc-tracing.js";
export * from "./metrics.js";
export * from "./metrics-server.js";
export * from "./process-error-handlers.js";
export {
  findSamples,
  type PromExposition,
  type PromSample,
  parsePrometheusText,
  sumSamples,
} from "./prometheus-text.js";
export * from "./trace-log-mixin.js";
export * from "./tracing.js";
