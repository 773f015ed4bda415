// The Reviews' events over RabbitMQ (EVENT_BUS=amqp, this file's own namespace on the machine's
// broker): OrderDelivered in makes a verified buyer, ReviewPosted/Updated/Deleted out carry the
// book's rating. The namespace's queues and exchange are deleted afterwards.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { reviewsV1 } from "@obfy/protos";
import { Connection } from "rabbitmq-client";
import { type ReviewsHarness, startReviewsHarness } from "./fixtures/reviews-harness.js";

const namespace = `t${randomBytes(4).toString("hex")}.`;
const AMQP_URL = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";

async function deleteNamespace(queues: readonly string[]): Promise<void> {
  const rabbit = new Connection({ url: AMQP_URL, retryHigh: 1000 });
  rabbit.on("error", () => {});
  try {
    await rabbit.onConnect(5000);
    for (const name of queues) {
      const queue = `${namespace}${name}`;
      for (const target of [
        queue,
        `${queue}.dead-letters`,
        ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `${queue}.retry.${n}`),
      ]) {
        await rabbit.queueDelete({ queue: target });
      }
    }
    await rabbit.exchangeDelete({ exchange: `${namespace}events` });
  } finally {
    await rabbit.close();
  }
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
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("events over RabbitMQ", () => {
  let h: ReviewsHarness;
  before(async () => {
    h = await startReviewsHarness({
      books: [{ bookId: "1" }],
      env: { EVENT_BUS: "amqp", AMQP_URL, EVENT_BUS_NAMESPACE: namespace },
    });
  });
  after(async () => {
    await h?.stop();
    await deleteNamespace(["reviews", "reviews-events-peer"]);
  });

  test("OrderDelivered makes a verified buyer; each change's event carries the rating after it", async () => {
    await h.deliver({ orderId: "order-1", ownerId: "reader-1", bookIds: ["1"] });
    const started = Date.now();
    await until(
      "the delivery",
      async () =>
        (await h.db
          .selectFrom("purchases")
          .select("book_id")
          .where("account_id", "=", "reader-1")
          .executeTakeFirst()) ?? undefined,
    );
    process.stdout.write(`# OrderDelivered applied ${Date.now() - started} ms after its commit\n`);
    const metadata = await h.as("reader-1");
    const review = (
      await h.client.createReview(
        { bookId: "1", review: reviewsV1.Review.fromPartial({ rating: 3, text: "fine" }) },
        { metadata },
      )
    ).review as reviewsV1.Review;
    assert.equal(review.verifiedPurchase, true);
    await h.client.updateReview({ review: { ...review, rating: 5 } }, { metadata });
    await h.client.deleteReview({ bookId: "1", reviewId: review.reviewId }, { metadata });
    const events = await until("three events", () => (h.received.length >= 3 ? h.received : undefined));
    assert.deepEqual(
      [...events]
        .sort((a, b) => Number(a.data.bookRating?.version) - Number(b.data.bookRating?.version))
        .map((e) => [
          e.type,
          e.data.reviewId,
          e.data.bookRating?.count,
          e.data.bookRating?.average,
          e.data.bookRating?.version,
        ]),
      [
        ["ReviewPosted", review.reviewId, 1, 3, 1],
        ["ReviewUpdated", review.reviewId, 1, 5, 2],
        ["ReviewDeleted", review.reviewId, 0, 0, 3],
      ],
    );
  });
});
