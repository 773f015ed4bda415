import type { ColumnType, Generated } from "kysely";

/** A row of `outbox` (see {@link eventsMigrations}). */
export interface OutboxTable {
  /** bigint identity; pg returns it as a string. */
  id: Generated<string>;
  event_id: string;
  kind: "event" | "task";
  type: string;
  queue: string | null;
  source: string;
  subject: string | null;
  time: ColumnType<Date, Date | string, never>;
  traceparent: string | null;
  tracestate: string | null;
  data: Uint8Array;
  created_at: ColumnType<Date, never, never>;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_error: string | null;
  sent_at: ColumnType<Date | null, never, Date | string | null>;
}

/** A row of `processed_events`. */
export interface ProcessedEventsTable {
  consumer: string;
  event_id: string;
  processed_at: ColumnType<Date, never, never>;
}

/** The event tables of a service database, for `Kysely<ServiceTables & EventTables>`. */
export interface EventTables {
  outbox: OutboxTable;
  processed_events: ProcessedEventsTable;
}
