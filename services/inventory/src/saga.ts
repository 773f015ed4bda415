// The checkout saga's stock step (docs/architecture.md, "The checkout saga"): Inventory's
// answers to the order events. Each handler runs in the transaction that records the event as
// handled, so a redelivery changes nothing; the reservation key `order:<order_id>` makes a
// second OrderPlaced for the same order (a different event id) find the first reservation.
// Events of one order may arrive in any order: OrderCancelled marks the reservation (or leaves
// a tombstone when none exists yet), and later OrderPlaced / OrderConfirmed see the mark.
import { randomUUID } from "node:crypto";
import type { Logger } from "@obfy/kit/core";
import type { Transaction } from "@obfy/kit/db";
import { type EventBus, NonRetryableError } from "@obfy/kit/events";
import { inventoryEventsV1, ordersEventsV1 } from "@obfy/protos";
import {
  insertReservation,
  lockReservationByKey,
  type ReservationWithLines,
  updateReservation,
} from "./db/reservations.js";
import type { InventorySchema } from "./db/schema.js";
import { confirmHeld, giveBack, normalizeLines, reserve, restock, retakeAndConfirm } from "./reservations.js";

type Trx = Transaction<InventorySchema>;

/** The reservation key of an order's stock. */
export function orderReservationKey(orderId: string): string {
  return `order:${orderId}`;
}

function timestamp(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}

/** Subscribes the saga's handlers on `bus`. */
export function subscribeSaga(
  bus: EventBus<InventorySchema>,
  options: { readonly reservationTtlSeconds: number; readonly logger: Logger },
): void {
  const logger = options.logger.child({ component: "saga" });

  async function publishReserved(trx: Trx, reservation: ReservationWithLines, orderId: string): Promise<void> {
    await bus.publish(
      trx,
      inventoryEventsV1.StockReserved,
      {
        orderId,
        reservationId: reservation.id,
        lines: reservation.lines.map((l) => ({ bookId: l.bookId, quantity: l.quantity })),
        expireTime: timestamp(reservation.expire_at),
      },
      { subject: orderId },
    );
  }

  bus.subscribe(ordersEventsV1.OrderPlaced, async (event, trx) => {
    const { orderId } = event.data;
    if (orderId === "") throw new NonRetryableError("OrderPlaced without an order_id");
    const lines = normalizeLines(event.data.lines.map((l) => ({ bookId: l.bookId, quantity: l.quantity })));
    if (lines.length === 0 || lines.some((l) => l.bookId === "" || !(l.quantity > 0))) {
      throw new NonRetryableError(`OrderPlaced ${orderId} has no lines, or a line without a book or a quantity`);
    }
    const outcome = await reserve(trx, {
      key: orderReservationKey(orderId),
      lines,
      ttlSeconds: options.reservationTtlSeconds,
      orderId,
    });
    switch (outcome.kind) {
      case "short":
        await bus.publish(
          trx,
          inventoryEventsV1.StockReservationFailed,
          {
            orderId,
            shortLines: outcome.short.map((s) => ({
              bookId: s.bookId,
              requested: s.requested,
              available: s.available,
            })),
          },
          { subject: orderId },
        );
        return;
      case "reserved":
        await publishReserved(trx, outcome.reservation, orderId);
        return;
      case "existing": {
        const { reservation } = outcome;
        // The answer again (Orders handles it idempotently), while the stock is still held.
        if (reservation.order_cancelled_at === null && reservation.state === "held") {
          await publishReserved(trx, reservation, orderId);
        } else {
          logger.info({ order_id: orderId, state: reservation.state }, "OrderPlaced again for a settled order");
        }
        return;
      }
      case "conflict":
        // A tombstone (the cancellation came first) has no lines: nothing to reserve.
        if (outcome.reservation.order_cancelled_at !== null) {
          logger.info({ order_id: orderId }, "OrderPlaced after its OrderCancelled: nothing reserved");
          return;
        }
        throw new NonRetryableError(`OrderPlaced ${orderId} again with other lines than its reservation`);
    }
  });

  bus.subscribe(ordersEventsV1.OrderConfirmed, async (event, trx) => {
    const { orderId } = event.data;
    const reservation = await lockReservationByKey(trx, orderReservationKey(orderId));
    if (reservation === undefined) {
      throw new NonRetryableError(`OrderConfirmed ${orderId}, but the order has no reservation`);
    }
    if (reservation.order_cancelled_at !== null || reservation.state === "confirmed") return;
    if (reservation.state === "held") {
      await confirmHeld(trx, bus, reservation);
      return;
    }
    // Released or expired before the confirmation arrived: take the stock again if it is there.
    if ((await retakeAndConfirm(trx, bus, reservation)) === undefined) {
      logger.error(
        { order_id: orderId, reservation_id: reservation.id, state: reservation.state },
        "Order confirmed after its reservation ended, and its stock is gone",
      );
      throw new NonRetryableError(`OrderConfirmed ${orderId} after its reservation ${reservation.state}; stock short`);
    }
  });

  bus.subscribe(ordersEventsV1.OrderCancelled, async (event, trx) => {
    const { orderId } = event.data;
    const key = orderReservationKey(orderId);
    let reservation = await lockReservationByKey(trx, key);
    if (reservation === undefined) {
      // Nothing reserved yet: leave a tombstone so a late OrderPlaced reserves nothing.
      const tombstone = await insertReservation(trx, {
        id: randomUUID(),
        key,
        orderId,
        state: "released",
        ttlSeconds: 0,
        lines: [],
        orderCancelled: true,
      });
      if (tombstone !== undefined) return;
      // An OrderPlaced committed its reservation meanwhile.
      reservation = await lockReservationByKey(trx, key);
      if (reservation === undefined) throw new Error(`reservation ${key} conflicted but has no row`);
    }
    if (reservation.order_cancelled_at !== null) return;
    if (reservation.state === "held") {
      await giveBack(trx, bus, reservation, "released", { orderCancelled: true });
    } else if (reservation.state === "confirmed") {
      // The stock had left the shelf's books; the order ended without a sale: it comes back.
      await restock(trx, reservation);
    } else {
      await updateReservation(trx, reservation.id, { orderCancelled: true });
    }
  });
}
