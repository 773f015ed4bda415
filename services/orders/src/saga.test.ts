// The checkout saga over the real event bus (pg-boss): the Orders and the real Inventory as
// production starts them, and a stand-in for Payments' step (Payments is its own service).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ordersV1, paymentsEventsV1 } from "@obfy/protos";
import { type OrdersHarness, startOrdersHarness } from "./fixtures/orders-harness.js";

const { OrderStatus, CancelCode } = ordersV1;

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

describe("the checkout saga", () => {
  let h: OrdersHarness;
  let shopper: Record<string, string>;

  before(async () => {
    h = await startOrdersHarness();
    shopper = await h.as("shopper-1");
  });
  after(async () => {
    await h?.stop();
  });

  const payments = () => {
    if (h.payments === undefined) throw new Error("the harness has the Payments stand-in");
    return h.payments;
  };
  const stockOf = async (bookId: string) => (await h.inventory?.getStock({ bookId }))?.stock;

  async function place(lines: { bookId: string; quantity: number }[], paymentMethodId: string, key = randomUUID()) {
    const { order } = await h.client.placeOrder(
      ordersV1.PlaceOrderRequest.fromPartial({ idempotencyKey: key, lines, paymentMethodId, shippingAddress: address }),
      { metadata: shopper },
    );
    assert.ok(order);
    return order;
  }

  async function settled(orderId: string): Promise<ordersV1.Order> {
    return until(`order ${orderId} to settle`, async () => {
      const { order } = await h.client.getOrder({ orderId }, { metadata: shopper });
      return order !== undefined && order.status !== OrderStatus.ORDER_STATUS_PENDING ? order : undefined;
    });
  }

  test("stock reserved, payment authorized: CONFIRMED, the stock committed, PaymentRequested and OrderConfirmed once", async () => {
    await h.stock("1", 5);
    const placed = await place([{ bookId: "1", quantity: 2 }], "pm_ok_visa");
    const order = await settled(placed.orderId);
    assert.equal(order.status, OrderStatus.ORDER_STATUS_CONFIRMED);
    assert.deepEqual(
      order.history.map((s) => [s.status, s.note]),
      [
        [OrderStatus.ORDER_STATUS_PENDING, "Order placed"],
        [OrderStatus.ORDER_STATUS_PENDING, "Stock reserved"],
        [OrderStatus.ORDER_STATUS_CONFIRMED, "Payment authorized; order confirmed"],
      ],
    );
    assert.deepEqual(order.payment, { cardBrand: "visa", cardLast4: "4242", paymentId: `pay_${placed.orderId}` });
    const [requested, ...more] = payments().of(placed.orderId, "PaymentRequested");
    assert.deepEqual(more, []);
    assert.deepEqual(requested, {
      orderId: placed.orderId,
      ownerId: "shopper-1",
      paymentMethodId: "pm_ok_visa",
      amount: { currencyCode: "USD", amountMinor: 2598 },
    });
    const [confirmed] = await until("OrderConfirmed", async () => {
      const found = payments().of(placed.orderId, "OrderConfirmed");
      return found.length > 0 ? found : undefined;
    });
    assert.equal(confirmed?.paymentId, `pay_${placed.orderId}`);
    assert.ok(confirmed?.reservationId);
    // Inventory committed the reservation on OrderConfirmed: the copies left for good.
    await until("the stock committed", async () => {
      const stock = await stockOf("1");
      return stock?.onHand === 3 && stock.reserved === 0;
    });
  });

  test("a double submit during the saga: one order, one PaymentRequested (one charge)", async () => {
    await h.stock("2", 5);
    const key = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => place([{ bookId: "2", quantity: 1 }], "pm_ok_visa", key)),
    );
    const orderId = answers[0]?.orderId ?? "";
    assert.ok(answers.every((a) => a.orderId === orderId));
    assert.equal((await settled(orderId)).status, OrderStatus.ORDER_STATUS_CONFIRMED);
    await until("stock committed", async () => (await stockOf("2"))?.onHand === 4);
    assert.equal(payments().of(orderId, "PaymentRequested").length, 1);
    assert.equal(payments().of(orderId, "OrderPlaced").length, 1);
  });

  test("out of stock: CANCELLED with the short titles, nothing reserved, no payment asked", async () => {
    await h.stock("3", 1);
    const placed = await place(
      [
        { bookId: "3", quantity: 2 },
        { bookId: "1", quantity: 1 },
      ],
      "pm_ok_visa",
    );
    const order = await settled(placed.orderId);
    assert.equal(order.status, OrderStatus.ORDER_STATUS_CANCELLED);
    assert.equal(order.cancelCode, CancelCode.CANCEL_CODE_OUT_OF_STOCK);
    assert.equal(order.cancelReason, "Not enough stock for: Book 3");
    assert.equal((await stockOf("3"))?.reserved, 0);
    const [cancelled] = await until("OrderCancelled", async () => {
      const found = payments().of(placed.orderId, "OrderCancelled");
      return found.length > 0 ? found : undefined;
    });
    assert.deepEqual(
      [cancelled?.cancelCode, cancelled?.reservationId, cancelled?.paymentId],
      ["CANCEL_CODE_OUT_OF_STOCK", "", ""],
    );
    assert.deepEqual(payments().of(placed.orderId, "PaymentRequested"), []);
  });

  test("a declined card and a processing error: CANCELLED with the shopper's words, and the stock released", async () => {
    await h.stock("4", 2);
    const declined = await settled((await place([{ bookId: "4", quantity: 2 }], "pm_decline")).orderId);
    assert.equal(declined.status, OrderStatus.ORDER_STATUS_CANCELLED);
    assert.equal(declined.cancelCode, CancelCode.CANCEL_CODE_PAYMENT_DECLINED);
    assert.equal(declined.cancelReason, "Your card was declined");
    assert.deepEqual([declined.payment?.cardLast4, declined.payment?.paymentId], ["0002", ""]);
    // Inventory released the reservation on OrderCancelled: both copies are available again.
    await until("the release", async () => (await stockOf("4"))?.available === 2);

    const failed = await settled((await place([{ bookId: "4", quantity: 1 }], "pm_fail")).orderId);
    assert.equal(failed.cancelCode, CancelCode.CANCEL_CODE_PAYMENT_FAILED);
    assert.equal(failed.cancelReason, "The payment could not be processed; you have not been charged");
    await until("the release", async () => (await stockOf("4"))?.available === 2);
  });

  test("duplicate and late answers change nothing; a late authorization of a cancelled order is voided", async () => {
    await h.stock("5", 3);
    const confirmed = await settled((await place([{ bookId: "5", quantity: 1 }], "pm_ok_visa")).orderId);
    const before = await h.db
      .selectFrom("orders")
      .select("version")
      .where("id", "=", confirmed.orderId)
      .executeTakeFirstOrThrow();
    // The same answer again (a redelivery with a new event id) and a contradicting one.
    const duplicate = await payments().publish(paymentsEventsV1.PaymentAuthorized, {
      orderId: confirmed.orderId,
      paymentId: `pay_${confirmed.orderId}`,
      amount: confirmed.total,
      cardBrand: "visa",
      cardLast4: "4242",
    });
    const contradicting = await payments().publish(
      paymentsEventsV1.PaymentRefused,
      paymentsEventsV1.PaymentRefused.fromPartial({ orderId: confirmed.orderId, declined: true }),
    );

    // A declined order whose authorization then arrives (a reordering): OrderCancelled again, with the payment.
    const declined = await settled((await place([{ bookId: "5", quantity: 1 }], "pm_decline")).orderId);
    await payments().publish(paymentsEventsV1.PaymentAuthorized, {
      orderId: declined.orderId,
      paymentId: "pay_late",
      amount: declined.total,
      cardBrand: "visa",
      cardLast4: "4242",
    });
    const cancellations = await until("the second OrderCancelled", async () => {
      const found = payments().of(declined.orderId, "OrderCancelled");
      return found.length >= 2 ? found : undefined;
    });
    assert.deepEqual(
      cancellations.map((c) => c.paymentId),
      ["", "pay_late"],
    );
    const after = await h.client.getOrder({ orderId: declined.orderId }, { metadata: shopper });
    assert.equal(after.order?.status, OrderStatus.ORDER_STATUS_CANCELLED);
    assert.equal(after.order?.cancelCode, CancelCode.CANCEL_CODE_PAYMENT_DECLINED);

    // The two answers for the confirmed order were handled, and changed nothing.
    await until("both answers handled", async () => {
      const rows = await h.db
        .selectFrom("processed_events")
        .select("event_id")
        .where("event_id", "in", [duplicate, contradicting])
        .execute();
      return rows.length === 2;
    });
    const now = await h.db
      .selectFrom("orders")
      .select(["version", "status"])
      .where("id", "=", confirmed.orderId)
      .executeTakeFirstOrThrow();
    assert.deepEqual([now.version, now.status], [before.version, "confirmed"]);
  });

  test("a confirmed order cancelled by its owner: OrderCancelled with was_confirmed, and Inventory restocks", async () => {
    const before = (await stockOf("5"))?.onHand ?? 0;
    const confirmed = await settled((await place([{ bookId: "5", quantity: 1 }], "pm_ok_visa")).orderId);
    assert.equal(confirmed.status, OrderStatus.ORDER_STATUS_CONFIRMED);
    await until("the commit", async () => (await stockOf("5"))?.onHand === before - 1);
    const { order } = await h.client.cancelOrder({ orderId: confirmed.orderId, reason: "" }, { metadata: shopper });
    assert.equal(order?.status, OrderStatus.ORDER_STATUS_CANCELLED);
    const [event] = await until("OrderCancelled", async () => {
      const found = payments().of(confirmed.orderId, "OrderCancelled");
      return found.length > 0 ? found : undefined;
    });
    assert.deepEqual([event?.wasConfirmed, event?.paymentId], [true, `pay_${confirmed.orderId}`]);
    await until("the restock", async () => (await stockOf("5"))?.onHand === before);
  });
});
