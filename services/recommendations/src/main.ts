// Entry point of the Recommendations deployable: create the logger, then start one process or
// WORKERS processes sharing PORT (node:cluster), each running until signalled. Everything else lives
// in startRecommendations (src/start-recommendations.ts) and createRecommendationsServer (src/app.ts),
// so tests build and start the very same service.
// Subpath imports: each loads only its part of the kit (see the kit's README, "Start-up").
import { readWorkers, runCluster } from "@obfy/kit/cluster";
import { createLogger, type Logger } from "@obfy/kit/core";
import { createMetrics, installProcessErrorHandlers, readMetricsConfig, traceLogMixin } from "@obfy/kit/observability";
import { runUntilSignalled } from "@obfy/kit/server";
import { DEFAULT_METRICS_PORT, startRecommendations } from "./start-recommendations.js";

/** Logs one clear line (no stack trace) and exits 1: for configuration, certificate, catalogue and bind errors. */
function fail(logger: Logger, error: unknown): never {
  logger.fatal(`Cannot start: ${(error as Error).message}`);
  process.exit(1);
}

let logger: Logger;
try {
  // traceLogMixin: every line written while handling a call carries trace_id, span_id, request_id.
  logger = createLogger({ name: "recommendations", mixin: traceLogMixin });
} catch (error) {
  console.error(`recommendations: cannot start: ${(error as Error).message}`);
  process.exit(1);
}

let workers: number;
let metricsConfig: ReturnType<typeof readMetricsConfig>;
try {
  workers = readWorkers(process.env);
  metricsConfig = readMetricsConfig(process.env, DEFAULT_METRICS_PORT);
} catch (error) {
  fail(logger, error);
}

await runCluster({
  workers,
  logger,
  // With several workers the primary serves their merged metrics on METRICS_PORT.
  ...(metricsConfig.port === undefined ? {} : { metrics: { host: metricsConfig.host, port: metricsConfig.port } }),
  async start({ clustered }) {
    const metrics = createMetrics();
    installProcessErrorHandlers(logger, metrics);
    // A worker must not bind METRICS_PORT itself: the primary answers for all of them.
    const env = clustered ? { ...process.env, METRICS_PORT: "off" } : process.env;
    try {
      const starting = startRecommendations({ env, logger, metrics });
      const server = starting.then((service) => service.server);
      server.catch(() => {}); // a failed start is reported below
      // runUntilSignalled drains the gRPC server first; stop() then closes the probe and metrics
      // servers and flushes traces. Installed before the start completes, so a signal while
      // starting stops the service once it is up. Not awaited: start must return once it serves.
      void runUntilSignalled(server, { logger, onShutdown: async () => (await starting).stop() });
      const service = await starting;
      return { port: service.port, registry: metrics.registry };
    } catch (error) {
      fail(logger, error);
    }
  },
});
