import { envBool, envInt, envString, httpOrigin, joinHostPort, type Logger } from "@obfy/kit/core";
import { createDashboard, type Dashboard } from "@obfy/kit/dashboard";
import {
  createGrpcClientTracingInterceptor,
  createMetrics,
  type Metrics,
  type MetricsServer,
  readMetricsConfig,
  setupTracing,
  startMetricsServer,
} from "@obfy/kit/observability";
import { createClientSecurity } from "@obfy/kit/security";
import { createMarketplace, type Marketplace } from "./app.js";
import {
  createRecommendationsClient,
  DEFAULT_RECOMMENDATIONS_TIMEOUT_MS,
  type RecommendationsClient,
} from "./recommendations-client.js";
import { readSecurityConfig } from "./security/index.js";

/** `METRICS_PORT` of the Marketplace when unset (Recommendations uses 9464). */
export const DEFAULT_MARKETPLACE_METRICS_PORT = 9465;

/** Where Recommendations serves its metrics when `RECOMMENDATIONS_METRICS_URL` is unset. */
export const DEFAULT_RECOMMENDATIONS_METRICS_PORT = 9464;

/** Options of {@link startMarketplace}. */
export interface StartMarketplaceOptions {
  /** The process logger; give it `mixin: traceLogMixin` so lines written inside a request carry its trace id. */
  readonly logger: Logger;
  /** Where the configuration comes from; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** The service's metrics; default a new `createMetrics()`. `main.ts` passes the one its process error handlers count into. */
  readonly metrics?: Metrics;
}

/** A running Marketplace: the public web app plus its admin (metrics and dashboard) server. */
export interface RunningMarketplace {
  readonly app: Marketplace;
  /** The public origin, e.g. `http://127.0.0.1:5000` (`127.0.0.1` in place of a wildcard address). */
  readonly url: string;
  /** The admin server's origin (`/metrics`, `/dashboard`), or `undefined` with `METRICS_PORT=off`. */
  readonly adminUrl: string | undefined;
  readonly recommendations: RecommendationsClient;
  readonly metrics: Metrics;
  readonly dashboard: Dashboard | undefined;
  /** `SHUTDOWN_GRACE_SECONDS` in ms: how long in-flight requests may run after a signal. */
  readonly graceMs: number;
  /** The process logger, where `runUntilSignalled` reports the shutdown. */
  readonly logger: Logger;
  /** Stops the app (draining in-flight requests), the gRPC channel, the dashboard, the admin server and tracing. */
  close(): Promise<void>;
  /**
   * {@link close}, but connections still open after `graceMs` are cut so a stuck request cannot
   * hold the process; what `runUntilSignalled` calls on SIGTERM.
   */
  shutdown(): Promise<void>;
}

function metricsUrlFor(variable: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${variable} must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`${variable} must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return url.href;
}

/**
 * Reads the configuration, builds and starts the Marketplace: the web app (security headers,
 * rate limits, CSRF-protected preferences, HTTP tracing and metrics) on `HOST:PORT`, its gRPC
 * client of Recommendations (TLS from `TLS_*`, tracing and metrics interceptors), and the admin
 * server on `METRICS_HOST:METRICS_PORT` with `/metrics` and the operators' `/dashboard`, which
 * watches this process and Recommendations (`RECOMMENDATIONS_METRICS_URL`).
 *
 * Bad configuration rejects with a message naming the variable; whatever was started by then is
 * stopped again. `main.ts` adds signal handling and process error handlers; tests call this
 * with `PORT=0` and `METRICS_PORT=0`.
 */
export async function startMarketplace(options: StartMarketplaceOptions): Promise<RunningMarketplace> {
  const { logger } = options;
  const env = options.env ?? process.env;
  const host = envString(env, "HOST", "0.0.0.0");
  const port = envInt(env, "PORT", 5000, { min: 0, max: 65535 });
  const graceMs = envInt(env, "SHUTDOWN_GRACE_SECONDS", 30, { min: 0, max: 3600 }) * 1000;
  const recommendationsHost = envString(env, "RECOMMENDATIONS_HOST", "localhost");
  const recommendationsPort = envInt(env, "RECOMMENDATIONS_PORT", 50051, { min: 1, max: 65535 });
  const timeoutMs = envInt(env, "RECOMMENDATIONS_TIMEOUT_MS", DEFAULT_RECOMMENDATIONS_TIMEOUT_MS, {
    min: 1,
    max: 60_000,
  });
  const logRequests = envBool(env, "LOG_REQUESTS", false);
  const security = readSecurityConfig(env);
  const metricsConfig = readMetricsConfig(env, DEFAULT_MARKETPLACE_METRICS_PORT);
  const recommendationsMetricsUrl = metricsUrlFor(
    "RECOMMENDATIONS_METRICS_URL",
    env.RECOMMENDATIONS_METRICS_URL?.trim() ||
      `http://${joinHostPort(recommendationsHost, DEFAULT_RECOMMENDATIONS_METRICS_PORT)}/metrics`,
  );
  const clientLog = logger.child({ component: "recommendations-client" });
  const { credentials, tls } = createClientSecurity(env, { log: clientLog });

  const metrics = options.metrics ?? createMetrics();
  const tracing = setupTracing({ serviceName: "marketplace", env });
  // Filled in as things start, so a failure part-way stops exactly what is running.
  const stops: (() => Promise<void> | void)[] = [() => tracing.shutdown()];
  const stopAll = async (): Promise<void> => {
    // Reverse start order: the app first (it drains requests that still use the client), tracing
    // last (it flushes spans). One failing step does not keep the others from running.
    let failure: unknown;
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  };
  try {
    const recommendations = createRecommendationsClient({
      host: recommendationsHost,
      port: recommendationsPort,
      timeoutMs,
      logger: clientLog,
      credentials,
      interceptors: [
        createGrpcClientTracingInterceptor({ tracerProvider: tracing.provider }),
        metrics.grpcClientInterceptor,
      ],
    });
    stops.push(() => recommendations.close());

    let dashboard: Dashboard | undefined;
    let metricsServer: MetricsServer | undefined;
    if (metricsConfig.port !== undefined) {
      metricsServer = await startMetricsServer({
        host: metricsConfig.host,
        port: metricsConfig.port,
        registry: metrics.registry,
        // The dashboard needs the bound port (METRICS_PORT may be 0), so it is created later.
        handlers: [(request, response) => dashboard?.handler(request, response) ?? false],
      });
      const server = metricsServer;
      stops.push(() => server.close());
    }

    const app = await createMarketplace({
      recommendations,
      logger,
      logRequests,
      security,
      metrics,
      tracerProvider: tracing.provider,
    });
    stops.push(() => app.close());
    await app.listen({ host, port });
    if (metricsServer !== undefined) {
      // Created once the app serves, so its first scrapes (an HTTP round trip to each target and
      // parsing what comes back) are not part of the start-up; until then /dashboard is a 404.
      const created = createDashboard({
        targets: [
          { name: "marketplace", metricsUrl: `${metricsServer.url}/metrics`, kind: "http" },
          { name: "recommendations", metricsUrl: recommendationsMetricsUrl, kind: "grpc" },
        ],
      });
      dashboard = created;
      stops.push(() => created.close());
    }
    const address = app.server.address();
    const boundPort = typeof address === "object" && address !== null ? address.port : port;
    const url = httpOrigin(host, boundPort);
    const adminUrl = metricsServer?.url;
    logger.info(
      {
        url,
        recommendations: recommendations.target,
        tls: tls.mode,
        metrics: adminUrl === undefined ? "off" : `${adminUrl}/metrics`,
        dashboard: adminUrl === undefined ? "off" : `${adminUrl}/dashboard`,
      },
      "Marketplace ready",
    );
    return {
      app,
      url,
      adminUrl,
      recommendations,
      metrics,
      dashboard,
      graceMs,
      logger,
      close: stopAll,
      shutdown() {
        const timer = setTimeout(() => {
          logger.warn({ grace_ms: graceMs }, "Shutdown grace period over: closing remaining connections");
          app.server.closeAllConnections();
        }, graceMs);
        return stopAll().finally(() => clearTimeout(timer));
      },
    };
  } catch (error) {
    await stopAll().catch((stopError: unknown) => logger.warn({ err: stopError }, "cleanup after a failed start"));
    throw error;
  }
}
