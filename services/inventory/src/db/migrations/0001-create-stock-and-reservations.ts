import { type Kysely, sql } from "@obfy/kit/db";

/** The channel the stock trigger notifies on; every Inventory process LISTENs to it (see stock-watch.ts). */
export const STOCK_CHANNEL = "inventory_stock";

export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per book the Catalog created. The CHECKs make overselling impossible even for a
  // query that forgot to check: available (on_hand - reserved) can never be negative.
  await sql`
    create table stock (
      book_id text primary key,
      on_hand integer not null check (on_hand >= 0),
      reserved integer not null default 0 check (reserved >= 0),
      version bigint not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint stock_reserved_within_on_hand check (reserved <= on_hand)
    )`.execute(db);

  // Every change bumps the version (watchers drop anything older than what they sent) and
  // tells every listening process, at commit, what the row now holds.
  await sql`
    create function stock_touch() returns trigger language plpgsql as $$
    begin
      new.version := old.version + 1;
      new.updated_at := now();
      return new;
    end $$`.execute(db);
  await sql`create trigger stock_touch before update on stock for each row execute function stock_touch()`.execute(db);
  await sql`
    create function stock_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('inventory_stock', json_build_object(
        'book_id', new.book_id, 'on_hand', new.on_hand, 'reserved', new.reserved,
        'version', new.version, 'updated_at', extract(epoch from new.updated_at)
      )::text);
      return null;
    end $$`.execute(db);
  await sql`create trigger stock_notify after insert or update on stock for each row execute function stock_notify()`.execute(
    db,
  );

  // The audit log of AdjustStock: who, when, how much, why; the key makes a retry apply once.
  await sql`
    create table stock_adjustments (
      id bigint generated always as identity primary key,
      idempotency_key text not null unique,
      book_id text not null,
      delta integer not null check (delta <> 0),
      reason text not null,
      actor text not null,
      on_hand_after integer not null,
      created_at timestamptz not null default now()
    )`.execute(db);
  // Set once a backfill through CatalogService.ListBooks went through every page.
  await sql`
    create table catalog_backfill (
      id boolean primary key default true check (id),
      completed_at timestamptz not null
    )`.execute(db);

  await sql`create index stock_adjustments_book on stock_adjustments (book_id, created_at)`.execute(db);

  await sql`
    create table reservations (
      id uuid primary key,
      reservation_key text not null unique,
      order_id text,
      state text not null check (state in ('held', 'confirmed', 'released', 'expired')),
      expire_at timestamptz not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      -- A confirmed reservation whose order was cancelled afterwards: its stock went back on hand.
      restocked_at timestamptz,
      -- The order was cancelled (OrderCancelled handled): later saga events for it change nothing.
      order_cancelled_at timestamptz
    )`.execute(db);
  // What the expiry sweeper scans.
  await sql`create index reservations_held_expiry on reservations (expire_at) where state = 'held'`.execute(db);

  await sql`
    create table reservation_lines (
      reservation_id uuid not null references reservations (id),
      book_id text not null,
      quantity integer not null check (quantity > 0),
      primary key (reservation_id, book_id)
    )`.execute(db);
}
