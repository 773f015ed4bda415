// Each book's rating summary, kept from Reviews' events. Every event carries the book's rating
// after the change and its version (computed by Reviews in the same transaction), so storing
// it only when newer makes redeliveries and reordering harmless.
import type { Logger } from "@obfy/kit/core";
import type { Transaction } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import { reviewsEventsV1 } from "@obfy/protos";
import { setRating } from "./db/books.js";
import type { CatalogSchema } from "./db/schema.js";
import { parseBookId } from "./validation.js";

/** Subscribes the rating summary to ReviewPosted, ReviewUpdated and ReviewDeleted. */
export function subscribeReviews(bus: EventBus<CatalogSchema>, logger: Logger): void {
  const log = logger.child({ component: "ratings" });
  const apply = async (rating: reviewsEventsV1.BookRating | undefined, trx: Transaction<CatalogSchema>) => {
    const id = parseBookId(rating?.bookId ?? "");
    if (rating === undefined || id === undefined) return;
    const { average, count, version } = rating;
    if (!(average >= 0 && average <= 5) || !Number.isInteger(count) || count < 0) {
      // Not a rating the Catalog can show: dropped (a redelivery would not make it valid).
      log.warn({ book_id: id, average, count }, "Ignored an invalid rating from Reviews");
      return;
    }
    await setRating(trx, id, { average, count, version });
  };
  bus
    .subscribe(reviewsEventsV1.ReviewPosted, (event, trx) => apply(event.data.bookRating, trx))
    .subscribe(reviewsEventsV1.ReviewUpdated, (event, trx) => apply(event.data.bookRating, trx))
    .subscribe(reviewsEventsV1.ReviewDeleted, (event, trx) => apply(event.data.bookRating, trx));
}
