// OrderPlaced over RabbitMQ (EVENT_BUS=amqp, this file's own namespace on the machine's
// broker): the ordered copies leave the shopper's cart, once, even when the event is delivered
// twice (the same event id published again). The namespace's queues and exchange are deleted
// afterwards.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Connection } from "rabbitmq-client";
import { type CartHarness, startCartHarness } from "./fixtures/cart-harness.js";

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

describe("OrderPlaced over RabbitMQ", () => {
  let h: CartHarness;
  before(async () => {
    h = await startCartHarness({
      books: [{ bookId: "1" }, { bookId: "2" }],
      env: { EVENT_BUS: "amqp", AMQP_URL, EVENT_BUS_NAMESPACE: namespace },
    });
  });
  after(async () => {
    await h?.stop();
    await deleteNamespace(["cart"]);
  });

  test("the ordered copies leave the cart once", async () => {
    const shopper = randomUUID();
    const metadata = await h.as(shopper);
    await h.client.addCartLine({ bookId: "1", quantity: 5 }, { metadata });
    await h.client.addCartLine({ bookId: "2", quantity: 1 }, { metadata });
    const order = { orderId: "order-1", ownerId: shopper, cartId: shopper, lines: [{ bookId: "1", quantity: 2 }] };
    const eventId = randomUUID();
    await h.placeOrder({ ...order, eventId });
    await h.placeOrder({ ...order, eventId });
    const started = Date.now();
    const deadline = Date.now() + 30_000;
    let lines: Record<string, number> = {};
    while (Date.now() < deadline) {
      const cart = (await h.client.getCart({}, { metadata })).cart;
      lines = Object.fromEntries((cart?.lines ?? []).map((l) => [l.bookId, l.quantity]));
      if (lines["1"] !== 5) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    process.stdout.write(`# OrderPlaced applied within ${Date.now() - started} ms\n`);
    assert.deepEqual(lines, { 1: 3, 2: 1 });
    // The second delivery of the same event id changes nothing.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const cart = (await h.client.getCart({}, { metadata })).cart;
    assert.deepEqual(Object.fromEntries((cart?.lines ?? []).map((l) => [l.bookId, l.quantity])), { 1: 3, 2: 1 });
  });
});
