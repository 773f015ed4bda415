// What each step of an order's life does to its row and which event it publishes, inside the
// caller's transaction, on an order the caller has locked (findOrder with `lock`). The RPC
// handlers, the saga's event handlers and the sweeper all go through these, so each rule lives
// once, and an order's state and the event that tells the others commit together (outbox).
import type { Transaction } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import { ordersEventsV1 } from "@obfy/protos";
import { findOrder, type StoredOrder, updateOrder } from "./db/orders.js";
import type { OrdersSchema } from "./db/schema.js";
import { type CancelCodeName, orderedLines, timestamp } from "./order-view.js";

type Trx = Transaction<OrdersSchema>;
type Bus = Pick<EventBus<OrdersSchema>, "publish">;

/** The words a shopper reads for each way an order can end without a sale (bookstore.orders.v1.CancelCode). */
export const CANCEL_REASONS = {
  outOfStock: (titles: readonly string[]) => `Not enough stock for: ${titles.join(", ")}`,
  declined: "Your card was declined",
  paymentFailed: "The payment could not be processed; you have not been charged",
  timedOut: "Checkout took too long; you have not been charged",
  byShopper: "Cancelled at your request",
  byAdmin: (reason: string) => `Cancelled by the store: ${reason}`,
} as const;

async function reload(trx: Trx, id: string): Promise<StoredOrder> {
  const order = await findOrder(trx, id);
  if (order === undefined) throw new Error(`order ${id} vanished inside its transaction`);
  return order;
}

const money = (order: StoredOrder) => ({ currencyCode: order.currency_code, amountMinor: Number(order.total_minor) });

/** Publishes OrderPlaced for a just-inserted order. */
export async function publishPlaced(trx: Trx, bus: Bus, order: StoredOrder): Promise<void> {
  await bus.publish(
    trx,
    ordersEventsV1.OrderPlaced,
    {
      orderId: order.id,
      ownerId: order.owner_id,
      customerEmail: order.customer_email,
      lines: orderedLines(order),
      total: money(order),
      placeTime: timestamp(order.created_at),
      cartId: order.cart_id,
    },
    { subject: order.id },
  );
}

/** Stock is held: the order moves to the payment step and asks Payments with PaymentRequested. */
export async function requestPayment(
  trx: Trx,
  bus: Bus,
  order: StoredOrder,
  reservationId: string,
  paymentTimeoutSeconds: number,
): Promise<StoredOrder> {
  await updateOrder(
    trx,
    order.id,
    { reservationId, step: { step: "payment", timeoutSeconds: paymentTimeoutSeconds } },
    "Stock reserved",
  );
  await bus.publish(
    trx,
    ordersEventsV1.PaymentRequested,
    {
      orderId: order.id,
      ownerId: order.owner_id,
      paymentMethodId: order.payment_method_id,
      amount: money(order),
    },
    { subject: order.id },
  );
  return reload(trx, order.id);
}

/** Payment authorized: CONFIRMED, and OrderConfirmed (Inventory commits, Payments captures, the receipt goes). */
export async function confirm(
  trx: Trx,
  bus: Bus,
  order: StoredOrder,
  payment: { readonly paymentId: string; readonly cardBrand: string; readonly cardLast4: string },
): Promise<StoredOrder> {
  await updateOrder(
    trx,
    order.id,
    { status: "confirmed", step: null, ...payment },
    "Payment authorized; order confirmed",
  );
  await bus.publish(
    trx,
    ordersEventsV1.OrderConfirmed,
    {
      orderId: order.id,
      ownerId: order.owner_id,
      customerEmail: order.customer_email,
      lines: orderedLines(order),
      total: money(order),
      reservationId: order.reservation_id ?? "",
      paymentId: payment.paymentId,
      confirmTime: timestamp(new Date()),
    },
    { subject: order.id },
  );
  return reload(trx, order.id);
}

/** Publishes OrderCancelled for `order` as it now is (the compensations follow from it). */
export async function publishCancelled(trx: Trx, bus: Bus, order: StoredOrder): Promise<void> {
  await bus.publish(
    trx,
    ordersEventsV1.OrderCancelled,
    {
      orderId: order.id,
      ownerId: order.owner_id,
      customerEmail: order.customer_email,
      lines: orderedLines(order),
      cancelCode: order.cancel_code ?? "",
      reason: order.cancel_reason ?? "",
      reservationId: order.reservation_id ?? "",
      paymentId: order.payment_id ?? "",
      wasConfirmed: order.was_confirmed,
    },
    { subject: order.id },
  );
}

/**
 * CANCELLED with a reason the shopper reads, from PENDING or CONFIRMED (the caller checked),
 * and OrderCancelled: Inventory releases (or restocks), Payments voids (or refunds).
 */
export async function cancel(
  trx: Trx,
  bus: Bus,
  order: StoredOrder,
  code: CancelCodeName,
  reason: string,
  extra: { readonly paymentId?: string; readonly cardBrand?: string; readonly cardLast4?: string } = {},
): Promise<StoredOrder> {
  await updateOrder(
    trx,
    order.id,
    {
      status: "cancelled",
      step: null,
      ...extra,
      cancel: { code, reason, wasConfirmed: order.status === "confirmed" },
    },
    reason,
  );
  const cancelled = await reload(trx, order.id);
  await publishCancelled(trx, bus, cancelled);
  return cancelled;
}

/** CONFIRMED → SHIPPED, and OrderShipped. */
export async function ship(trx: Trx, bus: Bus, order: StoredOrder): Promise<StoredOrder> {
  await updateOrder(trx, order.id, { status: "shipped" }, "Shipped");
  await bus.publish(
    trx,
    ordersEventsV1.OrderShipped,
    {
      orderId: order.id,
      ownerId: order.owner_id,
      customerEmail: order.customer_email,
      lines: orderedLines(order),
    },
    { subject: order.id },
  );
  return reload(trx, order.id);
}

/** SHIPPED → DELIVERED, and OrderDelivered (its books become verified purchases). */
export async function deliver(trx: Trx, bus: Bus, order: StoredOrder): Promise<StoredOrder> {
  await updateOrder(trx, order.id, { status: "delivered" }, "Delivered");
  await bus.publish(
    trx,
    ordersEventsV1.OrderDelivered,
    { orderId: order.id, ownerId: order.owner_id, lines: orderedLines(order) },
    { subject: order.id },
  );
  return reload(trx, order.id);
}

/** DELIVERED → REFUNDED, and OrderRefunded (Payments refunds the whole amount). */
export async function refund(trx: Trx, bus: Bus, order: StoredOrder, reason: string): Promise<StoredOrder> {
  await updateOrder(trx, order.id, { status: "refunded" }, `Refunded: ${reason}`);
  await bus.publish(
    trx,
    ordersEventsV1.OrderRefunded,
    {
      orderId: order.id,
      ownerId: order.owner_id,
      customerEmail: order.customer_email,
      paymentId: order.payment_id ?? "",
      amount: money(order),
      reason,
    },
    { subject: order.id },
  );
  return reload(trx, order.id);
}
