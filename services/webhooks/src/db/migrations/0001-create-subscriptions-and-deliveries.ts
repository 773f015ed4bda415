import { type Kysely, sql } from "@obfy/kit/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table subscriptions (
      id uuid primary key,
      client_id text not null,
      url text not null,
      events text[] not null check (cardinality(events) > 0),
      description text not null default '',
      signing_secret text not null,
      created_at timestamptz not null default now(),
      deleted_at timestamptz
    )`.execute(db);
  // What an order event looks up: the live subscriptions of the order's owner.
  await sql`create index subscriptions_client on subscriptions (client_id, created_at desc) where deleted_at is null`.execute(
    db,
  );
  await sql`
    create table deliveries (
      id uuid primary key,
      subscription_id uuid not null references subscriptions (id),
      event_id text not null,
      event text not null,
      order_id text not null,
      payload text not null,
      state text not null check (state in ('pending', 'succeeded', 'failed')),
      attempt_count integer not null default 0,
      last_status_code integer not null default 0,
      last_error text not null default '',
      created_at timestamptz not null default now(),
      last_attempt_at timestamptz,
      next_attempt_at timestamptz
    )`.execute(db);
  await sql`create index deliveries_subscription on deliveries (subscription_id, created_at desc, id desc)`.execute(db);
}
