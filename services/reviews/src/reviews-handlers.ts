// The ReviewsService's RPCs: validation, ownership from the caller's verified token, one
// transaction per change with its event (the book's rating after the change travels with it).
import { randomUUID } from "node:crypto";
import type { CallContext } from "@obfy/kit/core";
import type { Database, Transaction } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import { type Principal, requirePrincipal } from "@obfy/kit/security";
import type { ServiceImplementation } from "@obfy/kit/server";
import { reviewsEventsV1, type reviewsV1 } from "@obfy/protos";
import { type CatalogBooks, requireBook } from "./catalog-books.js";
import { hasReceived } from "./db/purchases.js";
import {
  changeRating,
  countReviews,
  deleteReview,
  findReview,
  insertReview,
  listReviews,
  type RatingRow,
  type ReviewCursor,
  type ReviewOrder,
  type ReviewRow,
  updateReview,
} from "./db/reviews.js";
import type { ReviewsSchema } from "./db/schema.js";
import {
  alreadyReviewed,
  invalidField,
  invalidPageToken,
  notReceived,
  onlyAuthorEdits,
  onlyAuthorOrAdminDeletes,
  REVIEW_REQUIRED,
  reviewNotFound,
} from "./errors.js";
import { checkId, checkOrderBy, checkPageSize, checkRating, checkText, checkUpdateMask, isUuid } from "./validation.js";

/** What the handlers need. */
export interface ReviewsHandlerDeps {
  readonly database: Database<ReviewsSchema>;
  readonly bus: Pick<EventBus<ReviewsSchema>, "publish">;
  readonly catalog: CatalogBooks;
  readonly catalogTimeoutMs: number;
  /** Only shoppers who received the book may review it. */
  readonly verifiedOnly: boolean;
}

/** The name a page shows for an author: their email's part before the "@", or "A reader". */
export function displayNameOf(principal: Principal): string {
  const local = principal.email?.split("@")[0]?.trim() ?? "";
  return local === "" ? "A reader" : local;
}

function timestamp(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}

/** A stored review in the API's shape. */
export function reviewOf(row: ReviewRow): reviewsV1.Review {
  return {
    reviewId: row.id,
    bookId: row.book_id,
    authorId: row.author_id,
    authorDisplayName: row.author_display_name,
    rating: row.rating,
    text: row.text,
    verifiedPurchase: row.verified_purchase,
    createTime: timestamp(row.created_at),
    updateTime: timestamp(row.updated_at),
  };
}

/** A rating row as the events carry it. */
export function bookRatingOf(rating: RatingRow): reviewsEventsV1.BookRating {
  return {
    bookId: rating.bookId,
    average: rating.count === 0 ? 0 : rating.sum / rating.count,
    count: rating.count,
    version: rating.version,
  };
}

interface PageToken {
  readonly bookId: string;
  readonly authorId: string;
  readonly order: ReviewOrder;
  readonly cursor: ReviewCursor;
}

function encodePageToken(token: PageToken): string {
  const { bookId, authorId, order, cursor } = token;
  return Buffer.from(JSON.stringify({ b: bookId, a: authorId, o: order, r: cursor.rating, s: cursor.seq })).toString(
    "base64url",
  );
}

/** The token's cursor, when it was made for the same book, author filter and order. */
function decodePageToken(value: string, expected: Omit<PageToken, "cursor">): ReviewCursor | undefined {
  if (value === "") return undefined;
  try {
    const token = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as Record<string, unknown>;
    if (
      token.b === expected.bookId &&
      token.a === expected.authorId &&
      token.o === expected.order &&
      Number.isInteger(token.r) &&
      typeof token.s === "string" &&
      /^[0-9]{1,19}$/.test(token.s)
    ) {
      return { rating: token.r as number, seq: token.s };
    }
  } catch {
    // Not ours: refused below.
  }
  throw invalidPageToken();
}

/** Creates the ReviewsService handlers. */
export function createReviewsHandlers(
  deps: ReviewsHandlerDeps,
): ServiceImplementation<typeof reviewsV1.ReviewsServiceService> {
  const { database, bus, catalog } = deps;
  const db = database.kysely;

  /** The review `reviewId` of `bookId`, locked; NOT_FOUND for anything else. */
  async function lockReview(trx: Transaction<ReviewsSchema>, bookId: string, reviewId: string): Promise<ReviewRow> {
    if (!isUuid(reviewId)) throw reviewNotFound();
    const row = await findReview(trx, bookId, reviewId.toLowerCase(), { lock: true });
    if (row === undefined) throw reviewNotFound();
    return row;
  }

  function authorFilter(authorId: string, context: Pick<CallContext, "get">): string | undefined {
    if (authorId === "") return undefined;
    if (authorId === "me") return requirePrincipal(context).subject;
    return checkId("author_id", authorId);
  }

  return {
    async listReviews(request, context) {
      const bookId = checkId("book_id", request.bookId);
      const order = checkOrderBy(request.orderBy);
      const limit = checkPageSize(request.pageSize);
      const authorId = authorFilter(request.authorId, context);
      const expected = { bookId, authorId: authorId ?? "", order };
      const after = decodePageToken(request.pageToken, expected);
      const [rows, total] = await Promise.all([
        listReviews(db, { bookId, authorId, order, after, limit: limit + 1 }, context.signal),
        countReviews(db, bookId, authorId, context.signal),
      ]);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        reviews: page.map(reviewOf),
        nextPageToken:
          rows.length > limit && last !== undefined
            ? encodePageToken({ ...expected, cursor: { rating: last.rating, seq: last.seq } })
            : "",
        totalSize: total,
      };
    },

    async createReview(request, context) {
      const principal = requirePrincipal(context);
      const bookId = checkId("book_id", request.bookId);
      if (request.review === undefined) throw invalidField("review", REVIEW_REQUIRED);
      const rating = checkRating(request.review.rating);
      const text = checkText(request.review.text);
      await requireBook(catalog, bookId, { signal: context.signal, timeoutMs: deps.catalogTimeoutMs });
      const row = await database.transaction(async (trx) => {
        const received = await hasReceived(trx, principal.subject, bookId);
        if (deps.verifiedOnly && !received) throw notReceived();
        const inserted = await insertReview(trx, {
          id: randomUUID(),
          bookId,
          authorId: principal.subject,
          authorDisplayName: displayNameOf(principal),
          rating,
          text,
          verifiedPurchase: received,
        });
        if (inserted === undefined) throw alreadyReviewed();
        const bookRating = await changeRating(trx, bookId, { sum: rating, count: 1 });
        await bus.publish(
          trx,
          reviewsEventsV1.ReviewPosted,
          {
            reviewId: inserted.id,
            bookId,
            authorId: principal.subject,
            rating,
            bookRating: bookRatingOf(bookRating),
          },
          { subject: bookId },
        );
        return inserted;
      });
      context.log.info({ review_id: row.id, book_id: bookId, rating }, "Review posted");
      return { review: reviewOf(row) };
    },

    async updateReview(request, context) {
      const principal = requirePrincipal(context);
      const review = request.review;
      if (review === undefined) throw invalidField("review", REVIEW_REQUIRED);
      const bookId = checkId("review.book_id", review.bookId);
      const reviewId = checkId("review.review_id", review.reviewId);
      const mask = checkUpdateMask(request.updateMask);
      const newRating = mask.rating ? checkRating(review.rating) : undefined;
      const newText = mask.text ? checkText(review.text) : undefined;
      const row = await database.transaction(async (trx) => {
        const old = await lockReview(trx, bookId, reviewId);
        if (old.author_id !== principal.subject) throw onlyAuthorEdits();
        const rating = newRating ?? old.rating;
        const updated = await updateReview(trx, old.id, {
          rating,
          text: newText ?? old.text,
          authorDisplayName: displayNameOf(principal),
        });
        const bookRating = await changeRating(trx, bookId, { sum: rating - old.rating, count: 0 });
        await bus.publish(
          trx,
          reviewsEventsV1.ReviewUpdated,
          {
            reviewId: old.id,
            bookId,
            authorId: old.author_id,
            oldRating: old.rating,
            newRating: rating,
            bookRating: bookRatingOf(bookRating),
          },
          { subject: bookId },
        );
        return updated;
      });
      context.log.info({ review_id: row.id, book_id: bookId, rating: row.rating }, "Review updated");
      return { review: reviewOf(row) };
    },

    async deleteReview(request, context) {
      const principal = requirePrincipal(context);
      const bookId = checkId("book_id", request.bookId);
      const reviewId = checkId("review_id", request.reviewId);
      const removed = await database.transaction(async (trx) => {
        const old = await lockReview(trx, bookId, reviewId);
        if (old.author_id !== principal.subject && principal.role !== "admin") throw onlyAuthorOrAdminDeletes();
        await deleteReview(trx, old.id);
        const bookRating = await changeRating(trx, bookId, { sum: -old.rating, count: -1 });
        await bus.publish(
          trx,
          reviewsEventsV1.ReviewDeleted,
          {
            reviewId: old.id,
            bookId,
            authorId: old.author_id,
            rating: old.rating,
            bookRating: bookRatingOf(bookRating),
          },
          { subject: bookId },
        );
        return old;
      });
      context.log.info(
        { review_id: removed.id, book_id: bookId, by_admin: removed.author_id !== principal.subject },
        "Review deleted",
      );
      return {};
    },
  };
}
