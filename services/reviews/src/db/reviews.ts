// Queries on reviews and the books' rating rows.
import { type Kysely, type Selectable, sql, type Transaction } from "@obfy/kit/db";
import type { ReviewsSchema } from "./schema.js";

type Db = Kysely<ReviewsSchema> | Transaction<ReviewsSchema>;

/** A review as read. */
export type ReviewRow = Selectable<ReviewsSchema["reviews"]>;

/** A book's rating after a change. */
export interface RatingRow {
  readonly bookId: string;
  readonly sum: number;
  readonly count: number;
  readonly version: number;
}

/** How ListReviews orders: the proto's order_by values. */
export type ReviewOrder = "-create_time" | "-rating" | "rating";

/** Where a page starts: after the review with this rating and seq (in the page's order). */
export interface ReviewCursor {
  readonly rating: number;
  readonly seq: string;
}

/**
 * Inserts a review unless its author already reviewed the book (a concurrent insert of the same
 * pair waits for the other transaction); the row, or undefined when one exists.
 */
export function insertReview(
  trx: Transaction<ReviewsSchema>,
  review: {
    readonly id: string;
    readonly bookId: string;
    readonly authorId: string;
    readonly authorDisplayName: string;
    readonly rating: number;
    readonly text: string;
    readonly verifiedPurchase: boolean;
  },
): Promise<ReviewRow | undefined> {
  return trx
    .insertInto("reviews")
    .values({
      id: review.id,
      book_id: review.bookId,
      author_id: review.authorId,
      author_display_name: review.authorDisplayName,
      rating: review.rating,
      text: review.text,
      verified_purchase: review.verifiedPurchase,
    })
    .onConflict((c) => c.columns(["book_id", "author_id"]).doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** The review `id` of `bookId`; `lock` holds it for the rest of the transaction. */
export function findReview(
  db: Db,
  bookId: string,
  id: string,
  options: { readonly lock?: boolean } = {},
): Promise<ReviewRow | undefined> {
  let query = db.selectFrom("reviews").selectAll().where("id", "=", id).where("book_id", "=", bookId);
  if (options.lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** Changes a review's rating and text (and the author's name as the token now says it). */
export function updateReview(
  trx: Transaction<ReviewsSchema>,
  id: string,
  change: { readonly rating: number; readonly text: string; readonly authorDisplayName: string },
): Promise<ReviewRow> {
  return trx
    .updateTable("reviews")
    .set({
      rating: change.rating,
      text: change.text,
      author_display_name: change.authorDisplayName,
      updated_at: sql<Date>`now()`,
    })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Deletes a review. */
export async function deleteReview(trx: Transaction<ReviewsSchema>, id: string): Promise<void> {
  await trx.deleteFrom("reviews").where("id", "=", id).execute();
}

/**
 * Adds `sum` and `count` to the book's rating row (created at zero, version 0, by its first
 * change) and bumps its version: the row lock orders concurrent changes of one book, so each
 * gets its own version.
 */
export async function changeRating(
  trx: Transaction<ReviewsSchema>,
  bookId: string,
  change: { readonly sum: number; readonly count: number },
): Promise<RatingRow> {
  await trx
    .insertInto("book_ratings")
    .values({ book_id: bookId })
    .onConflict((c) => c.column("book_id").doNothing())
    .execute();
  const row = await trx
    .updateTable("book_ratings")
    .set({
      rating_sum: sql<number>`rating_sum + ${change.sum}`,
      review_count: sql<number>`review_count + ${change.count}`,
      version: sql<number>`version + 1`,
    })
    .where("book_id", "=", bookId)
    .returning(["book_id", "rating_sum", "review_count", "version"])
    .executeTakeFirstOrThrow();
  return { bookId: row.book_id, sum: Number(row.rating_sum), count: row.review_count, version: Number(row.version) };
}

/** The book's rating row, if it has one. */
export async function findRating(db: Db, bookId: string): Promise<RatingRow | undefined> {
  const row = await db
    .selectFrom("book_ratings")
    .select(["book_id", "rating_sum", "review_count", "version"])
    .where("book_id", "=", bookId)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return { bookId: row.book_id, sum: Number(row.rating_sum), count: row.review_count, version: Number(row.version) };
}

/** One page of a book's reviews in `order`, after `after`. */
export function listReviews(
  db: Db,
  options: {
    readonly bookId: string;
    readonly authorId: string | undefined;
    readonly order: ReviewOrder;
    readonly after: ReviewCursor | undefined;
    readonly limit: number;
  },
  signal?: AbortSignal,
): Promise<ReviewRow[]> {
  let query = db.selectFrom("reviews").selectAll().where("book_id", "=", options.bookId);
  if (options.authorId !== undefined) query = query.where("author_id", "=", options.authorId);
  const after = options.after;
  switch (options.order) {
    case "-create_time":
      if (after !== undefined) query = query.where(sql<boolean>`seq < ${after.seq}::bigint`);
      query = query.orderBy("seq", "desc");
      break;
    case "-rating":
      if (after !== undefined)
        query = query.where(sql<boolean>`(rating, seq) < (${after.rating}, ${after.seq}::bigint)`);
      query = query.orderBy("rating", "desc").orderBy("seq", "desc");
      break;
    case "rating":
      if (after !== undefined) {
        query = query.where(
          sql<boolean>`(rating > ${after.rating} or (rating = ${after.rating} and seq < ${after.seq}::bigint))`,
        );
      }
      query = query.orderBy("rating", "asc").orderBy("seq", "desc");
      break;
  }
  return query.limit(options.limit).execute({ signal });
}

/** How many reviews the book has (by `authorId` alone when given). */
export async function countReviews(
  db: Db,
  bookId: string,
  authorId: string | undefined,
  signal?: AbortSignal,
): Promise<number> {
  let query = db.selectFrom("reviews").select(sql<string>`count(*)`.as("n")).where("book_id", "=", bookId);
  if (authorId !== undefined) query = query.where("author_id", "=", authorId);
  const row = await query.executeTakeFirstOrThrow({ signal });
  return Number(row.n);
}
