// Ordered lines leave the cart: on OrderPlaced, each line of the order's cart loses the copies
// that were ordered (a line the shopper raised meanwhile keeps the extra copies). It runs in the
// transaction that records the event as handled, so a redelivery changes nothing.
import type { EventBus } from "@obfy/kit/events";
import { ordersEventsV1 } from "@obfy/protos";
import { type CartKey, deleteLines, findLines, lockExistingCart, setQuantity, touchCart } from "./db/carts.js";
import type { CartSchema } from "./db/schema.js";
import { canonicalUuid } from "./validation.js";

/** The cart an order came from: the owner's own, or an anonymous one; undefined for none. */
export function orderCart(order: { readonly cartId: string; readonly ownerId: string }): CartKey | undefined {
  if (order.cartId === "") return undefined;
  if (order.cartId === order.ownerId) return { kind: "account", id: order.ownerId };
  const anonymous = canonicalUuid(order.cartId);
  return anonymous === undefined ? undefined : { kind: "anonymous", id: anonymous };
}

/** Subscribes the OrderPlaced handler on `bus`. */
export function subscribeOrders(bus: EventBus<CartSchema>): void {
  bus.subscribe(ordersEventsV1.OrderPlaced, async (event, trx) => {
    const cart = orderCart(event.data);
    if (cart === undefined) return;
    if (!(await lockExistingCart(trx, cart))) return;
    const ordered = new Map<string, number>();
    for (const line of event.data.lines) ordered.set(line.bookId, (ordered.get(line.bookId) ?? 0) + line.quantity);
    const gone: string[] = [];
    for (const line of await findLines(trx, cart)) {
      const quantity = ordered.get(line.book_id);
      if (quantity === undefined) continue;
      if (line.quantity <= quantity) gone.push(line.book_id);
      else await setQuantity(trx, cart, line.book_id, line.quantity - quantity);
    }
    await deleteLines(trx, cart, gone);
    await touchCart(trx, cart);
  });
}
