import { type Kysely, sql } from "@obfy/kit/db";

/** The channel the orders trigger notifies on (the order's id); every Orders process LISTENs to it (order-watch.ts). */
export const ORDERS_CHANNEL = "orders_changed";

export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per order. `step` and `step_deadline` say which answer of the saga the order waits
  // for and until when (the sweeper cancels past it); both are set exactly while it is pending.
  await sql`
    create table orders (
      id uuid primary key,
      seq bigint generated always as identity unique,
      owner_id text not null,
      idempotency_key text not null,
      request_fingerprint text not null,
      customer_email text not null,
      cart_id text not null,
      status text not null
        check (status in ('pending', 'confirmed', 'shipped', 'delivered', 'cancelled', 'refunded')),
      step text check (step in ('stock', 'payment')),
      step_deadline timestamptz,
      currency_code text not null,
      total_minor bigint not null check (total_minor >= 0),
      payment_method_id text not null,
      shipping_address jsonb not null,
      reservation_id text,
      payment_id text,
      card_brand text not null default '',
      card_last4 text not null default '',
      cancel_code text,
      cancel_reason text,
      was_confirmed boolean not null default false,
      version bigint not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      -- A double submit (same owner, same key) finds the first order: one order, one charge.
      constraint orders_idempotency unique (owner_id, idempotency_key),
      constraint orders_step_while_pending check ((status = 'pending') = (step is not null and step_deadline is not null)),
      constraint orders_reason_when_cancelled check ((status = 'cancelled') = (cancel_code is not null))
    )`.execute(db);
  await sql`create index orders_pending_deadline on orders (step_deadline) where status = 'pending'`.execute(db);
  await sql`create index orders_owner on orders (owner_id, seq desc)`.execute(db);
  await sql`create index orders_status on orders (status, seq desc)`.execute(db);

  await sql`
    create table order_lines (
      order_id uuid not null references orders (id),
      position integer not null,
      book_id text not null,
      title text not null,
      quantity integer not null check (quantity between 1 and 10),
      unit_price_minor bigint not null check (unit_price_minor >= 0),
      primary key (order_id, position),
      unique (order_id, book_id)
    )`.execute(db);

  await sql`
    create table order_history (
      id bigint generated always as identity primary key,
      order_id uuid not null references orders (id),
      status text not null,
      note text not null,
      created_at timestamptz not null default clock_timestamp()
    )`.execute(db);
  await sql`create index order_history_order on order_history (order_id, id)`.execute(db);

  // Every change bumps the version (watchers send a version once) and tells every listening
  // process, at commit, which order changed.
  await sql`
    create function orders_touch() returns trigger language plpgsql as $$
    begin
      new.version := old.version + 1;
      new.updated_at := now();
      return new;
    end $$`.execute(db);
  await sql`create trigger orders_touch before update on orders for each row execute function orders_touch()`.execute(
    db,
  );
  await sql`
    create function orders_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('orders_changed', new.id::text);
      return null;
    end $$`.execute(db);
  await sql`create trigger orders_notify after update on orders for each row execute function orders_notify()`.execute(
    db,
  );
}
