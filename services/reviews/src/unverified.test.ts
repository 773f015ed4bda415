// REVIEWS_VERIFIED_ONLY=false: anyone with a token may review, unverified, and a later
// OrderDelivered of the book marks that shopper's review verified.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { reviewsV1 } from "@obfy/protos";
import { type ReviewsHarness, startReviewsHarness } from "./fixtures/reviews-harness.js";

describe("REVIEWS_VERIFIED_ONLY=false", () => {
  let h: ReviewsHarness;
  before(async () => {
    h = await startReviewsHarness({
      books: [{ bookId: "1" }, { bookId: "2" }],
      env: { REVIEWS_VERIFIED_ONLY: "false" },
    });
  });
  after(() => h?.stop());

  test("a review without a purchase is unverified until the book is delivered to its author", async () => {
    const metadata = await h.as("reader-1");
    const review = (
      await h.client.createReview(
        { bookId: "1", review: reviewsV1.Review.fromPartial({ rating: 4, text: "ok" }) },
        { metadata },
      )
    ).review;
    assert.equal(review?.verifiedPurchase, false);
    const other = (
      await h.client.createReview({ bookId: "2", review: reviewsV1.Review.fromPartial({ rating: 2 }) }, { metadata })
    ).review;
    // Delivered: book 1 to reader-1, book 2 to someone else.
    await h.deliver({ orderId: "order-1", ownerId: "reader-1", bookIds: ["1"] });
    await h.deliver({ orderId: "order-2", ownerId: "reader-2", bookIds: ["2"] });
    const deadline = Date.now() + 60_000;
    let listed: reviewsV1.Review[] = [];
    while (Date.now() < deadline) {
      listed = (
        await h.client.listReviews({ bookId: "1", orderBy: "", pageSize: 0, pageToken: "", authorId: "reader-1" })
      ).reviews;
      if (listed[0]?.verifiedPurchase) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(
      listed.map((r) => [r.reviewId, r.verifiedPurchase]),
      [[review?.reviewId, true]],
    );
    const purchases = await h.db.selectFrom("purchases").selectAll().orderBy("account_id").execute();
    assert.deepEqual(
      purchases.map((p) => [p.account_id, p.book_id, p.order_id]),
      [
        ["reader-1", "1", "order-1"],
        ["reader-2", "2", "order-2"],
      ],
    );
    const second = (await h.client.listReviews({ bookId: "2", orderBy: "", pageSize: 0, pageToken: "", authorId: "" }))
      .reviews;
    assert.deepEqual(
      second.map((r) => [r.reviewId, r.verifiedPurchase]),
      [[other?.reviewId, false]],
      "another shopper's delivery verifies nothing of reader-1's",
    );
  });
});
