// The read model's consumers: Catalog's books, Reviews' ratings and reviewers, Orders' confirmed
// and cancelled orders. Each handler runs in the transaction that records the event as handled
// (the kit's processed_events), and every write is also idempotent by itself (versions,
// tombstones, order states), so redeliveries and any order of arrival give the same tables.
// A handler that changed something bumps the model revision in the same transaction: every
// replica reloads once it commits.
import type { Transaction } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import { catalogEventsV1, ordersEventsV1, reviewsEventsV1 } from "@obfy/protos";
import {
  addReview,
  type BookRecord,
  bumpModelRevision,
  cancelOrder,
  changeBookPrice,
  confirmOrder,
  deleteReview,
  type ReviewRecord,
  updateReview,
  upsertBook,
  upsertRating,
} from "./db/read-model.js";
import type { RecommendationsSchema } from "./db/schema.js";

type Trx = Transaction<RecommendationsSchema>;

/** A book of an event, or undefined when it names no book. */
export function bookOfFacts(facts: catalogEventsV1.BookFacts | undefined): BookRecord | undefined {
  if (facts === undefined || facts.bookId === "") return undefined;
  return {
    bookId: facts.bookId,
    isbn: facts.isbn,
    title: facts.title,
    authors: facts.authors,
    categoryIds: facts.categoryIds,
    publicationYear: facts.publicationYear,
    priceCurrency: facts.price?.currencyCode ?? "",
    priceMinor: facts.price?.amountMinor ?? 0,
    version: facts.version,
  };
}

async function storeRating(trx: Trx, rating: reviewsEventsV1.BookRating | undefined, bookId: string): Promise<boolean> {
  if (rating === undefined) return false;
  return upsertRating(trx, {
    bookId: rating.bookId === "" ? bookId : rating.bookId,
    average: rating.average,
    count: rating.count,
    version: rating.version,
  });
}

async function afterChange(trx: Trx, ...changes: boolean[]): Promise<void> {
  if (changes.some(Boolean)) await bumpModelRevision(trx);
}

/** Subscribes the read model's handlers on `bus` (before it starts). */
export function subscribeReadModel(bus: EventBus<RecommendationsSchema>): void {
  const onBook = async (facts: catalogEventsV1.BookFacts | undefined, trx: Trx) => {
    const book = bookOfFacts(facts);
    if (book !== undefined) await afterChange(trx, await upsertBook(trx, book));
  };
  const review = (e: { reviewId: string; bookId: string; authorId: string }, rating: number): ReviewRecord => ({
    reviewId: e.reviewId,
    bookId: e.bookId,
    authorId: e.authorId,
    rating,
  });
  const order = (e: { orderId: string; ownerId: string; lines: readonly ordersEventsV1.OrderedLine[] }) => ({
    orderId: e.orderId,
    ownerId: e.ownerId,
    bookIds: e.lines.filter((l) => l.quantity > 0).map((l) => l.bookId),
  });

  bus
    .subscribe(catalogEventsV1.BookCreated, (event, trx) => onBook(event.data.book, trx))
    .subscribe(catalogEventsV1.BookUpdated, (event, trx) => onBook(event.data.book, trx))
    .subscribe(catalogEventsV1.BookPriceChanged, async (event, trx) => {
      const { bookId, newPrice, version } = event.data;
      if (bookId === "" || newPrice === undefined) return;
      await afterChange(
        trx,
        await changeBookPrice(trx, { bookId, currency: newPrice.currencyCode, minor: newPrice.amountMinor, version }),
      );
    })
    .subscribe(reviewsEventsV1.ReviewPosted, async (event, trx) => {
      const e = event.data;
      if (e.reviewId === "" || e.bookId === "") return;
      await afterChange(trx, await addReview(trx, review(e, e.rating)), await storeRating(trx, e.bookRating, e.bookId));
    })
    .subscribe(reviewsEventsV1.ReviewUpdated, async (event, trx) => {
      const e = event.data;
      if (e.reviewId === "" || e.bookId === "") return;
      await afterChange(
        trx,
        await updateReview(trx, review(e, e.newRating)),
        await storeRating(trx, e.bookRating, e.bookId),
      );
    })
    .subscribe(reviewsEventsV1.ReviewDeleted, async (event, trx) => {
      const e = event.data;
      if (e.reviewId === "" || e.bookId === "") return;
      await afterChange(
        trx,
        await deleteReview(trx, review(e, e.rating)),
        await storeRating(trx, e.bookRating, e.bookId),
      );
    })
    .subscribe(ordersEventsV1.OrderConfirmed, async (event, trx) => {
      if (event.data.orderId === "") return;
      await afterChange(trx, await confirmOrder(trx, order(event.data)));
    })
    .subscribe(ordersEventsV1.OrderCancelled, async (event, trx) => {
      if (event.data.orderId === "") return;
      await afterChange(trx, await cancelOrder(trx, order(event.data)));
    });
}
