// The gRPC and process side of observability: metrics, tracing, the metrics server, process
// error handlers and the trace-id log mixin (`@obfy/kit/observability`). The Fastify plugins are
// in http-plugins.ts (`@obfy/kit/http`), the dashboard in dashboard/ (`@obfy/kit/dashboard`).
export { createGrpcClientMetricsInterceptor } from "./grpc-client-metrics.js";
export { createGrpcServerMetricsInterceptor } from "./grpc-server-metrics.js";
export {
  createGrpcClientTracingInterceptor,
  createGrpcServerTracingInterceptor,
  type GrpcTracingOptions,
} from "./grpc-tracing.js";
export { type CreateMetricsOptions, createMetrics, type Metrics } from "./metrics.js";
export {
  type AdminHttpHandler,
  type MetricsConfig,
  type MetricsServer,
  readMetricsConfig,
  type StartMetricsServerOptions,
  startMetricsServer,
} from "./metrics-server.js";
export {
  installProcessErrorHandlers,
  type ProcessErrorHandlerOptions,
  type UninstallProcessErrorHandlers,
} from "./process-error-handlers.js";
export { type PromExposition, type PromSample, parsePrometheusText, sumSamples } from "./prometheus-text.js";
export { type TraceLogFields, traceLogMixin } from "./trace-log-mixin.js";
export { type SetupTracingOptions, setupTracing, type Tracing } from "./tracing.js";
