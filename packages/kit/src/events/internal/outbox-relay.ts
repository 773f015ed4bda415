import { type Kysely, sql } from "kysely";
import type pg from "pg";
import { listenToChannel } from "../../db/listen.js";
import type { Logger } from "../../logger.js";
import { PROTOBUF_CONTENT_TYPE } from "../cloudevents.js";
import type { EventBusConfig } from "../config.js";
import { OUTBOX_CHANNEL } from "../migrations.js";
import type { EventTables } from "../tables.js";
import { backoffDelayMs } from "./backoff.js";
import type { EventMetrics } from "./event-metrics.js";
import { type OutgoingMessage, type Transport, truncateError } from "./transport.js";

/** Where the relay gets its LISTEN connection: a connection string, or a pool to hold one client of. */
export type ListenSource = string | pg.Pool;

/** What {@link createOutboxRelay} needs. */
export interface OutboxRelayOptions {
  readonly db: Kysely<EventTables>;
  readonly transport: Transport;
  readonly config: EventBusConfig;
  readonly metrics: EventMetrics;
  readonly logger: Logger;
  /** Without one the relay only polls, every `EVENT_BUS_OUTBOX_POLL_MS`. */
  readonly listen: ListenSource | undefined;
}

/** The outbox relay of one process. Replicas run one each and share the rows (SKIP LOCKED). */
export interface OutboxRelay {
  start(): Promise<void>;
  /** Lets the batch in flight finish, then stops. */
  stop(): Promise<void>;
}

// A failed publish is re-sent after 0.5 s, 1 s, 2 s, … up to a minute: never dropped.
const RESEND_BASE_MS = 500;
const RESEND_MAX_MS = 60_000;
// LISTEN connection lost: reconnect after 1 s, doubling up to 30 s; polling covers the gap.
const LISTEN_RETRY = { retryBaseMs: 1000, retryMaxMs: 30_000 };

interface OutboxRow {
  id: string;
  event_id: string;
  kind: "event" | "task";
  type: string;
  queue: string | null;
  source: string;
  subject: string | null;
  time: Date;
  traceparent: string | null;
  tracestate: string | null;
  data: Uint8Array;
  attempts: number;
}

function toMessage(row: OutboxRow): OutgoingMessage {
  return {
    queue: row.kind === "task" ? (row.queue ?? undefined) : undefined,
    event: {
      id: row.event_id,
      source: row.source,
      type: row.type,
      time: row.time.toISOString(),
      subject: row.subject ?? undefined,
      datacontenttype: PROTOBUF_CONTENT_TYPE,
      traceparent: row.traceparent ?? undefined,
      tracestate: row.tracestate ?? undefined,
      data: row.data,
    },
  };
}

/** Rejects after `ms` unless `promise` settles first. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} not confirmed within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates the relay that delivers what services record in `outbox`: it claims a batch of unsent
 * rows with `FOR UPDATE SKIP LOCKED` (so replicas share the work and never send a row at the
 * same time), publishes them, and marks a row sent only once the broker confirmed it, in the same
 * transaction that held the lock. A failed or unconfirmed publish is retried with backoff, for as
 * long as it takes. A process killed anywhere in between leaves the row unsent, and it is sent
 * again: delivery is at least once, and consumers are idempotent.
 *
 * It wakes on `NOTIFY outbox` (sent by the insert trigger when the producer's transaction
 * commits), and polls every `EVENT_BUS_OUTBOX_POLL_MS` in case a notification was missed.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, transport, config, metrics, logger } = options;
  let stopping = false;
  let notified = false;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;

  function nudge(): void {
    notified = true;
    wake?.();
  }

  function sleep(ms: number): Promise<void> {
    if (notified || stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  }

  const listener =
    options.listen === undefined
      ? undefined
      : listenToChannel({
          source: options.listen,
          channel: OUTBOX_CHANNEL,
          logger,
          name: "outbox",
          onNotification: nudge,
          // Rows committed while nobody listened are picked up now rather than at the next poll.
          onListening: nudge,
          ...LISTEN_RETRY,
        });

  /** Claims, publishes and settles one batch; returns how many rows it claimed. */
  async function relayBatch(): Promise<number> {
    return db.transaction().execute(async (trx) => {
      const rows = (await trx
        .selectFrom("outbox")
        .select([
          "id",
          "event_id",
          "kind",
          "type",
          "queue",
          "source",
          "subject",
          "time",
          "traceparent",
          "tracestate",
          "data",
          "attempts",
        ])
        .where("sent_at", "is", null)
        .where("next_attempt_at", "<=", sql<Date>`now()`)
        .orderBy("id")
        .limit(config.outboxBatchSize)
        .forUpdate()
        .skipLocked()
        .execute()) as OutboxRow[];
      if (rows.length === 0) return 0;

      let results: Array<Error | undefined>;
      try {
        results = await within(transport.publish(rows.map(toMessage)), config.publishTimeoutMs, "publish");
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        results = rows.map(() => failure);
      }

      const sent: string[] = [];
      const failed: { id: string; delayMs: number; error: string }[] = [];
      rows.forEach((row, index) => {
        const error = results[index];
        const labels = { kind: row.kind, type: row.type };
        if (error === undefined) {
          sent.push(row.id);
          metrics.published.inc(labels);
        } else {
          metrics.publishFailures.inc(labels);
          failed.push({
            id: row.id,
            delayMs: backoffDelayMs(row.attempts + 1, RESEND_BASE_MS, RESEND_MAX_MS),
            error: truncateError(error.message),
          });
        }
      });
      if (sent.length > 0) {
        const lags = await sql<{ lag: number }>`
          update outbox set sent_at = clock_timestamp(), attempts = attempts + 1
          where id = any(${sent}::bigint[])
          returning extract(epoch from clock_timestamp() - created_at)::float8 as lag`.execute(trx);
        for (const { lag } of lags.rows) metrics.outboxLag.observe(lag);
      }
      if (failed.length > 0) {
        await sql`
          update outbox as o
          set attempts = o.attempts + 1,
              next_attempt_at = clock_timestamp() + f.delay_ms * interval '1 millisecond',
              last_error = f.error
          from unnest(${failed.map((f) => f.id)}::bigint[], ${failed.map((f) => f.delayMs)}::int[], ${failed.map((f) => f.error)}::text[])
            as f(id, delay_ms, error)
          where o.id = f.id`.execute(trx);
        logger.warn(
          { failed: failed.length, of: rows.length, error: failed[0]?.error },
          "outbox publish failed; the events stay in the outbox and will be re-sent",
        );
      }
      return rows.length;
    });
  }

  async function measurePending(): Promise<void> {
    const { rows } = await sql<{ pending: string; oldest: number | null }>`
      select count(*) as pending, extract(epoch from clock_timestamp() - min(created_at))::float8 as oldest
      from outbox where sent_at is null`.execute(db);
    metrics.outboxPending.set(Number(rows[0]?.pending ?? 0));
    metrics.outboxOldestPending.set(rows[0]?.oldest ?? 0);
  }

  async function run(): Promise<void> {
    let dbFailures = 0;
    let lastMeasured = 0;
    while (!stopping) {
      notified = false;
      let claimed = 0;
      try {
        claimed = await relayBatch();
        if (Date.now() - lastMeasured >= config.outboxPollMs) {
          lastMeasured = Date.now();
          await measurePending();
        }
        dbFailures = 0;
      } catch (error) {
        dbFailures++;
        logger.warn({ err: error }, "outbox relay could not read the outbox; retrying");
        await sleep(backoffDelayMs(dbFailures, RESEND_BASE_MS, RESEND_MAX_MS));
        continue;
      }
      // A full batch means more may be waiting: go again at once.
      if (claimed < config.outboxBatchSize) await sleep(config.outboxPollMs);
    }
  }

  return {
    async start() {
      if (loop !== undefined) return;
      await listener?.start();
      if (listener === undefined) {
        logger.info({ poll_ms: config.outboxPollMs }, "outbox relay polling (no LISTEN connection given)");
      }
      loop = run();
    },
    async stop() {
      stopping = true;
      wake?.();
      await Promise.all([loop, listener?.stop()]);
    },
  };
}
