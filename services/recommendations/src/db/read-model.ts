// Every query of the read model: the consumers' writes (each returns whether it changed
// anything, so the caller bumps the model revision only then) and the one read that builds the
// in-memory model. Each write is idempotent on its own: replaying an event leaves the tables as
// they were, whatever the order events arrive in.
import { type Kysely, sql, type Transaction } from "@obfy/kit/db";
import { MODEL_CHANNEL } from "./migrations/0001-create-read-model.js";
import type { RecommendationsSchema } from "./schema.js";

type Db = Kysely<RecommendationsSchema> | Transaction<RecommendationsSchema>;

/** A book as the read model keeps it. */
export interface BookRecord {
  readonly bookId: string;
  readonly isbn: string;
  readonly title: string;
  readonly authors: readonly string[];
  readonly categoryIds: readonly string[];
  readonly publicationYear: number;
  readonly priceCurrency: string;
  readonly priceMinor: number;
  /** The Catalog's version; 0 for a backfilled book. */
  readonly version: number;
}

const changed = (result: { numInsertedOrUpdatedRows?: bigint; numUpdatedRows?: bigint }): boolean =>
  Number(result.numInsertedOrUpdatedRows ?? result.numUpdatedRows ?? 0) > 0;

function bookRow(book: BookRecord) {
  return {
    book_id: book.bookId,
    isbn: book.isbn,
    title: book.title,
    authors: [...book.authors],
    category_ids: [...book.categoryIds],
    publication_year: book.publicationYear,
    price_currency: book.priceCurrency,
    price_minor: book.priceMinor,
    version: book.version,
  };
}

/** Inserts the book, or replaces it when `book.version` is newer than the stored one. */
export async function upsertBook(db: Db, book: BookRecord): Promise<boolean> {
  const result = await db
    .insertInto("books")
    .values(bookRow(book))
    .onConflict((c) =>
      c
        .column("book_id")
        .doUpdateSet((eb) => ({
          isbn: eb.ref("excluded.isbn"),
          title: eb.ref("excluded.title"),
          authors: eb.ref("excluded.authors"),
          category_ids: eb.ref("excluded.category_ids"),
          publication_year: eb.ref("excluded.publication_year"),
          price_currency: eb.ref("excluded.price_currency"),
          price_minor: eb.ref("excluded.price_minor"),
          version: eb.ref("excluded.version"),
          updated_at: sql<Date>`now()`,
        }))
        .whereRef("books.version", "<", "excluded.version"),
    )
    .executeTakeFirst();
  const stored = changed(result);
  if (stored) await addCategories(db, book.categoryIds);
  return stored;
}

/** Inserts the book unless the read model has it (the backfill: any event about it is newer). */
export async function insertBookIfAbsent(db: Db, book: BookRecord): Promise<boolean> {
  const result = await db
    .insertInto("books")
    .values(bookRow({ ...book, version: 0 }))
    .onConflict((c) => c.column("book_id").doNothing())
    .executeTakeFirst();
  const stored = changed(result);
  if (stored) await addCategories(db, book.categoryIds);
  return stored;
}

/** Sets the price of a book the read model has, when `version` is newer than the stored one. */
export async function changeBookPrice(
  db: Db,
  change: { readonly bookId: string; readonly currency: string; readonly minor: number; readonly version: number },
): Promise<boolean> {
  const result = await db
    .updateTable("books")
    .set({
      price_currency: change.currency,
      price_minor: change.minor,
      version: change.version,
      updated_at: sql<Date>`now()`,
    })
    .where("book_id", "=", change.bookId)
    .where("version", "<", String(change.version))
    .executeTakeFirst();
  return changed(result);
}

/** Records categories (the Catalog's ids); true when one was new. */
export async function addCategories(db: Db, categoryIds: readonly string[]): Promise<boolean> {
  // Sorted: two transactions inserting the same new categories wait for each other in one order.
  const ids = distinctBookIds(categoryIds);
  if (ids.length === 0) return false;
  const result = await db
    .insertInto("categories")
    .values(ids.map((category_id) => ({ category_id })))
    .onConflict((c) => c.column("category_id").doNothing())
    .executeTakeFirst();
  return changed(result);
}

/** Stores a book's rating when `version` is newer than the stored one (a backfilled rating has 0). */
export async function upsertRating(
  db: Db,
  rating: { readonly bookId: string; readonly average: number; readonly count: number; readonly version: number },
): Promise<boolean> {
  const result = await db
    .insertInto("book_ratings")
    .values({
      book_id: rating.bookId,
      average: rating.average,
      rating_count: rating.count,
      version: rating.version,
    })
    .onConflict((c) =>
      c
        .column("book_id")
        .doUpdateSet((eb) => ({
          average: eb.ref("excluded.average"),
          rating_count: eb.ref("excluded.rating_count"),
          version: eb.ref("excluded.version"),
        }))
        .whereRef("book_ratings.version", "<", "excluded.version"),
    )
    .executeTakeFirst();
  return changed(result);
}

/** A review as the events name it. */
export interface ReviewRecord {
  readonly reviewId: string;
  readonly bookId: string;
  readonly authorId: string;
  readonly rating: number;
}

/** Records a posted review unless it is known (a deleted one stays deleted). */
export async function addReview(db: Db, review: ReviewRecord): Promise<boolean> {
  const result = await db
    .insertInto("reviews")
    .values({
      review_id: review.reviewId,
      book_id: review.bookId,
      author_id: review.authorId,
      rating: review.rating,
    })
    .onConflict((c) => c.column("review_id").doNothing())
    .executeTakeFirst();
  return changed(result);
}

/** Records a review's new rating (or the review, if its ReviewPosted has not arrived); a deleted one stays deleted. */
export async function updateReview(db: Db, review: ReviewRecord): Promise<boolean> {
  const result = await db
    .insertInto("reviews")
    .values({
      review_id: review.reviewId,
      book_id: review.bookId,
      author_id: review.authorId,
      rating: review.rating,
    })
    .onConflict((c) =>
      c
        .column("review_id")
        .doUpdateSet((eb) => ({ rating: eb.ref("excluded.rating") }))
        .where("reviews.deleted", "=", false)
        .whereRef("reviews.rating", "<>", "excluded.rating"),
    )
    .executeTakeFirst();
  return changed(result);
}

/** Marks a review deleted (recording it as such if it was never seen). */
export async function deleteReview(db: Db, review: ReviewRecord): Promise<boolean> {
  const result = await db
    .insertInto("reviews")
    .values({
      review_id: review.reviewId,
      book_id: review.bookId,
      author_id: review.authorId,
      rating: review.rating,
      deleted: true,
    })
    .onConflict((c) => c.column("review_id").doUpdateSet({ deleted: true }).where("reviews.deleted", "=", false))
    .executeTakeFirst();
  return changed(result);
}

/** Every ordered pair of distinct ids, in one order, so concurrent orders lock pair rows alike. */
function pairsOf(bookIds: readonly string[]): { book_id: string; other_book_id: string }[] {
  const pairs: { book_id: string; other_book_id: string }[] = [];
  for (const a of bookIds) for (const b of bookIds) if (a !== b) pairs.push({ book_id: a, other_book_id: b });
  return pairs;
}

/** Distinct non-empty ids, sorted (by code point: the same order in every transaction). */
export function distinctBookIds(bookIds: readonly string[]): string[] {
  return [...new Set(bookIds.filter((id) => id !== ""))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Records a confirmed order, once: its books join the owner's purchases and every pair of them
 * counts one more order bought together. An order already known (confirmed, or cancelled before
 * this arrived) changes nothing.
 */
export async function confirmOrder(
  trx: Transaction<RecommendationsSchema>,
  order: { readonly orderId: string; readonly ownerId: string; readonly bookIds: readonly string[] },
): Promise<boolean> {
  const bookIds = distinctBookIds(order.bookIds);
  const inserted = await trx
    .insertInto("orders")
    .values({ order_id: order.orderId, owner_id: order.ownerId, book_ids: bookIds, state: "confirmed" })
    .onConflict((c) => c.column("order_id").doNothing())
    .returning("order_id")
    .executeTakeFirst();
  if (inserted === undefined) return false;
  await countOrder(trx, order.ownerId, bookIds, 1);
  return true;
}

/**
 * Records a cancelled order: a confirmed one stops counting (its purchases and pairs go back
 * down); an unknown one is kept as cancelled so its late OrderConfirmed is ignored.
 */
export async function cancelOrder(
  trx: Transaction<RecommendationsSchema>,
  order: { readonly orderId: string; readonly ownerId: string; readonly bookIds: readonly string[] },
): Promise<boolean> {
  const inserted = await trx
    .insertInto("orders")
    .values({
      order_id: order.orderId,
      owner_id: order.ownerId,
      book_ids: distinctBookIds(order.bookIds),
      state: "cancelled",
    })
    .onConflict((c) => c.column("order_id").doNothing())
    .returning("order_id")
    .executeTakeFirst();
  if (inserted !== undefined) return false;
  // Known: count it out once, if it was counted in (the row lock makes a concurrent cancel wait
  // and then find it cancelled already).
  const confirmed = await trx
    .updateTable("orders")
    .set({ state: "cancelled" })
    .where("order_id", "=", order.orderId)
    .where("state", "=", "confirmed")
    .returning(["owner_id", "book_ids"])
    .executeTakeFirst();
  if (confirmed === undefined) return false;
  await countOrder(trx, confirmed.owner_id, confirmed.book_ids, -1);
  return true;
}

async function countOrder(
  trx: Transaction<RecommendationsSchema>,
  ownerId: string,
  bookIds: readonly string[],
  delta: 1 | -1,
): Promise<void> {
  if (bookIds.length === 0) return;
  if (ownerId !== "") {
    await trx
      .insertInto("purchases")
      .values(bookIds.map((book_id) => ({ user_id: ownerId, book_id, order_count: Math.max(0, delta) })))
      .onConflict((c) =>
        c.columns(["user_id", "book_id"]).doUpdateSet({ order_count: sql<number>`purchases.order_count + ${delta}` }),
      )
      .execute();
  }
  const pairs = pairsOf(bookIds);
  if (pairs.length === 0) return;
  await trx
    .insertInto("bought_together")
    .values(pairs.map((p) => ({ ...p, order_count: Math.max(0, delta) })))
    .onConflict((c) =>
      c
        .columns(["book_id", "other_book_id"])
        .doUpdateSet({ order_count: sql<number>`bought_together.order_count + ${delta}` }),
    )
    .execute();
}

/**
 * Bumps the model revision and NOTIFYs it at commit, so every replica reloads. Call it in the
 * transaction that changed the read model.
 */
export async function bumpModelRevision(db: Db): Promise<number> {
  const result = await sql<{ revision: string }>`
    with bumped as (update model_revision set revision = revision + 1 returning revision)
    select revision, pg_notify(${MODEL_CHANNEL}, revision::text) from bumped`.execute(db);
  return Number(result.rows[0]?.revision ?? 0);
}

/** The current model revision. */
export async function readModelRevision(db: Db, signal?: AbortSignal): Promise<number> {
  const row = await db.selectFrom("model_revision").select("revision").executeTakeFirst({ signal });
  return Number(row?.revision ?? 0);
}

/** True once a backfill went through every page of the Catalog. */
export async function backfillCompleted(db: Db): Promise<boolean> {
  return (await db.selectFrom("catalog_backfill").select("completed_at").executeTakeFirst()) !== undefined;
}

/** Records that a backfill went through every page. */
export async function markBackfillCompleted(db: Db): Promise<void> {
  await db
    .insertInto("catalog_backfill")
    .values({ completed_at: new Date() })
    .onConflict((c) => c.column("id").doNothing())
    .execute();
}

/** Everything the in-memory model is built from, read in one snapshot. */
export interface ReadModelSnapshot {
  readonly revision: number;
  readonly books: readonly BookRecord[];
  readonly categories: readonly string[];
  readonly ratings: readonly { readonly bookId: string; readonly average: number; readonly count: number }[];
  readonly reviews: readonly { readonly userId: string; readonly bookId: string }[];
  readonly purchases: readonly { readonly userId: string; readonly bookId: string }[];
  readonly pairs: readonly { readonly bookId: string; readonly otherBookId: string; readonly orders: number }[];
}

/** Reads the whole read model in one repeatable-read snapshot, with the revision it is at. */
export async function readSnapshot(db: Kysely<RecommendationsSchema>): Promise<ReadModelSnapshot> {
  return db
    .transaction()
    .setIsolationLevel("repeatable read")
    .setAccessMode("read only")
    .execute(async (trx) => {
      const revision = await readModelRevision(trx);
      const [books, categories, ratings, reviews, purchases, pairs] = await Promise.all([
        trx
          .selectFrom("books")
          .select([
            "book_id",
            "isbn",
            "title",
            "authors",
            "category_ids",
            "publication_year",
            "price_currency",
            "price_minor",
            "version",
          ])
          .orderBy("book_id")
          .execute(),
        trx.selectFrom("categories").select("category_id").orderBy("category_id").execute(),
        trx.selectFrom("book_ratings").select(["book_id", "average", "rating_count"]).execute(),
        trx.selectFrom("reviews").select(["author_id", "book_id"]).where("deleted", "=", false).execute(),
        trx.selectFrom("purchases").select(["user_id", "book_id"]).where("order_count", ">", 0).execute(),
        trx
          .selectFrom("bought_together")
          .select(["book_id", "other_book_id", "order_count"])
          .where("order_count", ">", 0)
          .execute(),
      ]);
      return {
        revision,
        books: books.map((b) => ({
          bookId: b.book_id,
          isbn: b.isbn,
          title: b.title,
          authors: b.authors,
          categoryIds: b.category_ids,
          publicationYear: b.publication_year,
          priceCurrency: b.price_currency,
          priceMinor: Number(b.price_minor),
          version: Number(b.version),
        })),
        categories: categories.map((c) => c.category_id),
        ratings: ratings.map((r) => ({ bookId: r.book_id, average: r.average, count: r.rating_count })),
        reviews: reviews.map((r) => ({ userId: r.author_id, bookId: r.book_id })),
        purchases: purchases.map((p) => ({ userId: p.user_id, bookId: p.book_id })),
        pairs: pairs.map((p) => ({ bookId: p.book_id, otherBookId: p.other_book_id, orders: p.order_count })),
      };
    });
}
