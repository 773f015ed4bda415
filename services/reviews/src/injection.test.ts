// Injection strings through every text field a client can set: each is stored and returned
// exactly, or refused with the documented status; never INTERNAL, and nothing else changes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { sql } from "@obfy/kit/db";
import { injectionCases } from "@obfy/kit/db/testing";
import { reviewsV1 } from "@obfy/protos";
import { type ReviewsHarness, startReviewsHarness } from "./fixtures/reviews-harness.js";

/** The codes a refused injection string may get: a field check, or the documented answer for an unknown id. */
function refusedAs(error: unknown, allowed: readonly string[]): void {
  assert.ok(error instanceof ClientError, String(error));
  assert.ok(allowed.includes(error.codeName), `${error.codeName}: ${error.details}`);
}

describe("injection strings", () => {
  let h: ReviewsHarness;
  let counter = 0;
  const tables = () =>
    sql<{ n: string }>`select count(*) as n from information_schema.tables where table_schema = 'public'`
      .execute(h.db)
      .then((r) => r.rows[0]?.n);
  let tableCount: string | undefined;
  let sentinel: reviewsV1.Review | undefined;

  before(async () => {
    h = await startReviewsHarness({ books: [{ bookId: "1" }] });
    await h.grantPurchase("sentinel", "1");
    sentinel = (
      await h.client.createReview(
        { bookId: "1", review: reviewsV1.Review.fromPartial({ rating: 4, text: "sentinel" }) },
        { metadata: await h.as("sentinel") },
      )
    ).review;
    tableCount = await tables();
  });
  after(async () => {
    // Nothing dropped or added, and the sentinel untouched.
    assert.equal(await tables(), tableCount);
    const row = await h.db
      .selectFrom("reviews")
      .selectAll()
      .where("id", "=", sentinel?.reviewId ?? "")
      .executeTakeFirst();
    assert.deepEqual([row?.rating, row?.text], [4, "sentinel"]);
    await h?.stop();
  });

  test("CreateReview stores the text exactly, ignores the output-only fields, refuses odd book ids", async () => {
    const sample = reviewsV1.CreateReviewRequest.fromPartial({
      bookId: "1",
      review: { reviewId: "r", bookId: "b", authorId: "a", authorDisplayName: "n", rating: 3, text: "t" },
    });
    for (const { path, value, request } of injectionCases(sample)) {
      const author = `author-${counter++}`;
      try {
        await h.grantPurchase(author, request.bookId);
      } catch {
        // A value PostgreSQL cannot store (NUL): the service must refuse it too.
      }
      // The Catalog knows the book, so a refusal is the Reviews' own.
      h.catalog.put({ bookId: request.bookId });
      try {
        const review = (await h.client.createReview(request, { metadata: await h.as(author) })).review;
        assert.equal(review?.bookId, request.bookId);
        assert.equal(review?.authorId, author, "the author is the caller, whatever the request says");
        assert.equal(review?.text, request.review?.text);
        const row = await h.db
          .selectFrom("reviews")
          .select(["book_id", "text", "author_id"])
          .where("id", "=", review?.reviewId ?? "")
          .executeTakeFirstOrThrow();
        assert.deepEqual(row, { book_id: request.bookId, text: request.review?.text, author_id: author });
      } catch (error) {
        if (error instanceof ClientError && error.codeName === "INVALID_ARGUMENT") {
          assert.ok(
            path === "bookId" || path === "review.text",
            `${path}: ${JSON.stringify(value).slice(0, 40)} refused`,
          );
        } else refusedAs(error, ["INVALID_ARGUMENT"]);
      }
    }
  });

  test("UpdateReview stores the text exactly; other ids are NOT_FOUND or INVALID_ARGUMENT", async () => {
    const author = "updater";
    await h.grantPurchase(author, "1");
    const metadata = await h.as(author);
    const mine = (
      await h.client.createReview(
        { bookId: "1", review: reviewsV1.Review.fromPartial({ rating: 2, text: "x" }) },
        { metadata },
      )
    ).review as reviewsV1.Review;
    const sample = reviewsV1.UpdateReviewRequest.fromPartial({ review: { ...mine, text: "t" }, updateMask: ["text"] });
    for (const { path, request } of injectionCases(sample)) {
      try {
        const review = (await h.client.updateReview(request, { metadata })).review;
        assert.equal(review?.text, request.review?.text);
        assert.equal(review?.rating, 2);
      } catch (error) {
        refusedAs(error, path === "review.text" ? ["INVALID_ARGUMENT"] : ["INVALID_ARGUMENT", "NOT_FOUND"]);
      }
    }
  });

  test("ListReviews and DeleteReview: strings are ids or tokens, answered or refused, never INTERNAL", async () => {
    const sample = reviewsV1.ListReviewsRequest.fromPartial({
      bookId: "1",
      orderBy: "rating",
      pageToken: "p",
      authorId: "a",
    });
    for (const { path, request } of injectionCases(sample)) {
      const unpaged = path === "pageToken" ? request : { ...request, pageToken: "" };
      try {
        const answer = await h.client.listReviews(unpaged);
        assert.ok(answer.reviews.every((r) => r.bookId === unpaged.bookId));
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT"]);
      }
    }
    const metadata = await h.as({ subject: "admin-1", role: "admin" });
    for (const { request } of injectionCases(
      reviewsV1.DeleteReviewRequest.fromPartial({ bookId: "1", reviewId: "r" }),
    )) {
      await assert.rejects(h.client.deleteReview(request, { metadata }), (error: unknown) => {
        refusedAs(error, ["INVALID_ARGUMENT", "NOT_FOUND"]);
        return true;
      });
    }
  });
});
