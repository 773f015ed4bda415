import { type Kysely, sql } from "@obfy/kit/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // A tokenised card: never the number, only what a receipt shows and how the simulated
  // processor answers for it.
  await sql`
    create table payment_methods (
      id text primary key check (id ~ '^pm_[A-Za-z0-9_-]{24}$'),
      owner_id text not null,
      brand text not null check (brand in ('visa', 'mastercard', 'amex', 'discover', 'unknown')),
      last4 text not null check (last4 ~ '^[0-9]{4}$'),
      exp_month integer not null check (exp_month between 1 and 12),
      exp_year integer not null check (exp_year between 1000 and 9999),
      behaviour text not null
        check (behaviour in ('succeed', 'decline', 'insufficient_funds', 'processing_error', 'timeout')),
      created_at timestamptz not null default now()
    )`.execute(db);

  // One row per authorization attempt; the key makes a retried AuthorizePayment (or a
  // redelivered PaymentRequested, key "authorize:<order_id>") find the first one. The CHECK on
  // the timestamps makes "captured twice" impossible to even record.
  await sql`
    create table payments (
      id uuid primary key,
      -- Insertion order: ListPayments pages newest first on it.
      seq bigint generated always as identity unique,
      authorize_key text not null unique,
      order_id text not null,
      owner_id text not null,
      payment_method_id text not null,
      card_brand text not null,
      card_last4 text not null,
      amount_minor bigint not null check (amount_minor > 0),
      currency_code text not null check (currency_code ~ '^[A-Z]{3}$'),
      status text not null
        check (status in ('authorized', 'declined', 'failed', 'captured', 'voided', 'refunded')),
      failure_code text
        check (failure_code in ('card_declined', 'insufficient_funds', 'processing_error', 'timeout')),
      failure_message text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      captured_at timestamptz,
      voided_at timestamptz,
      refunded_at timestamptz,
      constraint payments_failure_when_refused
        check ((status in ('declined', 'failed')) = (failure_code is not null)),
      constraint payments_captured_has_time check (status not in ('captured', 'refunded') or captured_at is not null),
      constraint payments_void_or_capture check (voided_at is null or captured_at is null)
    )`.execute(db);
  await sql`create index payments_order_newest on payments (order_id, seq desc)`.execute(db);

  // Capture, void and refund under their idempotency keys: a retry finds its key.
  await sql`
    create table payment_operations (
      idempotency_key text primary key,
      kind text not null check (kind in ('capture', 'void', 'refund')),
      payment_id uuid not null references payments (id),
      created_at timestamptz not null default now()
    )`.execute(db);

  // Orders whose OrderCancelled was handled: a PaymentRequested arriving later authorizes
  // nothing, and an OrderConfirmed arriving later captures nothing.
  await sql`
    create table cancelled_orders (
      order_id text primary key,
      cancelled_at timestamptz not null default now()
    )`.execute(db);
}
