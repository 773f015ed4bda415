// Stored orders in the API's and the events' shapes.
import { type ordersEventsV1, ordersV1 } from "@obfy/protos";
import type { StoredOrder } from "./db/orders.js";
import type { OrderStatusName } from "./db/schema.js";

const { OrderStatus, CancelCode } = ordersV1;

/** Stored status → API status. */
export const STATUS_OF: Record<OrderStatusName, ordersV1.OrderStatus> = {
  pending: OrderStatus.ORDER_STATUS_PENDING,
  confirmed: OrderStatus.ORDER_STATUS_CONFIRMED,
  shipped: OrderStatus.ORDER_STATUS_SHIPPED,
  delivered: OrderStatus.ORDER_STATUS_DELIVERED,
  cancelled: OrderStatus.ORDER_STATUS_CANCELLED,
  refunded: OrderStatus.ORDER_STATUS_REFUNDED,
};

/** API status → stored status (UNSPECIFIED and unknown values: undefined). */
export function statusName(status: ordersV1.OrderStatus): OrderStatusName | undefined {
  return (Object.keys(STATUS_OF) as OrderStatusName[]).find((name) => STATUS_OF[name] === status);
}

/** Statuses after which nothing changes any more (WatchOrder ends there). */
export const FINAL_STATUSES: ReadonlySet<OrderStatusName> = new Set(["delivered", "cancelled", "refunded"]);

/** The CancelCode names stored and sent in OrderCancelled. */
export type CancelCodeName = Exclude<keyof typeof CancelCode, "CANCEL_CODE_UNSPECIFIED" | "UNRECOGNIZED">;

function cancelCodeOf(name: string | null): ordersV1.CancelCode {
  if (name === null) return CancelCode.CANCEL_CODE_UNSPECIFIED;
  const value = (CancelCode as unknown as Record<string, ordersV1.CancelCode>)[name];
  return value ?? CancelCode.CANCEL_CODE_UNSPECIFIED;
}

/** A Date as a protobuf Timestamp. */
export function timestamp(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}

/** A stored order in the API's shape. */
export function orderOf(order: StoredOrder): ordersV1.Order {
  const currencyCode = order.currency_code;
  return {
    orderId: order.id,
    ownerId: order.owner_id,
    customerEmail: order.customer_email,
    status: STATUS_OF[order.status],
    lines: order.lines.map((l) => ({
      bookId: l.bookId,
      title: l.title,
      quantity: l.quantity,
      unitPrice: { currencyCode, amountMinor: l.unitPriceMinor },
      lineTotal: { currencyCode, amountMinor: l.unitPriceMinor * l.quantity },
    })),
    total: { currencyCode, amountMinor: Number(order.total_minor) },
    payment: {
      cardBrand: order.card_brand,
      cardLast4: order.card_last4,
      paymentId: order.payment_id ?? "",
    },
    shippingAddress: { ...order.shipping_address },
    cancelReason: order.cancel_reason ?? "",
    cancelCode: cancelCodeOf(order.cancel_code),
    history: order.history.map((h) => ({ status: STATUS_OF[h.status], time: timestamp(h.createdAt), note: h.note })),
    createTime: timestamp(order.created_at),
    updateTime: timestamp(order.updated_at),
  };
}

/** The order's lines as events carry them. */
export function orderedLines(order: StoredOrder): ordersEventsV1.OrderedLine[] {
  return order.lines.map((l) => ({
    bookId: l.bookId,
    title: l.title,
    quantity: l.quantity,
    unitPrice: { currencyCode: order.currency_code, amountMinor: l.unitPriceMinor },
  }));
}
