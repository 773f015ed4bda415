// Nothing waits forever: an order whose stock or payment step passes its deadline is cancelled
// "timed out" by the sweeper (once, whichever replica sweeps), and OrderCancelled compensates
// what did happen: the Inventory releases the stock, a late authorization is voided.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ordersV1, paymentsEventsV1 } from "@obfy/protos";
import { type OrdersHarness, startOrdersHarness } from "./fixtures/orders-harness.js";

const { OrderStatus, CancelCode } = ordersV1;
const TIMED_OUT = "Checkout took too long; you have not been charged";

const address = {
  recipientName: "Ada Lovelace",
  addressLine: "12 St James's Square",
  locality: "London",
  postalCode: "SW1Y 4JH",
  regionCode: "GB",
};

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function place(h: OrdersHarness, bookId: string, paymentMethodId: string): Promise<ordersV1.Order> {
  const { order } = await h.client.placeOrder(
    ordersV1.PlaceOrderRequest.fromPartial({
      idempotencyKey: randomUUID(),
      lines: [{ bookId, quantity: 1 }],
      paymentMethodId,
      shippingAddress: address,
    }),
    // Generous: 20 at once on a loaded machine.
    { metadata: await h.as("shopper-1"), timeoutMs: 60_000 },
  );
  assert.ok(order);
  return order;
}

describe("the stock step's deadline (nobody answers OrderPlaced)", () => {
  let h: OrdersHarness;
  before(async () => {
    h = await startOrdersHarness({
      inventory: false,
      payments: false,
      env: { CHECKOUT_STOCK_TIMEOUT_SECONDS: "2", CHECKOUT_SWEEP_INTERVAL_MS: "200" },
    });
  });
  after(async () => {
    await h?.stop();
  });

  test("20 orders on two sweeping replicas: each cancelled timed out, with one OrderCancelled", async () => {
    await h.startReplica();
    const started = Date.now();
    const orders = await Promise.all(Array.from({ length: 20 }, () => place(h, "1", "pm_ok")));
    const ids = orders.map((o) => o.orderId);
    await until("every order cancelled", async () => {
      const rows = await h.db.selectFrom("orders").select("status").where("id", "in", ids).execute();
      return rows.every((r) => r.status === "cancelled");
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 2000, `not before the deadline (${elapsed} ms)`);
    const rows = await h.db
      .selectFrom("orders")
      .select(["cancel_code", "cancel_reason", "step", "step_deadline"])
      .where("id", "in", ids)
      .execute();
    for (const row of rows) {
      assert.deepEqual(
        [row.cancel_code, row.cancel_reason, row.step, row.step_deadline],
        ["CANCEL_CODE_TIMED_OUT", TIMED_OUT, null, null],
      );
    }
    const cancelled = await h.db
      .selectFrom("outbox")
      .select("subject")
      .where("type", "=", "bookstore.orders.events.v1.OrderCancelled")
      .where("subject", "in", ids)
      .execute();
    assert.equal(cancelled.length, 20, "one OrderCancelled per order, whichever replica swept it");
    const { order } = await h.client.getOrder({ orderId: ids[0] ?? "" }, { metadata: await h.as("shopper-1") });
    assert.equal(order?.status, OrderStatus.ORDER_STATUS_CANCELLED);
    assert.equal(order?.cancelCode, CancelCode.CANCEL_CODE_TIMED_OUT);
    assert.equal(order?.history.at(-1)?.note, TIMED_OUT);
  });
});

describe("the payment step's deadline (Payments never answers)", () => {
  let h: OrdersHarness;
  before(async () => {
    h = await startOrdersHarness({
      env: { CHECKOUT_PAYMENT_TIMEOUT_SECONDS: "2", CHECKOUT_SWEEP_INTERVAL_MS: "200" },
    });
  });
  after(async () => {
    await h?.stop();
  });

  test("cancelled timed out, the stock released; the authorization that comes after is voided", async () => {
    await h.stock("2", 3);
    const order = await place(h, "2", "pm_silent");
    await until("stock reserved", async () => (await h.inventory?.getStock({ bookId: "2" }))?.stock?.reserved === 1);
    const cancelled = await until("the timeout", async () => {
      const { order: now } = await h.client.getOrder({ orderId: order.orderId }, { metadata: await h.as("shopper-1") });
      return now?.status === OrderStatus.ORDER_STATUS_CANCELLED ? now : undefined;
    });
    assert.equal(cancelled.cancelReason, TIMED_OUT);
    assert.deepEqual(
      cancelled.history.map((s) => s.note),
      ["Order placed", "Stock reserved", TIMED_OUT],
    );
    await until("the release", async () => (await h.inventory?.getStock({ bookId: "2" }))?.stock?.available === 3);

    // Payments answers after all: the order stays cancelled, and OrderCancelled names the payment to void.
    await h.payments?.publish(paymentsEventsV1.PaymentAuthorized, {
      orderId: order.orderId,
      paymentId: "pay_after_timeout",
      amount: order.total,
      cardBrand: "visa",
      cardLast4: "4242",
    });
    const events = await until("the second OrderCancelled", async () => {
      const found = h.payments?.of(order.orderId, "OrderCancelled") ?? [];
      return found.length >= 2 ? found : undefined;
    });
    assert.deepEqual(
      events.map((e) => [e.cancelCode, e.paymentId]),
      [
        ["CANCEL_CODE_TIMED_OUT", ""],
        ["CANCEL_CODE_TIMED_OUT", "pay_after_timeout"],
      ],
    );
    const row = await h.db
      .selectFrom("orders")
      .select(["status", "payment_id"])
      .where("id", "=", order.orderId)
      .executeTakeFirstOrThrow();
    assert.deepEqual([row.status, row.payment_id], ["cancelled", "pay_after_timeout"]);
    assert.equal((await h.inventory?.getStock({ bookId: "2" }))?.stock?.available, 3, "nothing held again");
  });
});
