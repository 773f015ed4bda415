import type { ConnectionOptions } from "node:tls";
import { type IsolationLevel, Kysely, type LogEvent, PostgresDialect, type Transaction } from "kysely";
import pg from "pg";
import type { Registry } from "prom-client";
import type { ServerInterceptor } from "../interceptor.js";
import type { Logger } from "../logger.js";
import type { DatabaseConfig, DatabaseTls } from "./config.js";
import { createDatabaseErrorInterceptor, isDatabaseConnectionError } from "./errors.js";
import { AvailabilityMonitor, describe } from "./internal/availability.js";
import { databaseMetrics } from "./internal/metrics.js";
import { statementName } from "./internal/statement-name.js";
import { MigrationError, type MigrationReport, type MigrationSet, migrate } from "./migrations.js";

/** Options for {@link createDatabase}. */
export interface CreateDatabaseOptions {
  /** Usually `readDatabaseConfig(process.env, { name: "catalog" })`. */
  readonly config: DatabaseConfig;
  /** The service's logger: availability changes, slow queries and migrations are logged here. */
  readonly logger: Logger;
  /** Where the `db_client_*` metrics go: the service's `createMetrics()` (anything with its registry). */
  readonly metrics?: { readonly registry: Registry };
  /**
   * The migration sets {@link Database.migrate} applies, in order: the kit's (the events
   * module's outbox tables) first, then the service's own.
   */
  readonly migrations?: readonly MigrationSet[];
}

/** Options for {@link Database.transaction}. */
export interface TransactionOptions {
  /** Default: the server's (`read committed`). */
  readonly isolationLevel?: IsolationLevel;
  readonly accessMode?: "read only" | "read write";
}

/** A service's database: a typed query builder over a connection pool, with health, metrics and migrations. */
export interface Database<Schema> {
  /** The service's name for it (`catalog`). */
  readonly name: string;
  /**
   * The typed query builder. Every value goes to PostgreSQL as a parameter (`$1`), never
   * spliced into the SQL text: build queries with it, or with its `sql` tag, never with strings.
   */
  readonly kysely: Kysely<Schema>;
  /** The node-postgres pool under it, for libraries that take one. */
  readonly pool: pg.Pool;
  /** True while the database answers its health checks. */
  readonly available: boolean;
  /**
   * Calls `listener` now with {@link Database.available}, then whenever it changes; returns the
   * function that unsubscribes. `database.onAvailabilityChange((up) => server.setReady(up))`
   * makes a gRPC server NOT_SERVING while its database is away and SERVING again after.
   */
  onAvailabilityChange(listener: (available: boolean) => void): () => void;
  /** Runs a health check now; resolves with {@link Database.available}. */
  check(): Promise<boolean>;
  /**
   * Applies the pending migrations of every set given to {@link createDatabase} (see
   * {@link migrate}) on a connection of its own without a statement timeout. Throws when the
   * database cannot be reached or a migration fails; the error says which.
   */
  migrate(): Promise<MigrationReport>;
  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when it throws. Use
   * `trx` (not {@link Database.kysely}) for every statement that belongs to it.
   */
  transaction<T>(fn: (trx: Transaction<Schema>) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Turns this database's errors into statuses (see {@link createDatabaseErrorInterceptor}):
   * pass it in `createServer({ interceptors })`.
   */
  readonly errorInterceptor: ServerInterceptor;
  /** Stops the health checks and closes every connection. */
  close(): Promise<void>;
}

/** node-postgres `ssl` options for libpq's `sslmode`. */
function sslOptions(tls: DatabaseTls | undefined): false | ConnectionOptions {
  if (tls === undefined) return false;
  const material = {
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
  };
  switch (tls.mode) {
    case "require":
      return { ...material, rejectUnauthorized: false };
    case "verify-ca":
      // The chain is checked; the host name is not (libpq's verify-ca).
      return { ...material, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case "verify-full":
      return { ...material, rejectUnauthorized: true };
  }
}

/** `promise`, or a rejection with `message` after `ms`. */
function withTimeout(promise: Promise<unknown>, ms: number, message: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).then(
    () => clearTimeout(timer),
    (error: unknown) => {
      clearTimeout(timer);
      throw error;
    },
  );
}

/** The pool settings shared by the service's pool and the migrations' connection. */
function poolConfig(config: DatabaseConfig): pg.PoolConfig {
  return {
    connectionString: config.url,
    connectionTimeoutMillis: config.connectTimeoutMs,
    ssl: sslOptions(config.tls),
    keepAlive: true,
    // Names the connections in pg_stat_activity.
    application_name: config.name,
  };
}

/**
 * Gives every connection of `pool` an "error" listener for its whole life. pg-pool listens for
 * errors only on idle connections: it removes its listener while a connection is lent out, and
 * a pg client that emits "error" with no listener throws it as an uncaught exception. So a
 * connection the server ends while a caller holds it between statements (a transaction waiting
 * on a broker's confirm, a handler between two queries) took the whole process down: every
 * busy service died when PostgreSQL restarted (FATAL 57P01, "terminating connection due to
 * administrator command"). With the listener the error only fails that connection's queries,
 * which marks it not queryable, and the pool drops it when it is released.
 */
function listenOnLentConnections(pool: pg.Pool, onError: (error: Error) => void): void {
  pool.on("connect", (client) => {
    client.on("error", onError);
  });
}

/**
 * Creates a service's database: a pg pool of `DATABASE_POOL_MAX` connections, each with the
 * statement timeout set on the server and a client-side read timeout a little longer (so a
 * connection lost without a word cannot hang a call), a Kysely query builder on it, and:
 * - metrics on `metrics.registry`: `db_client_operation_duration_seconds` by database,
 *   operation and first table (e.g. `select books`), the pool's connections by state, its
 *   maximum, waiting requests, connection timeouts, and `db_client_available`;
 * - one warn line per query slower than `DATABASE_SLOW_QUERY_MS`, with its statement name and
 *   SQL text (placeholders only: values are never logged);
 * - health: a check every `DATABASE_HEALTH_CHECK_INTERVAL_MS`, and at once when a query cannot
 *   connect, every second while the database is away (see {@link Database.onAvailabilityChange}).
 *
 * The first health check starts at once (it opens the pool's first connection).
 */
export function createDatabase<Schema>(options: CreateDatabaseOptions): Database<Schema> {
  const { config, logger } = options;
  const { name } = config;
  const metrics = options.metrics === undefined ? undefined : databaseMetrics(options.metrics.registry);
  const pool = new pg.Pool({
    ...poolConfig(config),
    max: config.poolMax,
    ...(config.statementTimeoutMs > 0
      ? { statement_timeout: config.statementTimeoutMs, query_timeout: config.statementTimeoutMs + 2000 }
      : {}),
  });

  const monitor = new AvailabilityMonitor({
    name,
    logger,
    intervalMs: config.healthCheckIntervalMs,
    retryMs: Math.min(1000, config.healthCheckIntervalMs),
    // Bounded even where no statement timeout applies: a server that accepts connections but
    // never answers (stopped, not gone) must not stall the checks.
    probe: () => withTimeout(pool.query("select 1"), 2 * config.connectTimeoutMs, `no answer to a health check`),
  });

  // An idle pooled connection that breaks (the server restarted) is dropped by the pool, which
  // then emits "error": without a listener that would crash the process.
  pool.on("error", (error) => {
    logger.debug({ database: name, err: error }, "A pooled database connection closed");
    if (isDatabaseConnectionError(error)) monitor.suspect();
  });
  listenOnLentConnections(pool, (error) => {
    logger.debug({ database: name, err: error }, "A database connection in use closed");
    if (isDatabaseConnectionError(error)) monitor.suspect();
  });

  const onQuery = (event: LogEvent): void => {
    const statement = statementName(event.query.sql);
    const seconds = event.queryDurationMillis / 1000;
    if (event.level === "query") {
      monitor.confirm();
    } else if (isDatabaseConnectionError(event.error)) {
      monitor.suspect();
    } else if ((event.error as { code?: unknown }).code === "57014") {
      logger.warn(
        { database: name, statement: statement.name, duration_ms: Math.round(event.queryDurationMillis) },
        "Database statement cancelled (statement timeout or cancel request)",
      );
    }
    metrics?.duration.observe(
      {
        db_namespace: name,
        db_operation_name: statement.operation,
        db_collection_name: statement.table,
        outcome: event.level === "query" ? "ok" : "error",
      },
      seconds,
    );
    if (config.slowQueryMs !== undefined && event.queryDurationMillis >= config.slowQueryMs) {
      logger.warn(
        {
          database: name,
          statement: statement.name,
          duration_ms: Math.round(event.queryDurationMillis * 10) / 10,
          sql: event.query.sql,
        },
        "Slow database query",
      );
    }
  };

  const kysely = new Kysely<Schema>({
    dialect: new PostgresDialect({
      // The pool as Kysely sees it, counting the connections it could not get in time.
      pool: {
        Client: pg.Client,
        options: pool.options,
        connect: () =>
          pool.connect().catch((error: unknown) => {
            if (error instanceof Error && error.message.startsWith("timeout exceeded when trying to connect")) {
              metrics?.timeouts.inc({ db_namespace: name });
            }
            if (isDatabaseConnectionError(error)) monitor.suspect();
            throw error;
          }),
        end: () => pool.end(),
      },
    }),
    log: onQuery,
  });

  const untrack = metrics?.track({
    name,
    max: config.poolMax,
    total: () => pool.totalCount,
    idle: () => pool.idleCount,
    waiting: () => pool.waitingCount,
    available: () => monitor.available,
  });
  monitor.start();

  let closing: Promise<void> | undefined;
  return {
    name,
    kysely,
    pool,
    get available() {
      return monitor.available;
    },
    onAvailabilityChange: (listener) => monitor.onChange(listener),
    check: () => monitor.check(),
    async migrate() {
      // A connection of its own, without the statement timeout: an index build may take minutes.
      const migrationPool = () => {
        const own = new pg.Pool({ ...poolConfig(config), max: 1 });
        own.on("error", () => {});
        listenOnLentConnections(own, () => {});
        return own;
      };
      const migrationDb = new Kysely<unknown>({
        dialect: new PostgresDialect({ pool: migrationPool() }),
      });
      try {
        const report = await migrate(migrationDb, options.migrations ?? [], { logger, database: name });
        monitor.confirm();
        return report;
      } catch (error) {
        if (error instanceof MigrationError) throw error;
        const unavailable = isDatabaseConnectionError(error) ? "it is unavailable: " : "";
        throw new Error(`Cannot migrate the ${name} database: ${unavailable}${describe(error)}`, { cause: error });
      } finally {
        await migrationDb.destroy();
      }
    },
    transaction(fn, transactionOptions = {}) {
      let builder = kysely.transaction();
      if (transactionOptions.isolationLevel !== undefined) {
        builder = builder.setIsolationLevel(transactionOptions.isolationLevel);
      }
      if (transactionOptions.accessMode !== undefined) builder = builder.setAccessMode(transactionOptions.accessMode);
      return builder.execute(fn);
    },
    errorInterceptor: createDatabaseErrorInterceptor({ name }),
    close() {
      closing ??= (async () => {
        monitor.stop();
        untrack?.();
        await kysely.destroy();
      })();
      return closing;
    },
  };
}
