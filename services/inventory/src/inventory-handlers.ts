// The InventoryService's RPCs: validation, one transaction per change, answers in the proto's shapes.
import { Unavailable } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import type { ServiceImplementation } from "@obfy/kit/server";
import { inventoryV1 } from "@obfy/protos";
import { actorOf } from "./actor.js";
import { findReservation, isPastExpiry, type ReservationWithLines } from "./db/reservations.js";
import type { InventorySchema } from "./db/schema.js";
import {
  changeStock,
  createStockIfAbsent,
  findAdjustment,
  findStocks,
  listStocks,
  lockStocks,
  recordAdjustment,
  type StockRow,
} from "./db/stock.js";
import {
  adjustmentKeyUsed,
  cannotRemoveMissing,
  cannotRemoveReserved,
  invalidPageToken,
  notEnoughStock,
  reservationConfirmed,
  reservationExpired,
  reservationKeyUsed,
  reservationNotFound,
  reservationReleased,
} from "./errors.js";
import { confirmHeld, giveBack, reserve } from "./reservations.js";
import { type StockSnapshot, type StockWatch, WatchClosedError } from "./stock-watch.js";
import {
  checkBookIds,
  checkDelta,
  checkId,
  checkLines,
  checkPageSize,
  checkReason,
  checkTtl,
  isUuid,
} from "./validation.js";

/** What the handlers need. */
export interface InventoryHandlerDeps {
  readonly database: Database<InventorySchema>;
  readonly bus: Pick<EventBus<InventorySchema>, "publish">;
  readonly watch: StockWatch;
  /** Default time to live of a reservation, in seconds. */
  readonly reservationTtlSeconds: number;
  /** Aborted when the service begins to stop: open watches end with UNAVAILABLE. */
  readonly stopping: AbortSignal;
}

const SHUTTING_DOWN = "Server is shutting down";

function timestamp(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

function stockOf(bookId: string, row: StockRow | undefined): inventoryV1.Stock {
  if (row === undefined) return { bookId, available: 0, reserved: 0, onHand: 0, updateTime: undefined };
  return {
    bookId,
    available: row.on_hand - row.reserved,
    reserved: row.reserved,
    onHand: row.on_hand,
    updateTime: timestamp(row.updated_at.getTime()),
  };
}

function stockOfSnapshot(snapshot: StockSnapshot): inventoryV1.Stock {
  return {
    bookId: snapshot.bookId,
    available: snapshot.onHand - snapshot.reserved,
    reserved: snapshot.reserved,
    onHand: snapshot.onHand,
    updateTime: snapshot.updatedAtMs === 0 ? undefined : timestamp(snapshot.updatedAtMs),
  };
}

const STATES: Record<ReservationWithLines["state"], inventoryV1.Reservation_State> = {
  held: inventoryV1.Reservation_State.STATE_HELD,
  confirmed: inventoryV1.Reservation_State.STATE_CONFIRMED,
  released: inventoryV1.Reservation_State.STATE_RELEASED,
  expired: inventoryV1.Reservation_State.STATE_EXPIRED,
};

/** A stored reservation in the API's shape. */
export function reservationOf(reservation: ReservationWithLines): inventoryV1.Reservation {
  return {
    reservationId: reservation.id,
    reservationKey: reservation.reservation_key,
    lines: reservation.lines.map((l) => ({ bookId: l.bookId, quantity: l.quantity })),
    state: STATES[reservation.state],
    expireTime: timestamp(reservation.expire_at.getTime()),
    createTime: timestamp(reservation.created_at.getTime()),
    orderId: reservation.order_id ?? "",
  };
}

interface PageToken {
  readonly after: string;
  readonly max: number;
}

function encodePageToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

function decodePageToken(value: string, max: number): PageToken | undefined {
  if (value === "") return undefined;
  try {
    const token = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as Partial<PageToken>;
    if (typeof token.after === "string" && token.max === max) return { after: token.after, max };
  } catch {
    // Not ours: refused below.
  }
  throw invalidPageToken();
}

/** Creates the InventoryService handlers. */
export function createInventoryHandlers(
  deps: InventoryHandlerDeps,
): ServiceImplementation<typeof inventoryV1.InventoryServiceService> {
  const { database, bus, watch } = deps;
  const db = database.kysely;

  async function loadReservation(id: string, lock: boolean, trx = db): Promise<ReservationWithLines> {
    if (id === "" || !isUuid(id)) throw reservationNotFound();
    const reservation = await findReservation(trx, id, { lock });
    if (reservation === undefined) throw reservationNotFound();
    return reservation;
  }

  return {
    async getStock(request, context) {
      const bookId = checkId("book_id", request.bookId);
      const [row] = await findStocks(db, [bookId], context.signal);
      return { stock: stockOf(bookId, row) };
    },

    async batchGetStock(request, context) {
      checkBookIds("book_ids", request.bookIds);
      const rows = new Map((await findStocks(db, request.bookIds, context.signal)).map((r) => [r.book_id, r]));
      return { stocks: request.bookIds.map((bookId) => stockOf(bookId, rows.get(bookId))) };
    },

    async listStock(request, context) {
      const limit = checkPageSize(request.pageSize);
      const max = request.maxAvailable === undefined || request.maxAvailable < 0 ? -1 : request.maxAvailable;
      const token = decodePageToken(request.pageToken, max);
      const rows = await listStocks(
        db,
        { afterBookId: token?.after, limit: limit + 1, maxAvailable: max },
        context.signal,
      );
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        stocks: page.map((row) => stockOf(row.book_id, row)),
        nextPageToken: rows.length > limit && last !== undefined ? encodePageToken({ after: last.book_id, max }) : "",
      };
    },

    async adjustStock(request, context) {
      const bookId = checkId("book_id", request.bookId);
      const delta = checkDelta(request.delta);
      const reason = checkReason(request.reason);
      const key = checkId("idempotency_key", request.idempotencyKey);
      const actor = actorOf(context);
      const same = (a: { book_id: string; delta: number; reason: string }) =>
        a.book_id === bookId && a.delta === delta && a.reason === reason;

      const earlier = await findAdjustment(db, key);
      if (earlier !== undefined && !same(earlier)) throw adjustmentKeyUsed();
      const row = await database.transaction(async (trx) => {
        if (earlier === undefined) {
          // A delivery for a book the Inventory has not heard of yet starts its row at 0.
          if (delta > 0) await createStockIfAbsent(trx, bookId, 0);
          const [stock] = await lockStocks(trx, [bookId]);
          const onHand = stock?.on_hand ?? 0;
          const reserved = stock?.reserved ?? 0;
          if (onHand + delta < 0) throw cannotRemoveMissing();
          if (onHand + delta < reserved) throw cannotRemoveReserved();
          const recorded = await recordAdjustment(trx, {
            key,
            bookId,
            delta,
            reason,
            actor,
            onHandAfter: onHand + delta,
          });
          if (recorded) return changeStock(trx, bookId, { onHand: delta });
          // The same key committed meanwhile: answer as a retry does.
          const winner = await findAdjustment(trx, key);
          if (winner === undefined || !same(winner)) throw adjustmentKeyUsed();
        }
        return (await findStocks(trx, [bookId]))[0];
      });
      context.log.info({ book_id: bookId, delta, actor, retry: earlier !== undefined }, "Stock adjusted");
      return { stock: stockOf(bookId, row) };
    },

    async reserveStock(request) {
      const key = checkId("reservation_key", request.reservationKey);
      const lines = checkLines(request.lines);
      const ttlSeconds = checkTtl(request.ttl, deps.reservationTtlSeconds);
      const outcome = await database.transaction((trx) => reserve(trx, { key, lines, ttlSeconds, orderId: null }));
      switch (outcome.kind) {
        case "short":
          throw notEnoughStock(outcome.short);
        case "conflict":
          throw reservationKeyUsed();
        default:
          return { reservation: reservationOf(outcome.reservation) };
      }
    },

    async confirmReservation(request) {
      const id = checkId("reservation_id", request.reservationId);
      const outcome = await database.transaction(async (trx) => {
        const reservation = await loadReservation(id, true, trx);
        if (reservation.state !== "held") return reservation;
        // Past its expiry but not swept yet: it expires now rather than being confirmed.
        if (await isPastExpiry(trx, reservation.id)) return giveBack(trx, bus, reservation, "expired");
        return confirmHeld(trx, bus, reservation);
      });
      if (outcome.state === "expired") throw reservationExpired();
      if (outcome.state === "released") throw reservationReleased();
      return { reservation: reservationOf(outcome) };
    },

    async releaseReservation(request) {
      const id = checkId("reservation_id", request.reservationId);
      const outcome = await database.transaction(async (trx) => {
        const reservation = await loadReservation(id, true, trx);
        if (reservation.state !== "held") return reservation;
        return giveBack(trx, bus, reservation, "released");
      });
      if (outcome.state === "confirmed") throw reservationConfirmed();
      return { reservation: reservationOf(outcome) };
    },

    async getReservation(request) {
      const id = checkId("reservation_id", request.reservationId);
      return { reservation: reservationOf(await loadReservation(id, false)) };
    },

    async *watchStock(request, context) {
      const bookIds = checkBookIds("book_ids", request.bookIds);
      if (deps.stopping.aborted) throw new Unavailable(SHUTTING_DOWN);
      const ended = AbortSignal.any([context.signal, deps.stopping]);
      try {
        for await (const snapshot of watch.watch(bookIds, ended)) yield { stock: stockOfSnapshot(snapshot) };
      } catch (error) {
        if (error instanceof WatchClosedError) throw new Unavailable(SHUTTING_DOWN);
        throw error;
      }
      if (deps.stopping.aborted && !context.signal.aborted) throw new Unavailable(SHUTTING_DOWN);
    },
  };
}
