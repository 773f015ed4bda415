export {
  type CreateDashboardOptions,
  createDashboard,
  type Dashboard,
  type DashboardSummary,
  type DashboardTarget,
  type TargetSummary,
} from "./dashboard/create-dashboard.js";
export { type ChartPoint, histogramQuantile, type SeriesKind, type SeriesStats } from "./dashboard/dashboard-model.js";
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
export {
  createHttpMetricsPlugin,
  HTTP_SERVER_DURATION_BUCKETS,
  httpMethodLabel,
  httpRouteLabel,
  UNMATCHED_ROUTE,
} from "./http-metrics-plugin.js";
export { createHttpTracingPlugin, type HttpTracingPluginOptions } from "./http-tracing-plugin.js";
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
