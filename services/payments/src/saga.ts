// The checkout saga's payment step (docs/architecture.md, "The checkout saga"): Payments'
// answers to the order events. Each handler runs in the transaction that records the event as
// handled, so a redelivery changes nothing; the key "authorize:<order_id>" makes a second
// PaymentRequested for the same order (another event id) find the first payment, and the row
// lock plus the payment's state make capture, void and refund happen at most once.
// Events of one order may arrive in any order: OrderCancelled leaves a mark in
// cancelled_orders, and a later PaymentRequested or OrderConfirmed sees it and does nothing.
// The handlers of one order take its advisory lock first, so they never overlap.
import type { Logger } from "@obfy/kit/core";
import type { Transaction } from "@obfy/kit/db";
import { type EventBus, NonRetryableError } from "@obfy/kit/events";
import { ordersEventsV1 } from "@obfy/protos";
import {
  findPaymentByKey,
  findPaymentMethod,
  isOrderCancelled,
  lockOrder,
  lockPaymentsOfOrder,
  markOrderCancelled,
  type PaymentRow,
} from "./db/payments.js";
import type { PaymentsSchema } from "./db/schema.js";
import { applyOperation, orderAuthorizeKey, publishAuthorizationAnswer, recordAuthorization } from "./payments.js";
import { type AuthorizationAnswer, FAILURE_MESSAGES, type Processor } from "./processor.js";

type Trx = Transaction<PaymentsSchema>;

/** The idempotency key of a saga operation on a payment (capture, void, refund). */
export function sagaOperationKey(kind: "capture" | "void" | "refund", paymentId: string): string {
  return `${kind}:${paymentId}`;
}

/** Subscribes the saga's handlers on `bus`. */
export function subscribeSaga(
  bus: EventBus<PaymentsSchema>,
  options: { readonly processor: Processor; readonly logger: Logger },
): void {
  const logger = options.logger.child({ component: "saga" });

  /** The order's payment the event names, else the one authorized under the saga's key; locked. */
  async function lockOrderPayment(trx: Trx, orderId: string, paymentId: string): Promise<PaymentRow | undefined> {
    const payments = await lockPaymentsOfOrder(trx, orderId);
    if (paymentId !== "") return payments.find((p) => p.id === paymentId);
    return payments.find((p) => p.authorize_key === orderAuthorizeKey(orderId));
  }

  bus.subscribe(ordersEventsV1.PaymentRequested, async (event, trx) => {
    const { orderId, ownerId, paymentMethodId, amount } = event.data;
    if (orderId === "") throw new NonRetryableError("PaymentRequested without an order_id");
    if (amount === undefined || amount.currencyCode !== "USD" || !(amount.amountMinor > 0)) {
      throw new NonRetryableError(`PaymentRequested ${orderId} without a positive USD amount`);
    }
    await lockOrder(trx, orderId);
    if (await isOrderCancelled(trx, orderId)) {
      logger.info({ order_id: orderId }, "PaymentRequested after its OrderCancelled: nothing authorized");
      return;
    }
    const key = orderAuthorizeKey(orderId);
    const earlier = await findPaymentByKey(trx, key);
    if (earlier !== undefined) {
      // The answer again (Orders handles it idempotently), while it still stands.
      if (earlier.status !== "captured" && earlier.status !== "voided" && earlier.status !== "refunded") {
        await publishAuthorizationAnswer(trx, bus, earlier);
      }
      return;
    }
    const method = paymentMethodId === "" ? undefined : await findPaymentMethod(trx, paymentMethodId);
    const usable = method !== undefined && method.owner_id === ownerId ? method : undefined;
    const answer: AuthorizationAnswer =
      usable === undefined
        ? { outcome: "failed", code: "processing_error", message: FAILURE_MESSAGES.processing_error }
        : await options.processor.authorize(usable.behaviour);
    if (usable === undefined) {
      logger.warn({ order_id: orderId }, "PaymentRequested with a payment method the owner does not have");
    }
    const request = {
      key,
      orderId,
      ownerId,
      amount: { currencyCode: amount.currencyCode, amountMinor: amount.amountMinor },
    };
    const recorded = await recordAuthorization(trx, bus, request, usable, paymentMethodId, answer);
    // Another delivery recorded it meanwhile and published its answer.
    if (recorded === undefined) logger.info({ order_id: orderId }, "PaymentRequested answered by another delivery");
  });

  bus.subscribe(ordersEventsV1.OrderConfirmed, async (event, trx) => {
    const { orderId, paymentId } = event.data;
    await lockOrder(trx, orderId);
    if (await isOrderCancelled(trx, orderId)) {
      logger.info({ order_id: orderId }, "OrderConfirmed after its OrderCancelled: nothing captured");
      return;
    }
    const payment = await lockOrderPayment(trx, orderId, paymentId);
    if (payment === undefined) throw new NonRetryableError(`OrderConfirmed ${orderId}, but the order has no payment`);
    if (payment.status !== "authorized" && payment.status !== "captured" && payment.status !== "refunded") {
      throw new NonRetryableError(`OrderConfirmed ${orderId}, but its payment is ${payment.status}`);
    }
    await applyOperation(trx, bus, payment, "capture", sagaOperationKey("capture", payment.id));
  });

  bus.subscribe(ordersEventsV1.OrderCancelled, async (event, trx) => {
    const { orderId } = event.data;
    if (orderId === "") throw new NonRetryableError("OrderCancelled without an order_id");
    await lockOrder(trx, orderId);
    await markOrderCancelled(trx, orderId);
    // Every payment of the order: the saga's, and any made through the API.
    for (const payment of await lockPaymentsOfOrder(trx, orderId)) {
      if (payment.status === "authorized") {
        await applyOperation(trx, bus, payment, "void", sagaOperationKey("void", payment.id));
      } else if (payment.status === "captured") {
        await applyOperation(trx, bus, payment, "refund", sagaOperationKey("refund", payment.id));
      }
    }
  });

  bus.subscribe(ordersEventsV1.OrderRefunded, async (event, trx) => {
    const { orderId, paymentId } = event.data;
    await lockOrder(trx, orderId);
    const payment = await lockOrderPayment(trx, orderId, paymentId);
    if (payment === undefined) throw new NonRetryableError(`OrderRefunded ${orderId}, but the order has no payment`);
    switch (payment.status) {
      case "captured":
        await applyOperation(trx, bus, payment, "refund", sagaOperationKey("refund", payment.id));
        return;
      case "refunded":
        return;
      case "authorized":
        // Its OrderConfirmed (capture) is still to come: try again later.
        throw new Error(`OrderRefunded ${orderId} before its payment was captured`);
      default:
        throw new NonRetryableError(`OrderRefunded ${orderId}, but its payment is ${payment.status}`);
    }
  });
}
