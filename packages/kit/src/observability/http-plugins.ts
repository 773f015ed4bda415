/**
 * The Fastify side of observability: HTTP metrics and tracing plugins. Import from
 * `@obfy/kit/http`; a gRPC-only service never loads them.
 * @packageDocumentation
 */
export {
  createHttpMetricsPlugin,
  HTTP_SERVER_DURATION_BUCKETS,
  httpMethodLabel,
  httpRouteLabel,
  UNMATCHED_ROUTE,
} from "./http-metrics-plugin.js";
export { createHttpTracingPlugin, type HttpTracingPluginOptions } from "./http-tracing-plugin.js";
