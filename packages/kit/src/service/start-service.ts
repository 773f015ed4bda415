import type { ClientOptions } from "../client/client-options.js";
import { createClient, type ServiceClient } from "../client/create-client.js";
import { envString, readServerConfig } from "../config.js";
import { readDatabaseConfig } from "../db/config.js";
import { createDatabase, type Database } from "../db/create-database.js";
import type { MigrationSet } from "../db/migrations.js";
import { readEventBusConfig } from "../events/config.js";
import { createDeadLettersService } from "../events/dead-letters-service.js";
import { createEventBus, type EventBus } from "../events/event-bus.js";
import { eventsMigrations } from "../events/migrations.js";
import { joinHostPort } from "../host-port.js";
import type { ServerInterceptor } from "../interceptor.js";
import { createLogger, type Logger } from "../logger.js";
import {
  createGrpcClientTracingInterceptor,
  createGrpcServerTracingInterceptor,
} from "../observability/grpc-tracing.js";
import { createMetrics, type Metrics } from "../observability/metrics.js";
import {
  type AdminHttpHandler,
  type MetricsServer,
  readMetricsConfig,
  startMetricsServer,
} from "../observability/metrics-server.js";
import { traceLogMixin } from "../observability/trace-log-mixin.js";
import { setupTracing, type Tracing } from "../observability/tracing.js";
import { type ProbeServer, startProbeServer } from "../security/probe-server.js";
import { createClientSecurity, createServerSecurity } from "../security/security-from-env.js";
import { createServer, type KitServer } from "../server/create-server.js";
import type { KitService } from "../server/service.js";

/** A gRPC definition as ts-proto generates it (what {@link createClient} takes). */
type ClientDefinition = Parameters<typeof createClient>[0];

/** Where another store service is: `<NAME>_ADDRESS` (e.g. `CATALOG_ADDRESS`), with a default. */
export interface Peer {
  /** The service's name, e.g. `catalog`; its address is read from `CATALOG_ADDRESS`. */
  readonly name: string;
  /** Used when the variable is unset, e.g. `127.0.0.1:50052` (`npm start` always sets it). */
  readonly defaultAddress: string;
}

/** What {@link ServiceDefinition.build} gets: the service's ready infrastructure. */
export interface ServiceDeps<DB> {
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly tracing: Tracing;
  /** The service's own database, migrated (when the definition has `database`). */
  readonly database: Database<DB>;
  /** The event bus (when the definition has `events: true`); register handlers here, before returning. */
  readonly bus: EventBus<DB>;
  /**
   * Aborted when the service begins to stop, before the gRPC server drains: long-lived streams
   * (watches) end on it, so they do not hold the drain for the whole grace period.
   */
  readonly stopping: AbortSignal;
  /**
   * A client for another service, with the kit's defaults (deadlines, retries, round robin),
   * the process's TLS settings, tracing and metrics. Closed when the service stops.
   */
  client<const D extends ClientDefinition>(definition: D, peer: Peer, options?: ClientOptions<D>): ServiceClient<D>;
}

/** What {@link ServiceDefinition.build} returns. */
export interface ServiceParts {
  /** The gRPC services to serve. */
  readonly services: readonly KitService[];
  /** Application interceptors, innermost (after the kit's security and database interceptors). */
  readonly interceptors?: readonly ServerInterceptor[];
  /**
   * Work that runs beside the server (sweepers, caches warmed from events): started after the
   * bus and before listening, stopped after the server has drained, in reverse order.
   */
  readonly background?: readonly BackgroundTask[];
  /** Extra routes on the admin (metrics) port, e.g. a JWKS. */
  readonly adminHandlers?: readonly AdminHttpHandler[];
}

/** Work with a start and a stop. */
export interface BackgroundTask {
  readonly name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/** A store service: its name, ports, data and how to build it. */
export interface ServiceDefinition<DB> {
  /** e.g. `catalog`: the logger's and traces' name, the database's, the bus's source and queue. */
  readonly name: string;
  /** Default `PORT`. */
  readonly port: number;
  /** Default `METRICS_PORT`. */
  readonly metricsPort: number;
  /** The service's migrations; the database comes from `DATABASE_URL`. The events set is added first when `events` is on. */
  readonly database?: { readonly migrations: readonly MigrationSet[] };
  /** Use the event bus (`EVENT_BUS`, ...; needs `database` for the outbox). */
  readonly events?: boolean;
  /** Methods without a proto auth rule that anyone may call (the tutorial's unversioned API). */
  readonly anonymousMethods?: readonly string[];
  build(deps: ServiceDeps<DB>): ServiceParts | Promise<ServiceParts>;
}

/** A started service. */
export interface RunningService<DB> {
  readonly server: KitServer;
  /** The bound gRPC port. */
  readonly port: number;
  readonly metricsServer: MetricsServer | undefined;
  readonly database: Database<DB> | undefined;
  readonly bus: EventBus<DB> | undefined;
  readonly logger: Logger;
  /**
   * Stops in dependency order, once (later calls return the same promise): drain the gRPC server,
   * stop the background work, close the bus (no new deliveries; the outbox keeps what is unsent),
   * close clients and the database, then the admin servers and tracing.
   */
  stop(): Promise<void>;
}

/** Options for {@link startService}. */
export interface StartServiceOptions {
  /** Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Default: a logger named after the service with the trace mixin. */
  readonly logger?: Logger;
  /** Default: new metrics (also given to the process error handlers by {@link runService}). */
  readonly metrics?: Metrics;
}

function unavailable<T>(what: string, definition: string): T {
  return new Proxy({} as object, {
    get() {
      throw new Error(`${definition} has no ${what}: declare it in the service definition`);
    },
  }) as T;
}

/** Runs `bind`; a failure names the variable to change. */
async function bindOrExplain<T>(variable: string, host: string, port: number, bind: () => Promise<T>): Promise<T> {
  try {
    return await bind();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${variable}: cannot listen on ${joinHostPort(host, port)}: ${reason}`, { cause: error });
  }
}

/**
 * Starts a store service from its definition: reads every setting first (a bad one throws naming
 * the variable), then the admin port, tracing, the database (migrated under its lock), the event
 * bus, the service's own parts, and finally the gRPC port. Health turns SERVING once everything is
 * up and follows the database afterwards (NOT_SERVING while it is unreachable). Interceptors,
 * outermost first: tracing, metrics, the kit's logging and exception-to-status, security
 * (authorization, bearer tokens), database errors to statuses, then the service's own.
 */
export async function startService<DB>(
  definition: ServiceDefinition<DB>,
  options: StartServiceOptions = {},
): Promise<RunningService<DB>> {
  const env = options.env ?? process.env;
  const { name } = definition;
  const logger = options.logger ?? createLogger({ name, mixin: traceLogMixin, env });
  const config = readServerConfig(env, { port: definition.port });
  const metricsConfig = readMetricsConfig(env, definition.metricsPort);
  const security = createServerSecurity(env, {
    log: logger.child({ component: "tls" }),
    anonymousMethods: definition.anonymousMethods ?? [],
  });
  const clientSecurity = createClientSecurity(env, { log: logger.child({ component: "tls" }) });
  const databaseConfig = definition.database === undefined ? undefined : readDatabaseConfig(env, { name });
  if (definition.events && databaseConfig === undefined) {
    throw new Error(`${name}: events need a database (the outbox lives there)`);
  }
  const busConfig = definition.events ? readEventBusConfig(env) : undefined;
  const metrics = options.metrics ?? createMetrics();
  const tracing = setupTracing({ serviceName: name, env });

  const closers: (() => Promise<void>)[] = [];
  const clients: { close(): void }[] = [];
  let metricsServer: MetricsServer | undefined;
  let probeServer: ProbeServer | undefined;
  let database: Database<DB> | undefined;
  let bus: EventBus<DB> | undefined;
  let server: KitServer | undefined;
  let background: readonly BackgroundTask[] = [];
  let stopping: Promise<void> | undefined;
  const stoppingSignal = new AbortController();

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      stoppingSignal.abort();
      await server?.shutdown();
      for (const task of [...background].reverse()) {
        await Promise.resolve(task.stop()).catch((error: unknown) =>
          logger.warn({ err: error, task: task.name }, "Background task did not stop cleanly"),
        );
      }
      await bus?.close().catch((error: unknown) => logger.warn({ err: error }, "Event bus did not close cleanly"));
      for (const client of clients) client.close();
      await database?.close();
      await probeServer?.close();
      await metricsServer?.close();
      for (const close of closers) await close();
      await tracing.shutdown();
    })();
    return stopping;
  };

  try {
    const adminHandlers: AdminHttpHandler[] = [];
    const { host: metricsHost, port: metricsPort } = metricsConfig;
    if (metricsPort !== undefined) {
      // Bound first: a taken port stops the start before health ever says SERVING. The routes the
      // service adds (build() runs later) are looked up at request time.
      metricsServer = await bindOrExplain("METRICS_PORT", metricsHost, metricsPort, () =>
        startMetricsServer({
          host: metricsHost,
          port: metricsPort,
          registry: metrics.registry,
          handlers: [(request, response) => runHandlers(adminHandlers, request, response)],
        }),
      );
    }

    if (databaseConfig !== undefined) {
      const migrations = [...(definition.events ? [eventsMigrations] : []), ...(definition.database?.migrations ?? [])];
      database = createDatabase<DB>({ config: databaseConfig, logger, metrics, migrations });
      const report = await database.migrate();
      if (report.applied.length > 0) logger.info({ applied: report.applied }, "Database migrated");
    }
    if (busConfig !== undefined && database !== undefined) {
      bus = createEventBus<DB>({
        service: name,
        config: busConfig,
        db: database.kysely,
        listen: database.pool,
        logger,
        registry: metrics.registry,
        tracerProvider: tracing.provider,
      });
    }

    const clientInterceptors = [
      createGrpcClientTracingInterceptor({ tracerProvider: tracing.provider }),
      metrics.grpcClientInterceptor,
    ];
    const deps: ServiceDeps<DB> = {
      env,
      logger,
      metrics,
      tracing,
      database: database ?? unavailable("database", name),
      bus: bus ?? unavailable("event bus", name),
      stopping: stoppingSignal.signal,
      client(clientDefinition, peer, clientOptions = {}) {
        const variable = `${peer.name.toUpperCase().replaceAll("-", "_")}_ADDRESS`;
        const target = envString(env, variable, peer.defaultAddress);
        const client = createClient(clientDefinition, target, {
          credentials: clientSecurity.credentials,
          logger: logger.child({ component: "grpc-client", peer: peer.name }),
          ...clientOptions,
          interceptors: [...clientInterceptors, ...(clientOptions.interceptors ?? [])],
        });
        clients.push(client);
        return client;
      },
    };
    const parts = await definition.build(deps);
    adminHandlers.push(...(parts.adminHandlers ?? []));
    const services = [...parts.services];
    if (bus !== undefined && bus.queues().length > 0) {
      const ownBus = bus;
      services.push(createDeadLettersService({ deadLetters: ownBus.deadLetters, queues: () => ownBus.queues() }));
    }

    server = createServer({
      services,
      logger,
      config,
      credentials: security.credentials,
      // The service reports SERVING only once its dependencies are up (see below).
      readiness: "manual",
      onShutdown: () => stoppingSignal.abort(),
      // Tracing first so metrics, the call log and the handler run inside the span.
      outerInterceptors: [
        createGrpcServerTracingInterceptor({ tracerProvider: tracing.provider }),
        metrics.grpcServerInterceptor,
      ],
      interceptors: [
        ...security.interceptors,
        ...(database === undefined ? [] : [database.errorInterceptor]),
        ...(parts.interceptors ?? []),
      ],
    });

    await bus?.start();
    background = parts.background ?? [];
    for (const task of background) await task.start();

    if (security.healthPort !== undefined) {
      const health = server.health;
      const healthPort = security.healthPort;
      probeServer = await bindOrExplain("HEALTH_PORT", config.host, healthPort, () =>
        startProbeServer({ host: config.host, port: healthPort, health }),
      );
    }
    const running = server;
    const { port } = await bindOrExplain("PORT", config.host, config.port, () => running.listen());
    if (database === undefined) running.setReady(true);
    else {
      const unsubscribe = database.onAvailabilityChange((available) => running.setReady(available));
      closers.push(async () => unsubscribe());
    }
    logger.info(
      {
        address: joinHostPort(config.host, port),
        tls_mode: security.tls.mode,
        metrics_port: metricsServer?.port,
        database: database === undefined ? undefined : databaseConfig?.name,
        event_bus: bus?.transport,
        reflection: config.reflection,
      },
      `${name} started: gRPC on ${joinHostPort(config.host, port)} (TLS ${security.tls.mode}), metrics ${
        metricsServer === undefined ? "off" : `${metricsServer.url}/metrics`
      }${bus === undefined ? "" : `, events over ${bus.transport}`}`,
    );
    return {
      server: running,
      port,
      metricsServer,
      database,
      bus,
      logger,
      stop,
    };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

async function runHandlers(
  handlers: readonly AdminHttpHandler[],
  request: Parameters<AdminHttpHandler>[0],
  response: Parameters<AdminHttpHandler>[1],
): Promise<boolean> {
  for (const handler of handlers) if (await handler(request, response)) return true;
  return false;
}
