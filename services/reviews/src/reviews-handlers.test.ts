// The ReviewsService against real PostgreSQL and the pg-boss bus, through gRPC: verified
// purchases from OrderDelivered, one review per shopper per book (also under concurrency),
// ownership from the caller's token, limits, listing, and the events with the book's rating.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { readStatusDetails } from "@obfy/kit/core";
import { googleRpcErrorDetails, type reviewsV1 } from "@obfy/protos";
import { type ReviewsHarness, startReviewsHarness } from "./fixtures/reviews-harness.js";

function rejects(code: string, message?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.codeName, code, error.details);
    if (message !== undefined) assert.equal(error.details, message);
    return true;
  };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const BOOKS = Array.from({ length: 20 }, (_, i) => ({ bookId: String(i + 1) }));

describe("ReviewsService", () => {
  let h: ReviewsHarness;
  let nextUser = 1;
  const user = () => `shopper-${nextUser++}`;

  /** A shopper who received `bookId` (through the real OrderDelivered path for the first few). */
  async function buyer(bookId: string): Promise<string> {
    const id = user();
    await h.grantPurchase(id, bookId);
    return id;
  }

  async function post(author: string, bookId: string, rating: number, text = "Good read") {
    const answer = await h.client.createReview(
      { bookId, review: { rating, text } as reviewsV1.Review },
      { metadata: await h.as(author) },
    );
    assert.ok(answer.review);
    return answer.review;
  }

  before(async () => {
    h = await startReviewsHarness({ books: BOOKS });
  });
  after(() => h?.stop());

  test("only a shopper who received the book may review it; OrderDelivered makes the purchase verified", async () => {
    const alice = user();
    const metadata = await h.as({ subject: alice, email: "alice.liddell@example.com" });
    const request = { bookId: "1", review: { rating: 5, text: "Curiouser and curiouser" } as reviewsV1.Review };
    await assert.rejects(
      h.client.createReview(request, { metadata }),
      rejects("FAILED_PRECONDITION", "Only shoppers who received this book can review it"),
    );
    // Another book of the same order counts too; a book of someone else's order does not.
    await h.deliver({ orderId: "order-1", ownerId: alice, bookIds: ["1", "2"] });
    await h.deliver({ orderId: "order-2", ownerId: "someone-else", bookIds: ["3"] });
    await until("the delivery", async () =>
      (await h.db.selectFrom("purchases").select("book_id").where("account_id", "=", alice).execute()).length === 2
        ? true
        : undefined,
    );
    const review = (await h.client.createReview(request, { metadata })).review;
    assert.equal(review?.verifiedPurchase, true);
    assert.equal(review?.authorId, alice);
    assert.equal(review?.authorDisplayName, "alice.liddell");
    assert.equal(review?.text, "Curiouser and curiouser");
    assert.equal(review?.rating, 5);
    assert.ok((review?.createTime?.seconds ?? 0) > 0);
    await assert.rejects(
      h.client.createReview({ bookId: "3", review: { rating: 4, text: "" } as reviewsV1.Review }, { metadata }),
      rejects("FAILED_PRECONDITION", "Only shoppers who received this book can review it"),
    );
    await assert.rejects(
      h.client.createReview(request, { metadata }),
      rejects("ALREADY_EXISTS", "You have already reviewed this book"),
    );
    // The same OrderDelivered again (a redelivery with a new event id) changes nothing.
    await h.deliver({ orderId: "order-1", ownerId: alice, bookIds: ["1", "2"] });
    const second = (
      await h.client.createReview({ bookId: "2", review: { rating: 3, text: "" } as reviewsV1.Review }, { metadata })
    ).review;
    assert.equal(second?.verifiedPurchase, true);
  });

  test("limits: rating 1 to 5, text at most 2,000 characters (code points), no NUL; review required", async () => {
    const author = await buyer("4");
    const metadata = await h.as(author);
    const create = (rating: number, text: string) =>
      h.client.createReview({ bookId: "4", review: { rating, text } as reviewsV1.Review }, { metadata });
    for (const rating of [0, 6, -1, 100]) {
      await assert.rejects(create(rating, "x"), rejects("INVALID_ARGUMENT", "Rating must be between 1 and 5"));
    }
    await assert.rejects(
      create(3, "x".repeat(2001)),
      rejects("INVALID_ARGUMENT", "Review text is too long (at most 2000 characters)"),
    );
    await assert.rejects(
      create(3, "a\u0000b"),
      rejects("INVALID_ARGUMENT", "Review text must not contain NUL characters"),
    );
    await assert.rejects(
      h.client.createReview({ bookId: "4" }, { metadata }),
      rejects("INVALID_ARGUMENT", "review is required"),
    );
    try {
      await create(0, "x");
    } catch (error) {
      assert.ok(error instanceof ClientError);
      const [detail] = readStatusDetails(error.metadata);
      assert.equal(detail?.typeUrl, `type.googleapis.com/${googleRpcErrorDetails.BadRequest.$type}`);
      const badRequest = googleRpcErrorDetails.BadRequest.decode(detail?.value ?? new Uint8Array());
      assert.equal(badRequest.fieldViolations[0]?.field, "review.rating");
    }
    // 2,000 characters outside the BMP are 4,000 UTF-16 units: still allowed.
    const emoji = "📚".repeat(2000);
    const review = (await create(3, emoji)).review;
    assert.equal(review?.text, emoji);
    assert.equal(
      (
        await h.db
          .selectFrom("reviews")
          .select("text")
          .where("id", "=", review?.reviewId ?? "")
          .executeTakeFirst()
      )?.text,
      emoji,
    );
  });

  test("a book the Catalog does not have is NOT_FOUND; a Catalog that does not answer is UNAVAILABLE", async () => {
    const author = await buyer("999");
    const metadata = await h.as(author);
    const request = { bookId: "999", review: { rating: 3, text: "" } as reviewsV1.Review };
    await assert.rejects(h.client.createReview(request, { metadata }), rejects("NOT_FOUND", "Book not found"));
    h.catalog.put({ bookId: "999" });
    h.catalog.setDown(true);
    try {
      await assert.rejects(
        h.client.createReview(request, { metadata }),
        rejects("UNAVAILABLE", "The Catalog is unavailable; try again"),
      );
    } finally {
      h.catalog.setDown(false);
    }
    assert.equal((await h.client.createReview(request, { metadata })).review?.bookId, "999");
  });

  test("tokens: none is UNAUTHENTICATED, one without reviews:write is PERMISSION_DENIED; reads are anonymous", async () => {
    const author = await buyer("5");
    await assert.rejects(
      h.client.createReview({ bookId: "5", review: { rating: 3, text: "" } as reviewsV1.Review }),
      rejects("UNAUTHENTICATED"),
    );
    await assert.rejects(
      h.client.createReview(
        { bookId: "5", review: { rating: 3, text: "" } as reviewsV1.Review },
        { metadata: await h.as({ subject: author, scopes: ["cart:read"] }) },
      ),
      rejects("PERMISSION_DENIED"),
    );
    const list = await h.client.listReviews({ bookId: "5", orderBy: "", pageSize: 0, pageToken: "", authorId: "" });
    assert.equal(list.totalSize, 0);
    await assert.rejects(
      h.client.listReviews({ bookId: "5", orderBy: "", pageSize: 0, pageToken: "", authorId: "me" }),
      rejects("UNAUTHENTICATED"),
    );
  });

  test("only the author edits; the author or an admin deletes; other ids are NOT_FOUND", async () => {
    const author = await buyer("6");
    const other = await buyer("6");
    const review = await post(author, "6", 2, "Meh");
    const asOther = await h.as(other);
    const asAdmin = await h.as({ subject: "admin-1", role: "admin" });
    const edit = { ...review, rating: 4, text: "Better on a second read" };
    for (const metadata of [asOther, asAdmin]) {
      await assert.rejects(
        h.client.updateReview({ review: edit }, { metadata }),
        rejects("PERMISSION_DENIED", "Only the author can edit this review"),
      );
    }
    await assert.rejects(
      h.client.deleteReview({ bookId: "6", reviewId: review.reviewId }, { metadata: asOther }),
      rejects("PERMISSION_DENIED", "Only the author or an admin can delete this review"),
    );
    const stored = await h.db
      .selectFrom("reviews")
      .selectAll()
      .where("id", "=", review.reviewId)
      .executeTakeFirstOrThrow();
    assert.deepEqual([stored.rating, stored.text], [2, "Meh"], "refused calls changed nothing");

    const updated = (await h.client.updateReview({ review: edit }, { metadata: await h.as(author) })).review;
    assert.deepEqual([updated?.rating, updated?.text], [4, "Better on a second read"]);
    // A mask of "text" alone keeps the rating, whatever the request's rating says.
    const textOnly = (
      await h.client.updateReview(
        { review: { ...review, rating: 0, text: "Only the text" }, updateMask: ["text"] },
        { metadata: await h.as(author) },
      )
    ).review;
    assert.deepEqual([textOnly?.rating, textOnly?.text], [4, "Only the text"]);
    await assert.rejects(
      h.client.updateReview({ review: edit, updateMask: ["author_id"] }, { metadata: await h.as(author) }),
      rejects("INVALID_ARGUMENT", 'update_mask paths must be "rating" or "text"'),
    );
    // The review of book 6 does not exist under book 7, nor under an id that is not a UUID.
    for (const [bookId, reviewId] of [
      ["7", review.reviewId],
      ["6", "00000000-0000-0000-0000-000000000000"],
      ["6", "not-a-uuid"],
    ] as const) {
      await assert.rejects(
        h.client.updateReview({ review: { ...edit, bookId, reviewId } }, { metadata: await h.as(author) }),
        rejects("NOT_FOUND", "Review not found"),
      );
      await assert.rejects(
        h.client.deleteReview({ bookId, reviewId }, { metadata: asAdmin }),
        rejects("NOT_FOUND", "Review not found"),
      );
    }

    await h.client.deleteReview({ bookId: "6", reviewId: review.reviewId }, { metadata: asAdmin });
    const own = await post(other, "6", 5);
    await h.client.deleteReview({ bookId: "6", reviewId: own.reviewId }, { metadata: asOther });
    assert.equal(
      (await h.client.listReviews({ bookId: "6", orderBy: "", pageSize: 0, pageToken: "", authorId: "" })).totalSize,
      0,
    );
    await assert.rejects(
      h.client.deleteReview({ bookId: "6", reviewId: own.reviewId }, { metadata: asOther }),
      rejects("NOT_FOUND", "Review not found"),
    );
    // A deleted review can be written again.
    assert.equal((await post(author, "6", 1)).rating, 1);
  });

  test('ListReviews orders and pages (newest, best, worst), filters by author and "me", refuses foreign tokens', async () => {
    const ratings = [3, 5, 1, 4, 2, 5, 3];
    const posted: reviewsV1.Review[] = [];
    for (const rating of ratings) posted.push(await post(await buyer("8"), "8", rating));
    const all = async (orderBy: string, pageSize: number) => {
      const out: reviewsV1.Review[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await h.client.listReviews({ bookId: "8", orderBy, pageSize, pageToken, authorId: "" });
        assert.equal(page.totalSize, ratings.length);
        assert.ok(page.reviews.length <= pageSize);
        out.push(...page.reviews);
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== "" && pages < 20);
      return out;
    };
    const newest = [...posted].reverse().map((r) => r.reviewId);
    assert.deepEqual(
      (await all("", 3)).map((r) => r.reviewId),
      newest,
    );
    assert.deepEqual(
      (await all("-create_time", 2)).map((r) => r.reviewId),
      newest,
    );
    // Equal ratings: newest first.
    const byRating = (desc: boolean) =>
      posted
        .map((r, i) => ({ r, i }))
        .sort((a, b) => (desc ? b.r.rating - a.r.rating : a.r.rating - b.r.rating) || b.i - a.i)
        .map(({ r }) => r.reviewId);
    assert.deepEqual(
      (await all("-rating", 2)).map((r) => r.reviewId),
      byRating(true),
    );
    assert.deepEqual(
      (await all("rating", 3)).map((r) => r.reviewId),
      byRating(false),
    );

    const mine = posted[2] as reviewsV1.Review;
    const byMe = await h.client.listReviews(
      { bookId: "8", orderBy: "", pageSize: 0, pageToken: "", authorId: "me" },
      { metadata: await h.as(mine.authorId) },
    );
    assert.deepEqual(
      byMe.reviews.map((r) => r.reviewId),
      [mine.reviewId],
    );
    assert.equal(byMe.totalSize, 1);
    const byId = await h.client.listReviews({
      bookId: "8",
      orderBy: "",
      pageSize: 0,
      pageToken: "",
      authorId: mine.authorId,
    });
    assert.deepEqual(
      byId.reviews.map((r) => r.reviewId),
      [mine.reviewId],
    );

    const first = await h.client.listReviews({
      bookId: "8",
      orderBy: "-rating",
      pageSize: 2,
      pageToken: "",
      authorId: "",
    });
    for (const request of [
      { bookId: "8", orderBy: "rating", pageToken: first.nextPageToken },
      { bookId: "9", orderBy: "-rating", pageToken: first.nextPageToken },
      { bookId: "8", orderBy: "-rating", pageToken: "not-a-token" },
      {
        bookId: "8",
        orderBy: "-rating",
        pageToken: Buffer.from('{"b":"8","a":"","o":"-rating","r":1,"s":"1 or 1=1"}').toString("base64url"),
      },
    ]) {
      await assert.rejects(
        h.client.listReviews({ ...request, pageSize: 2, authorId: "" }),
        rejects("INVALID_ARGUMENT", "Invalid page token"),
      );
    }
    await assert.rejects(
      h.client.listReviews({ bookId: "8", orderBy: "title", pageSize: 0, pageToken: "", authorId: "" }),
      rejects("INVALID_ARGUMENT", 'order_by must be "-create_time", "-rating" or "rating"'),
    );
    await assert.rejects(
      h.client.listReviews({ bookId: "8", orderBy: "", pageSize: 101, pageToken: "", authorId: "" }),
      rejects("INVALID_ARGUMENT", "page_size must be between 0 and 100"),
    );
    await assert.rejects(
      h.client.listReviews({ bookId: "", orderBy: "", pageSize: 0, pageToken: "", authorId: "" }),
      rejects("INVALID_ARGUMENT", "book_id is required"),
    );
  });

  test("one review per shopper per book under concurrency: 12 simultaneous CreateReview, one succeeds", async () => {
    const author = await buyer("10");
    const metadata = await h.as(author);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        h.client.createReview(
          { bookId: "10", review: { rating: (i % 5) + 1, text: `try ${i}` } as reviewsV1.Review },
          { metadata },
        ),
      ),
    );
    const ok = outcomes.filter((o) => o.status === "fulfilled");
    const refused = outcomes.filter((o) => o.status === "rejected");
    assert.equal(ok.length, 1);
    for (const r of refused) rejects("ALREADY_EXISTS", "You have already reviewed this book")(r.reason);
    const rows = await h.db.selectFrom("reviews").select("rating").where("book_id", "=", "10").execute();
    assert.equal(rows.length, 1);
    const rating = await h.db
      .selectFrom("book_ratings")
      .selectAll()
      .where("book_id", "=", "10")
      .executeTakeFirstOrThrow();
    assert.deepEqual([Number(rating.rating_sum), rating.review_count], [rows[0]?.rating, 1]);
  });

  test("events: each change publishes the book's rating after it, with a version per change; refused calls publish nothing", async () => {
    const bookId = "11";
    const authors = await Promise.all(Array.from({ length: 8 }, () => buyer(bookId)));
    // Concurrent posts by different shoppers: each gets its own version, the summary adds up.
    const reviews = await Promise.all(authors.map((a, i) => post(a, bookId, (i % 5) + 1)));
    const sum = reviews.reduce((s, r) => s + r.rating, 0);
    await assert.rejects(post(authors[0] as string, bookId, 5), rejects("ALREADY_EXISTS"));
    const target = reviews[0] as reviewsV1.Review;
    await h.client.updateReview({ review: { ...target, rating: 5 } }, { metadata: await h.as(target.authorId) });
    const gone = reviews[1] as reviewsV1.Review;
    await h.client.deleteReview({ bookId, reviewId: gone.reviewId }, { metadata: await h.as(gone.authorId) });

    const events = await until("10 events of book 11", () => {
      const of = h.received.filter((e) => e.data.bookId === bookId);
      return of.length >= 10 ? of : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(h.received.filter((e) => e.data.bookId === bookId).length, 10, "nothing for the refused call");
    const posted = events.filter((e) => e.type === "ReviewPosted");
    assert.equal(posted.length, 8);
    const versions = events.map((e) => Number(e.data.bookRating?.version)).sort((a, b) => a - b);
    assert.deepEqual(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const byVersion = (v: number) => events.find((e) => Number(e.data.bookRating?.version) === v);
    assert.deepEqual([byVersion(8)?.data.bookRating?.count, byVersion(8)?.data.bookRating?.average], [8, sum / 8]);
    const updated = byVersion(9);
    assert.equal(updated?.type, "ReviewUpdated");
    if (updated?.type === "ReviewUpdated") {
      assert.deepEqual(
        [updated.data.oldRating, updated.data.newRating, updated.data.reviewId],
        [target.rating, 5, target.reviewId],
      );
    }
    const deleted = byVersion(10);
    assert.equal(deleted?.type, "ReviewDeleted");
    const after = sum - target.rating + 5 - gone.rating;
    assert.deepEqual([deleted?.data.bookRating?.count, deleted?.data.bookRating?.average], [7, after / 7]);
    assert.equal(deleted?.data.reviewId, gone.reviewId);
  });
});
