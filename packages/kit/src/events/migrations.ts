import { type Kysely, sql } from "kysely";
import { defineMigrations, type MigrationSet } from "../db/migrations.js";

/** The LISTEN/NOTIFY channel on which an insert into `outbox` wakes the relays of that database. */
export const OUTBOX_CHANNEL = "outbox";

/**
 * The event tables every service database has, as the migration set `events` (its own history
 * table, so it grows independently). A service lists it before its own set:
 * `createDatabase({ migrations: [eventsMigrations, catalogMigrations] })`.
 *
 * - `outbox`: events and tasks recorded in the transaction of the state change that caused
 *   them, until the relay has had the broker confirm them (`sent_at`); an insert notifies
 *   {@link OUTBOX_CHANNEL} when its transaction commits.
 * - `processed_events`: the ids of the events and tasks each consumer handled, written in the
 *   transaction of the handler's effects.
 */
export const eventsMigrations: MigrationSet = defineMigrations("events", {
  "0001-outbox-and-processed-events": {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("outbox")
        .addColumn("id", "bigint", (column) => column.primaryKey().generatedAlwaysAsIdentity())
        .addColumn("event_id", "text", (column) => column.notNull())
        .addColumn("kind", "text", (column) => column.notNull().check(sql`kind in ('event', 'task')`))
        .addColumn("type", "text", (column) => column.notNull())
        // The work queue of a task; null for an event, which goes to every subscriber.
        .addColumn("queue", "text")
        .addColumn("source", "text", (column) => column.notNull())
        .addColumn("subject", "text")
        .addColumn("time", "timestamptz", (column) => column.notNull())
        .addColumn("traceparent", "text")
        .addColumn("tracestate", "text")
        .addColumn("data", "bytea", (column) => column.notNull())
        .addColumn("created_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
        .addColumn("attempts", "integer", (column) => column.notNull().defaultTo(0))
        .addColumn("next_attempt_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
        .addColumn("last_error", "text")
        .addColumn("sent_at", "timestamptz")
        .execute();
      // The relay reads only unsent rows, oldest first; the sweeper deletes old sent ones.
      await sql`create index outbox_unsent on outbox (id) where sent_at is null`.execute(db);
      await sql`create index outbox_sent_at on outbox (sent_at) where sent_at is not null`.execute(db);
      await sql`
        create function outbox_notify() returns trigger language plpgsql as $$
        begin
          perform pg_notify(${sql.lit(OUTBOX_CHANNEL)}, '');
          return null;
        end
        $$`.execute(db);
      // Once per statement: the notification is sent at commit and never for a rollback.
      await sql`create trigger outbox_notify after insert on outbox for each statement execute function outbox_notify()`.execute(
        db,
      );

      await db.schema
        .createTable("processed_events")
        .addColumn("consumer", "text", (column) => column.notNull())
        .addColumn("event_id", "text", (column) => column.notNull())
        .addColumn("processed_at", "timestamptz", (column) => column.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint("processed_events_pkey", ["consumer", "event_id"])
        .execute();
      await db.schema
        .createIndex("processed_events_processed_at")
        .on("processed_events")
        .column("processed_at")
        .execute();
    },
  },
});
