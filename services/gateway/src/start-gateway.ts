// Reads the configuration and starts the gateway: the app on HOST:PORT, its gRPC clients of the
// store's services, and the admin server (METRICS_PORT, default 9474) with /metrics.
import { readFileSync } from "node:fs";
import { httpOrigin, type Logger } from "@obfy/kit/core";
import {
  createMetrics,
  type Metrics,
  type MetricsServer,
  readMetricsConfig,
  startMetricsServer,
} from "@obfy/kit/observability";
import { createClientSecurity } from "@obfy/kit/security";
import { createGateway, type Gateway } from "./app.js";
import { createAuthenticator } from "./auth.js";
import { type Backends, createBackends } from "./backends.js";
import { readGatewayConfig } from "./config.js";
import { loadApiDescriptors } from "./descriptors.js";

/** `METRICS_PORT` of the gateway when unset. */
export const DEFAULT_GATEWAY_METRICS_PORT = 9474;

/** Where the build writes the OpenAPI document (scripts/generate-openapi.ts); the same from src/ and dist/. */
export const OPENAPI_FILE = new URL("../generated/openapi.json", import.meta.url);

/** Options of {@link startGateway}. */
export interface StartGatewayOptions {
  readonly logger: Logger;
  /** Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  readonly metrics?: Metrics;
  /** The OpenAPI document; default the one the build generated. */
  readonly openApi?: Record<string, unknown>;
}

/** A running gateway. */
export interface RunningGateway {
  readonly app: Gateway;
  readonly url: string;
  readonly adminUrl: string | undefined;
  readonly backends: Backends;
  readonly logger: Logger;
  /** Stops the app (draining requests), the clients and the admin server. */
  close(): Promise<void>;
  /** What `runUntilSignalled` calls. */
  shutdown(): Promise<void>;
}

function readOpenApi(): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(OPENAPI_FILE, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new Error(
      `Cannot read the OpenAPI document ${OPENAPI_FILE.pathname} (${(error as Error).message}): run "npm run build -w @obfy/gateway"`,
    );
  }
}

/** Starts the gateway; bad configuration rejects with a message naming the variable. */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { logger } = options;
  const env = options.env ?? process.env;
  const config = readGatewayConfig(env);
  const metricsConfig = readMetricsConfig(env, DEFAULT_GATEWAY_METRICS_PORT);
  const openApi = options.openApi ?? readOpenApi();
  const descriptors = loadApiDescriptors();
  const authenticator = await createAuthenticator(env);
  const metrics = options.metrics ?? createMetrics();
  const { credentials } = createClientSecurity(env, { log: logger.child({ component: "grpc-client" }) });
  const backends = createBackends({
    routes: descriptors.routes,
    env,
    logger: logger.child({ component: "grpc-client" }),
    credentials,
    interceptors: [metrics.grpcClientInterceptor],
  });
  let metricsServer: MetricsServer | undefined;
  try {
    if (metricsConfig.port !== undefined) {
      metricsServer = await startMetricsServer({
        host: metricsConfig.host,
        port: metricsConfig.port,
        registry: metrics.registry,
      });
    }
    const app = await createGateway({ config, descriptors, backends, authenticator, openApi, logger, metrics });
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const url = httpOrigin(config.host, typeof address === "object" && address !== null ? address.port : config.port);
    const adminUrl = metricsServer?.url;
    logger.info({ url, backends: backends.targets, metrics: adminUrl ?? "off" }, "Gateway ready");
    const server = metricsServer;
    const close = async () => {
      await app.close();
      backends.close();
      await server?.close();
    };
    return {
      app,
      url,
      adminUrl,
      backends,
      logger,
      close,
      shutdown() {
        const timer = setTimeout(() => app.server.closeAllConnections(), 10_000);
        return close().finally(() => clearTimeout(timer));
      },
    };
  } catch (error) {
    backends.close();
    await metricsServer?.close();
    throw error;
  }
}
