// Verified purchases: an OrderDelivered makes its owner a shopper who received each of its
// books. It runs in the transaction that records the event as handled, so a redelivery changes
// nothing; recording is insert-if-absent, so deliveries may arrive in any order.
import type { EventBus } from "@obfy/kit/events";
import { NonRetryableError } from "@obfy/kit/events";
import { ordersEventsV1 } from "@obfy/protos";
import { recordDelivery } from "./db/purchases.js";
import type { ReviewsSchema } from "./db/schema.js";

/** Subscribes the OrderDelivered handler on `bus`. */
export function subscribeDeliveries(bus: EventBus<ReviewsSchema>): void {
  bus.subscribe(ordersEventsV1.OrderDelivered, async (event, trx) => {
    const { orderId, ownerId } = event.data;
    if (orderId === "" || ownerId === "") throw new NonRetryableError("OrderDelivered without an order_id or owner_id");
    const bookIds = [...new Set(event.data.lines.map((l) => l.bookId).filter((id) => id !== ""))];
    await recordDelivery(trx, { accountId: ownerId, orderId, bookIds });
  });
}
