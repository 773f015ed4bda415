// What reserving, confirming, releasing, expiring and restocking do to the tables, inside the
// caller's transaction. The gRPC handlers, the saga's event handlers and the expiry sweeper all
// go through these, so each rule lives once.
//
// Locking: a transaction locks the reservation row it works on first (if any), then the stock
// rows of every book it touches in one statement, in book-id order (lockStocks). Two
// transactions therefore always want their stock rows in the same order, and a wait for a
// reservation row is never made while holding stock rows: no deadlock is possible.
import { randomUUID } from "node:crypto";
import type { Transaction } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import { inventoryEventsV1 } from "@obfy/protos";
import {
  compareIds,
  findReservationByKey,
  insertReservation,
  type Line,
  type ReservationWithLines,
  updateReservation,
} from "./db/reservations.js";
import type { InventorySchema } from "./db/schema.js";
import { changeStock, lockStocks } from "./db/stock.js";
import type { ShortLine } from "./errors.js";

type Trx = Transaction<InventorySchema>;
type Bus = Pick<EventBus<InventorySchema>, "publish">;

/** What {@link reserve} did. */
export type ReserveOutcome =
  | { readonly kind: "reserved"; readonly reservation: ReservationWithLines }
  | { readonly kind: "existing"; readonly reservation: ReservationWithLines }
  | { readonly kind: "conflict"; readonly reservation: ReservationWithLines }
  | { readonly kind: "short"; readonly short: readonly ShortLine[] };

/** Lines merged per book and sorted by book id, as reservations store them. */
export function normalizeLines(lines: readonly Line[]): Line[] {
  const merged = new Map<string, number>();
  for (const line of lines) merged.set(line.bookId, (merged.get(line.bookId) ?? 0) + line.quantity);
  return [...merged].map(([bookId, quantity]) => ({ bookId, quantity })).sort((a, b) => compareIds(a.bookId, b.bookId));
}

function sameLines(a: readonly Line[], b: readonly Line[]): boolean {
  const x = normalizeLines(a);
  const y = normalizeLines(b);
  return (
    x.length === y.length && x.every((line, i) => line.bookId === y[i]?.bookId && line.quantity === y[i]?.quantity)
  );
}

function existingOutcome(reservation: ReservationWithLines, lines: readonly Line[]): ReserveOutcome {
  return sameLines(reservation.lines, lines) ? { kind: "existing", reservation } : { kind: "conflict", reservation };
}

/**
 * Holds every line or none. The same key with the same lines returns the reservation made the
 * first time (whatever its state); with other lines, `conflict`. Nothing is written when a line
 * is short.
 */
export async function reserve(
  trx: Trx,
  request: {
    readonly key: string;
    readonly lines: readonly Line[];
    readonly ttlSeconds: number;
    readonly orderId: string | null;
  },
): Promise<ReserveOutcome> {
  const lines = normalizeLines(request.lines);
  const before = await findReservationByKey(trx, request.key);
  if (before !== undefined) return existingOutcome(before, lines);

  const stocks = new Map(
    (
      await lockStocks(
        trx,
        lines.map((l) => l.bookId),
      )
    ).map((s) => [s.book_id, s]),
  );
  const short: ShortLine[] = [];
  for (const line of lines) {
    const stock = stocks.get(line.bookId);
    const available = stock === undefined ? 0 : stock.on_hand - stock.reserved;
    if (available < line.quantity) short.push({ bookId: line.bookId, requested: line.quantity, available });
  }
  if (short.length > 0) return { kind: "short", short };

  // After the stock locks: a concurrent request with the same key has then either committed
  // (the insert finds its row) or holds no lock this one waits for.
  const reservation = await insertReservation(trx, {
    id: randomUUID(),
    key: request.key,
    orderId: request.orderId,
    state: "held",
    ttlSeconds: request.ttlSeconds,
    lines,
  });
  if (reservation === undefined) {
    const winner = await findReservationByKey(trx, request.key);
    if (winner === undefined) throw new Error(`reservation key ${request.key} conflicted but has no row`);
    return existingOutcome(winner, lines);
  }
  for (const line of lines) await changeStock(trx, line.bookId, { reserved: line.quantity });
  return { kind: "reserved", reservation };
}

/** Gives a held (locked) reservation's stock back, as released by its holder or as expired. */
export async function giveBack(
  trx: Trx,
  bus: Bus,
  reservation: ReservationWithLines,
  state: "released" | "expired",
  options: { readonly orderCancelled?: boolean } = {},
): Promise<ReservationWithLines> {
  await lockStocks(
    trx,
    reservation.lines.map((l) => l.bookId),
  );
  for (const line of reservation.lines) await changeStock(trx, line.bookId, { reserved: -line.quantity });
  const row = await updateReservation(trx, reservation.id, {
    state,
    ...(options.orderCancelled ? { orderCancelled: true } : {}),
  });
  if (row.order_id !== null) {
    await bus.publish(
      trx,
      inventoryEventsV1.ReservationReleased,
      { orderId: row.order_id, reservationId: row.id, reason: state },
      { subject: row.order_id },
    );
  }
  return { ...row, lines: reservation.lines };
}

/** Turns a held (locked) reservation into sold stock: it leaves on_hand and reserved. */
export async function confirmHeld(
  trx: Trx,
  bus: Bus,
  reservation: ReservationWithLines,
): Promise<ReservationWithLines> {
  await lockStocks(
    trx,
    reservation.lines.map((l) => l.bookId),
  );
  for (const line of reservation.lines) {
    await changeStock(trx, line.bookId, { onHand: -line.quantity, reserved: -line.quantity });
  }
  return markConfirmed(trx, bus, reservation);
}

/**
 * Confirms a released or expired (locked) reservation by taking its stock again, when every
 * line is available now; undefined (nothing changed) when one is short.
 */
export async function retakeAndConfirm(
  trx: Trx,
  bus: Bus,
  reservation: ReservationWithLines,
): Promise<ReservationWithLines | undefined> {
  const stocks = new Map(
    (
      await lockStocks(
        trx,
        reservation.lines.map((l) => l.bookId),
      )
    ).map((s) => [s.book_id, s]),
  );
  const enough = reservation.lines.every((line) => {
    const stock = stocks.get(line.bookId);
    return stock !== undefined && stock.on_hand - stock.reserved >= line.quantity;
  });
  if (!enough) return undefined;
  for (const line of reservation.lines) await changeStock(trx, line.bookId, { onHand: -line.quantity });
  return markConfirmed(trx, bus, reservation);
}

async function markConfirmed(trx: Trx, bus: Bus, reservation: ReservationWithLines): Promise<ReservationWithLines> {
  const row = await updateReservation(trx, reservation.id, { state: "confirmed" });
  if (row.order_id !== null) {
    await bus.publish(
      trx,
      inventoryEventsV1.ReservationConfirmed,
      { orderId: row.order_id, reservationId: row.id },
      { subject: row.order_id },
    );
  }
  return { ...row, lines: reservation.lines };
}

/** Puts a confirmed (locked) reservation's quantities back on hand, once. */
export async function restock(trx: Trx, reservation: ReservationWithLines): Promise<ReservationWithLines> {
  if (reservation.restocked_at !== null) return reservation;
  await lockStocks(
    trx,
    reservation.lines.map((l) => l.bookId),
  );
  for (const line of reservation.lines) await changeStock(trx, line.bookId, { onHand: line.quantity });
  const row = await updateReservation(trx, reservation.id, { restocked: true, orderCancelled: true });
  return { ...row, lines: reservation.lines };
}
