import { type Kysely, sql } from "@obfy/kit/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // A cart is an account's (id = the account id) or an anonymous visitor's (id = a UUID the
  // Marketplace keeps in a cookie). The kind is part of the key, so an anonymous caller who
  // sends an account id as its cart id reaches an anonymous cart, never the account's.
  await sql`
    create table carts (
      kind text not null check (kind in ('account', 'anonymous')),
      id text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (kind, id)
    )`.execute(db);

  // One line per book; the price it had when it was put in the cart, to say when it changed.
  await sql`
    create table cart_lines (
      kind text not null,
      cart_id text not null,
      book_id text not null,
      quantity integer not null check (quantity between 1 and 10),
      added_price_minor bigint not null check (added_price_minor >= 0),
      added_currency text not null,
      added_at timestamptz not null default now(),
      primary key (kind, cart_id, book_id),
      foreign key (kind, cart_id) references carts (kind, id) on delete cascade
    )`.execute(db);
}
