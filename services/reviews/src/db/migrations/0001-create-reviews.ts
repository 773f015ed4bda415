import { type Kysely, sql } from "@obfy/kit/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // One review per author per book (the unique key is what makes two concurrent CreateReview
  // calls of one shopper end with one review). `seq` orders reviews for listing and paging.
  await sql`
    create table reviews (
      id uuid primary key,
      seq bigint generated always as identity unique,
      book_id text not null,
      author_id text not null,
      author_display_name text not null,
      rating smallint not null check (rating between 1 and 5),
      text text not null check (char_length(text) <= 2000),
      verified_purchase boolean not null default false,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint reviews_one_per_author unique (book_id, author_id)
    )`.execute(db);
  await sql`create index reviews_book_newest on reviews (book_id, seq desc)`.execute(db);
  await sql`create index reviews_book_rating on reviews (book_id, rating, seq desc)`.execute(db);

  // Each book's rating, changed in the transaction of every review change; `version` goes up
  // with each, so consumers of the events keep only the newest. A book whose reviews were all
  // deleted keeps its row (count 0) so its version never goes back.
  await sql`
    create table book_ratings (
      book_id text primary key,
      rating_sum bigint not null default 0 check (rating_sum >= 0),
      review_count integer not null default 0 check (review_count >= 0),
      version bigint not null default 0
    )`.execute(db);

  // Books each account received (OrderDelivered): who may review, and whose reviews are verified.
  await sql`
    create table purchases (
      account_id text not null,
      book_id text not null,
      order_id text not null,
      delivered_at timestamptz not null default now(),
      primary key (account_id, book_id)
    )`.execute(db);
}
