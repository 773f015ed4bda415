import { type Kysely, sql } from "@obfy/kit/db";

/** The channel every change of the read model notifies on; every replica LISTENs to it (see model-store.ts). */
export const MODEL_CHANNEL = "recommendations_model";

export async function up(db: Kysely<unknown>): Promise<void> {
  // The Catalog's books as its events (and the first-start backfill) describe them. `version` is
  // the Catalog's: an event is applied only when it is newer; a backfilled row has version 0, so
  // any event about the book wins over it.
  await sql`
    create table books (
      book_id text primary key,
      isbn text not null,
      title text not null,
      authors text[] not null,
      category_ids text[] not null,
      publication_year integer not null,
      price_currency text not null,
      price_minor bigint not null,
      version bigint not null,
      updated_at timestamptz not null default now()
    )`.execute(db);
  // The Catalog's categories (from ListCategories at backfill, and every category a book names).
  await sql`create table categories (category_id text primary key)`.execute(db);
  // Each book's rating as Reviews computed it, kept when its version is newer. A row may exist
  // before the book's (events of different producers are not ordered).
  await sql`
    create table book_ratings (
      book_id text primary key,
      average double precision not null,
      rating_count integer not null,
      version bigint not null
    )`.execute(db);
  // Who reviewed what. A deleted review stays as a tombstone, so a late ReviewPosted or
  // ReviewUpdated cannot bring it back.
  await sql`
    create table reviews (
      review_id text primary key,
      book_id text not null,
      author_id text not null,
      rating integer not null,
      deleted boolean not null default false
    )`.execute(db);
  await sql`create index reviews_author on reviews (author_id) where not deleted`.execute(db);
  // Orders as far as "bought together" needs them. A cancelled order stays (a tombstone): a late
  // OrderConfirmed for it changes nothing.
  await sql`
    create table orders (
      order_id text primary key,
      owner_id text not null,
      book_ids text[] not null,
      state text not null check (state in ('confirmed', 'cancelled'))
    )`.execute(db);
  // Books of confirmed, not cancelled orders per shopper (its purchase history).
  await sql`
    create table purchases (
      user_id text not null,
      book_id text not null,
      order_count integer not null check (order_count >= 0),
      primary key (user_id, book_id)
    )`.execute(db);
  // For each pair of distinct books (both directions), the confirmed orders holding both.
  await sql`
    create table bought_together (
      book_id text not null,
      other_book_id text not null,
      order_count integer not null check (order_count >= 0),
      primary key (book_id, other_book_id)
    )`.execute(db);
  // Set once a backfill through CatalogService.ListBooks went through every page.
  await sql`
    create table catalog_backfill (
      id boolean primary key default true check (id),
      completed_at timestamptz not null
    )`.execute(db);
  // Bumped in every transaction that changes the tables above, and NOTIFYed at its commit: each
  // replica reloads its in-memory model when the revision it holds is older.
  await sql`
    create table model_revision (
      id boolean primary key default true check (id),
      revision bigint not null
    )`.execute(db);
  await sql`insert into model_revision (revision) values (0)`.execute(db);
}
