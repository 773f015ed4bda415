import { envString, joinHostPort, type Logger, readServerConfig } from "@obfy/kit/core";
import {
  createGrpcServerTracingInterceptor,
  createMetrics,
  type Metrics,
  type MetricsServer,
  readMetricsConfig,
  setupTracing,
  startMetricsServer,
  type Tracing,
} from "@obfy/kit/observability";
import { createServerSecurity, type ProbeServer, type ServerSecurity, startProbeServer } from "@obfy/kit/security";
import type { KitServer } from "@obfy/kit/server";
import { createRecommendationsServer } from "./app.js";
import { DEFAULT_BOOKS_FILE, loadCatalog } from "./catalog.js";
import type { RandomSource } from "./recommend.js";

/** The gRPC port of the tutorial, and ours. */
export const DEFAULT_PORT = 50051;
/** The metrics (admin) port of Recommendations; the Marketplace uses 9465. */
export const DEFAULT_METRICS_PORT = 9464;
/** The message of the one startup line; tests and operators look for it. */
export const STARTED_MESSAGE = "Recommendations started";

/** Options for {@link startRecommendations}. */
export interface StartRecommendationsOptions {
  /** The process logger. Give it `mixin: traceLogMixin` so call lines carry trace ids. */
  readonly logger: Logger;
  /** Where every setting is read from (see the README's table); default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** The service's metrics; a new registry when omitted. Share it with `installProcessErrorHandlers`. */
  readonly metrics?: Metrics;
  /** Random source for the choice of books; `Math.random` by default. */
  readonly random?: RandomSource;
}

/** A started Recommendations service: the gRPC server plus its admin servers and telemetry. */
export interface RunningRecommendations {
  readonly server: KitServer;
  /** The bound gRPC port (useful with `PORT=0`). */
  readonly port: number;
  readonly metrics: Metrics;
  /** The `/metrics` server, unless `METRICS_PORT=off`. */
  readonly metricsServer: MetricsServer | undefined;
  /** The plaintext health-only server on `HEALTH_PORT`, when set. */
  readonly probeServer: ProbeServer | undefined;
  readonly tracing: Tracing;
  readonly security: ServerSecurity;
  /**
   * Drains the gRPC server (idempotent: after `runUntilSignalled` it just waits for that drain),
   * then closes the probe server, then the metrics server, then flushes and shuts down tracing.
   * Both admin servers outlive the drain on purpose: probes see NOT_SERVING and Prometheus can
   * scrape the last numbers while calls finish.
   */
  stop(): Promise<void>;
}

/** Runs `bind`; a failure names the variable to change, e.g. when the port is already taken. */
async function bindOrExplain<T>(variable: string, host: string, port: number, bind: () => Promise<T>): Promise<T> {
  try {
    return await bind();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${variable}: cannot listen on ${joinHostPort(host, port)}: ${reason}`, { cause: error });
  }
}

/**
 * Reads the configuration from `env`, builds the Recommendations server with the kit's
 * security (TLS/mTLS, authorization, bearer tokens when `AUTH_JWKS_URL` is set) and
 * observability (tracing, then metrics, as outer interceptors), starts the metrics server and,
 * with `HEALTH_PORT`, the plaintext probe server, then listens for gRPC, and logs one line saying
 * where everything is. Every configuration error is thrown before anything binds; a bind failure
 * names the variable (`METRICS_PORT: cannot listen on 0.0.0.0:9464: … EADDRINUSE …`), after
 * closing again what had already started.
 */
export async function startRecommendations(options: StartRecommendationsOptions): Promise<RunningRecommendations> {
  const env = options.env ?? process.env;
  const { logger } = options;
  const config = readServerConfig(env, { port: DEFAULT_PORT });
  const metricsConfig = readMetricsConfig(env, DEFAULT_METRICS_PORT);
  const security = createServerSecurity(env, { log: logger.child({ component: "tls" }) });
  const catalog = loadCatalog(envString(env, "BOOKS_FILE", DEFAULT_BOOKS_FILE));
  const metrics = options.metrics ?? createMetrics();
  const tracing = setupTracing({ serviceName: env.OTEL_SERVICE_NAME ?? "recommendations", env });

  const server = createRecommendationsServer({
    catalog,
    logger,
    config,
    ...(options.random === undefined ? {} : { random: options.random }),
    credentials: security.credentials,
    // Tracing first so the metrics interceptor, the call log and the handler run inside the span.
    outerInterceptors: [
      createGrpcServerTracingInterceptor({ tracerProvider: tracing.provider }),
      metrics.grpcServerInterceptor,
    ],
    interceptors: security.interceptors,
  });

  let metricsServer: MetricsServer | undefined;
  let probeServer: ProbeServer | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await server.shutdown();
      await probeServer?.close();
      await metricsServer?.close();
      await tracing.shutdown();
    })();
    return stopping;
  };

  try {
    // The admin ports bind first: a port already taken there stops the start before the gRPC
    // server ever reports SERVING, and a probe finds NOT_SERVING rather than a refused connection.
    const { host: metricsHost, port: metricsPort } = metricsConfig;
    if (metricsPort !== undefined) {
      metricsServer = await bindOrExplain("METRICS_PORT", metricsHost, metricsPort, () =>
        startMetricsServer({ host: metricsHost, port: metricsPort, registry: metrics.registry }),
      );
    }
    if (security.healthPort !== undefined) {
      // The kubelet's gRPC probe cannot do TLS; with TLS off the main port would do, but a probe
      // pointed at HEALTH_PORT must find it whatever the TLS mode, so it starts whenever it is set.
      const health = server.health;
      const healthPort = security.healthPort;
      probeServer = await bindOrExplain("HEALTH_PORT", config.host, healthPort, () =>
        startProbeServer({ host: config.host, port: healthPort, health }),
      );
    }
    const { port } = await bindOrExplain("PORT", config.host, config.port, () => server.listen());
    const tlsMode = security.tls.mode;
    const metricsUrl = metricsServer === undefined ? undefined : `${metricsServer.url}/metrics`;
    logger.info(
      {
        address: joinHostPort(config.host, port),
        port,
        tls_mode: tlsMode,
        // Who may call what (mTLS), and whether bearer tokens are checked too.
        authz_identities: security.policy === undefined ? undefined : Object.keys(security.policy.allow),
        bearer_tokens: Boolean(env.AUTH_JWKS_URL?.trim()),
        metrics_url: metricsUrl ?? "off",
        metrics_port: metricsServer?.port,
        health_port: probeServer?.port,
        reflection: config.reflection,
        tracing_export: tracing.exporting,
      },
      `${STARTED_MESSAGE}: gRPC on ${joinHostPort(config.host, port)} (TLS ${tlsMode}), ` +
        `metrics ${metricsUrl ?? "off"}, health probe ${probeServer === undefined ? "off" : `port ${probeServer.port}`}, ` +
        `reflection ${config.reflection ? "on" : "off"}`,
    );
    return {
      server,
      port,
      metrics,
      metricsServer,
      probeServer,
      tracing,
      security,
      stop,
    };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}
