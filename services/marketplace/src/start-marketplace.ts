import { envBool, envInt, envString, httpOrigin, type Logger } from "@obfy/kit/core";
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
import { DEFAULT_CALL_TIMEOUT_MS } from "./calls.js";
import { readSecurityConfig } from "./security/index.js";
import { createStore, STORE_SERVICES, type Store, type StoreServiceName, storeAddress } from "./store.js";

/** `METRICS_PORT` of the Marketplace when unset (Recommendations uses 9464). */
export const DEFAULT_MARKETPLACE_METRICS_PORT = 9465;

/** Where Recommendations serves its metrics when `RECOMMENDATIONS_METRICS_URL` is unset. */
export const DEFAULT_RECOMMENDATIONS_METRICS_PORT = 9464;

/** Each store service's admin (metrics) port, for the dashboard (docs/architecture.md). */
const METRICS_PORTS: Readonly<Record<StoreServiceName, number>> = {
  recommendations: DEFAULT_RECOMMENDATIONS_METRICS_PORT,
  catalog: 9466,
  inventory: 9467,
  accounts: 9468,
  reviews: 9469,
  cart: 9470,
  orders: 9471,
  payments: 9472,
  notifications: 9473,
  webhooks: 9475,
};

/** The host part of a gRPC target (`dns:///catalog:50052` → `catalog`). */
function hostOf(target: string): string {
  const address = target.replace(/^[a-z0-9+]+:(\/\/\/)?/i, "");
  const bracketed = /^\[([^\]]+)\]/.exec(address);
  if (bracketed?.[1] !== undefined) return `[${bracketed[1]}]`;
  const colon = address.lastIndexOf(":");
  return colon === -1 ? address : address.slice(0, colon);
}

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
  /** The gRPC clients of the store services. */
  readonly store: Store;
  readonly metrics: Metrics;
  readonly dashboard: Dashboard | undefined;
  /** `SHUTDOWN_GRACE_SECONDS` in ms: how long in-flight requests may run after a signal. */
  readonly graceMs: number;
  /** The process logger, where `runUntilSignalled` reports the shutdown. */
  readonly logger: Logger;
  /** Stops the app (draining in-flight requests), the gRPC channels, the dashboard, the admin server and tracing. */
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
 * Reads the configuration, builds and starts the Marketplace: the shop (security headers, rate
 * limits, CSRF-protected forms, HTTP tracing and metrics) on `HOST:PORT`, its gRPC clients of
 * every store service (`<NAME>_ADDRESS`; TLS from `TLS_*`, tracing and metrics interceptors),
 * and the admin server on `METRICS_HOST:METRICS_PORT` with `/metrics` and the operators'
 * `/dashboard`, which watches this process and every store service (`<NAME>_METRICS_URL`).
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
  const callTimeoutMs = envInt(env, "CALL_TIMEOUT_MS", DEFAULT_CALL_TIMEOUT_MS, { min: 1, max: 60_000 });
  const logRequests = envBool(env, "LOG_REQUESTS", false);
  const security = readSecurityConfig(env);
  const metricsConfig = readMetricsConfig(env, DEFAULT_MARKETPLACE_METRICS_PORT);
  const dashboardTargets = (Object.keys(STORE_SERVICES) as StoreServiceName[]).map((name) => {
    const variable = `${name.toUpperCase()}_METRICS_URL`;
    const given = env[variable]?.trim();
    const metricsUrl = metricsUrlFor(
      variable,
      given || `http://${hostOf(storeAddress(env, name))}:${METRICS_PORTS[name]}/metrics`,
    );
    return { name, metricsUrl, kind: "grpc" as const };
  });
  const clientLog = logger.child({ component: "store-clients" });
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
    const store = createStore({
      env,
      logger: clientLog,
      credentials,
      interceptors: [
        createGrpcClientTracingInterceptor({ tracerProvider: tracing.provider }),
        metrics.grpcClientInterceptor,
      ],
    });
    stops.push(() => store.close());

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

    const dashboardUrl =
      env.DASHBOARD_URL?.trim() || (metricsServer === undefined ? undefined : `${metricsServer.url}/dashboard`);
    const app = await createMarketplace({
      store,
      logger,
      callTimeoutMs,
      ...(dashboardUrl === undefined ? {} : { dashboardUrl }),
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
          ...dashboardTargets,
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
        services: store.targets,
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
      store,
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
