// The checkout saga, orchestrated (docs/architecture.md, "The checkout saga"): Orders' answers
// to Inventory's and Payments' events. Each handler runs in the transaction that records the
// event as handled and locks the order first, so a redelivery changes nothing and two
// deliveries for one order (events are not ordered) take turns. Only the transition the order's
// state allows applies: PENDING waiting for stock takes StockReserved / StockReservationFailed,
// PENDING waiting for payment takes PaymentAuthorized / PaymentRefused. Anything else is a
// duplicate or arrives late and changes nothing, except a payment authorized for an order that
// was cancelled meanwhile: OrderCancelled goes out again with its payment id, so Payments voids it.
import type { Logger } from "@obfy/kit/core";
import type { Transaction } from "@obfy/kit/db";
import { type EventBus, NonRetryableError } from "@obfy/kit/events";
import { inventoryEventsV1, paymentsEventsV1 } from "@obfy/protos";
import { findOrder, type StoredOrder, updateOrder } from "./db/orders.js";
import type { OrdersSchema } from "./db/schema.js";
import { CANCEL_REASONS, cancel, confirm, publishCancelled, requestPayment } from "./transitions.js";
import { isUuid } from "./validation.js";

/** Settings of the saga. */
export interface SagaOptions {
  /** Seconds Payments has to answer once stock is held. */
  readonly paymentTimeoutSeconds: number;
  readonly logger: Logger;
}

/** Subscribes the saga's handlers on `bus`. */
export function subscribeSaga(bus: EventBus<OrdersSchema>, options: SagaOptions): void {
  const logger = options.logger.child({ component: "saga" });

  async function lockOrder(trx: Transaction<OrdersSchema>, orderId: string, type: string): Promise<StoredOrder> {
    const order = isUuid(orderId) ? await findOrder(trx, orderId, { lock: true }) : undefined;
    // Orders publishes OrderPlaced only once the order committed: an answer for an order that
    // does not exist can never apply.
    if (order === undefined) throw new NonRetryableError(`${type} for unknown order ${JSON.stringify(orderId)}`);
    return order;
  }

  const ignore = (type: string, order: StoredOrder) =>
    logger.info({ order_id: order.id, status: order.status, step: order.step }, `${type} changes nothing`);

  bus.subscribe(inventoryEventsV1.StockReserved, async (event, trx) => {
    const order = await lockOrder(trx, event.data.orderId, "StockReserved");
    if (order.status === "pending" && order.step === "stock") {
      await requestPayment(trx, bus, order, event.data.reservationId, options.paymentTimeoutSeconds);
      return;
    }
    // A cancelled order's stock is released by Inventory on OrderCancelled, which it keys by
    // the order id, whichever came first. A second StockReserved (OrderPlaced redelivered) is a no-op.
    ignore("StockReserved", order);
  });

  bus.subscribe(inventoryEventsV1.StockReservationFailed, async (event, trx) => {
    const order = await lockOrder(trx, event.data.orderId, "StockReservationFailed");
    if (order.status !== "pending" || order.step !== "stock") {
      ignore("StockReservationFailed", order);
      return;
    }
    const short = new Set(event.data.shortLines.map((l) => l.bookId));
    const titles = order.lines.filter((l) => short.has(l.bookId)).map((l) => l.title);
    await cancel(
      trx,
      bus,
      order,
      "CANCEL_CODE_OUT_OF_STOCK",
      CANCEL_REASONS.outOfStock(titles.length > 0 ? titles : order.lines.map((l) => l.title)),
    );
  });

  bus.subscribe(inventoryEventsV1.ReservationReleased, async (event, trx) => {
    const order = await lockOrder(trx, event.data.orderId, "ReservationReleased");
    // The hold ran out while the order still waited for Payments (the reservation's expiry is
    // far longer than the saga's deadlines, so only a misconfiguration gets here).
    if (order.status === "pending" && event.data.reason === "expired") {
      await cancel(trx, bus, order, "CANCEL_CODE_TIMED_OUT", CANCEL_REASONS.timedOut);
    }
  });

  bus.subscribe(paymentsEventsV1.PaymentAuthorized, async (event, trx) => {
    const { paymentId, cardBrand, cardLast4 } = event.data;
    const order = await lockOrder(trx, event.data.orderId, "PaymentAuthorized");
    if (order.status === "pending" && order.step === "payment") {
      await confirm(trx, bus, order, { paymentId, cardBrand, cardLast4 });
      return;
    }
    if (order.status === "cancelled" && order.payment_id === null && paymentId !== "") {
      // Authorized after the order was cancelled (timed out, or the shopper cancelled): the
      // OrderCancelled that went out knew no payment. Tell Payments again, with this one.
      logger.warn({ order_id: order.id, payment_id: paymentId }, "Payment authorized for a cancelled order; voiding");
      await updateOrder(trx, order.id, { paymentId, cardBrand, cardLast4 }, "Late payment authorization released");
      const updated = await findOrder(trx, order.id);
      if (updated !== undefined) await publishCancelled(trx, bus, updated);
      return;
    }
    ignore("PaymentAuthorized", order);
  });

  bus.subscribe(paymentsEventsV1.PaymentRefused, async (event, trx) => {
    const { cardBrand, cardLast4, declined } = event.data;
    const order = await lockOrder(trx, event.data.orderId, "PaymentRefused");
    if (order.status !== "pending" || order.step !== "payment") {
      ignore("PaymentRefused", order);
      return;
    }
    await cancel(
      trx,
      bus,
      order,
      declined ? "CANCEL_CODE_PAYMENT_DECLINED" : "CANCEL_CODE_PAYMENT_FAILED",
      declined ? CANCEL_REASONS.declined : CANCEL_REASONS.paymentFailed,
      // No payment id: nothing is held, so OrderCancelled names none (its field means "authorized").
      { cardBrand, cardLast4 },
    );
  });
}
