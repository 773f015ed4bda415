import { envInt, envString } from "../config.js";

type Env = Readonly<Record<string, string | undefined>>;

/** Which broker carries the events: pg-boss on PostgreSQL, or RabbitMQ over AMQP 0-9-1. */
export type EventTransportName = "postgres" | "amqp";

/** Event bus settings, each read from the environment variable named in its comment. */
export interface EventBusConfig {
  /** `EVENT_BUS`: `postgres` (default, pg-boss) or `amqp` (RabbitMQ). */
  transport: EventTransportName;
  /** `AMQP_URL` (amqp): default `amqp://guest:guest@127.0.0.1:5672`. */
  amqpUrl: string;
  /** `EVENT_BUS_DATABASE_URL` (postgres): pg-boss's own database; required with `EVENT_BUS=postgres`. */
  busDatabaseUrl: string | undefined;
  /** `EVENT_BUS_NAMESPACE`: prefix of every exchange and queue name (default none), e.g. `staging.`. */
  namespace: string;
  /** `EVENT_BUS_MAX_ATTEMPTS`: handler attempts before a message is dead-lettered (default 5). */
  maxAttempts: number;
  /** `EVENT_BUS_RETRY_DELAY_MS`: delay before the first retry; doubles each time, with jitter (default 1000). */
  retryDelayMs: number;
  /** `EVENT_BUS_RETRY_MAX_DELAY_MS`: longest delay between two attempts (default 300000, 5 min). */
  retryMaxDelayMs: number;
  /** `EVENT_BUS_CONCURRENCY`: handlers running at once per queue in one process (default 8). */
  concurrency: number;
  /** `EVENT_BUS_OUTBOX_POLL_MS`: how often the relay looks for unsent events without a notification (default 1000). */
  outboxPollMs: number;
  /** `EVENT_BUS_OUTBOX_BATCH_SIZE`: events the relay claims and publishes at once (default 100). */
  outboxBatchSize: number;
  /** `EVENT_BUS_PUBLISH_TIMEOUT_MS`: a publish not confirmed by then counts as failed and is re-sent (default 10000). */
  publishTimeoutMs: number;
  /** `EVENT_BUS_HANDLER_TIMEOUT_SECONDS` (postgres): a job still active after this is retried (default 300). */
  handlerTimeoutSeconds: number;
  /** `EVENT_BUS_HEARTBEAT_SECONDS` (postgres): a job whose worker stopped beating this long is retried (default 30, at least 10). */
  heartbeatSeconds: number;
  /** `EVENT_BUS_POOL_SIZE` (postgres): connections pg-boss may open to its database (default 5, plus one for LISTEN). */
  poolSize: number;
  /** `EVENT_BUS_OUTBOX_RETENTION_HOURS`: how long sent outbox rows are kept (default 24). */
  outboxRetentionHours: number;
  /** `EVENT_BUS_PROCESSED_RETENTION_DAYS`: how long handled event ids are remembered (default 30). */
  processedRetentionDays: number;
}

/** The RabbitMQ the machine runs for development and tests. */
export const DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672";

/**
 * Reads {@link EventBusConfig} from `env`. Throws an Error naming the variable for any bad value,
 * e.g. `EVENT_BUS must be "postgres" or "amqp", got "kafka"`.
 */
export function readEventBusConfig(env: Env = process.env): EventBusConfig {
  const transport = envString(env, "EVENT_BUS", "postgres");
  if (transport !== "postgres" && transport !== "amqp") {
    throw new Error(`EVENT_BUS must be "postgres" or "amqp", got ${JSON.stringify(transport)}`);
  }
  const busDatabaseUrl = env.EVENT_BUS_DATABASE_URL?.trim() || undefined;
  if (transport === "postgres" && busDatabaseUrl === undefined) {
    throw new Error("EVENT_BUS_DATABASE_URL must be set when EVENT_BUS=postgres (pg-boss keeps its queues there)");
  }
  const namespace = env.EVENT_BUS_NAMESPACE?.trim() ?? "";
  if (!/^[\w.-]*$/.test(namespace)) {
    throw new Error(
      `EVENT_BUS_NAMESPACE may contain only letters, digits, "_", "-" and ".", got ${JSON.stringify(namespace)}`,
    );
  }
  const retryDelayMs = envInt(env, "EVENT_BUS_RETRY_DELAY_MS", 1000, { min: 1, max: 3_600_000 });
  const retryMaxDelayMs = envInt(env, "EVENT_BUS_RETRY_MAX_DELAY_MS", 300_000, { min: 1, max: 86_400_000 });
  if (retryMaxDelayMs < retryDelayMs) {
    throw new Error(
      `EVENT_BUS_RETRY_MAX_DELAY_MS (${retryMaxDelayMs}) must not be less than EVENT_BUS_RETRY_DELAY_MS (${retryDelayMs})`,
    );
  }
  return {
    transport,
    amqpUrl: envString(env, "AMQP_URL", DEFAULT_AMQP_URL),
    busDatabaseUrl,
    namespace,
    maxAttempts: envInt(env, "EVENT_BUS_MAX_ATTEMPTS", 5, { min: 1, max: 50 }),
    retryDelayMs,
    retryMaxDelayMs,
    concurrency: envInt(env, "EVENT_BUS_CONCURRENCY", 8, { min: 1, max: 1000 }),
    outboxPollMs: envInt(env, "EVENT_BUS_OUTBOX_POLL_MS", 1000, { min: 10, max: 600_000 }),
    outboxBatchSize: envInt(env, "EVENT_BUS_OUTBOX_BATCH_SIZE", 100, { min: 1, max: 10_000 }),
    publishTimeoutMs: envInt(env, "EVENT_BUS_PUBLISH_TIMEOUT_MS", 10_000, { min: 100, max: 600_000 }),
    handlerTimeoutSeconds: envInt(env, "EVENT_BUS_HANDLER_TIMEOUT_SECONDS", 300, { min: 1, max: 86_400 }),
    heartbeatSeconds: envInt(env, "EVENT_BUS_HEARTBEAT_SECONDS", 30, { min: 10, max: 3600 }),
    poolSize: envInt(env, "EVENT_BUS_POOL_SIZE", 5, { min: 1, max: 100 }),
    outboxRetentionHours: envInt(env, "EVENT_BUS_OUTBOX_RETENTION_HOURS", 24, { min: 0, max: 24 * 365 }),
    processedRetentionDays: envInt(env, "EVENT_BUS_PROCESSED_RETENTION_DAYS", 30, { min: 1, max: 3650 }),
  };
}
