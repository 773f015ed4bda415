// Queries on reservations and their lines.
import { type Kysely, type Selectable, sql, type Transaction } from "@obfy/kit/db";
import type { InventorySchema, ReservationState } from "./schema.js";

type Db = Kysely<InventorySchema> | Transaction<InventorySchema>;

/** A reservation row as read. */
export type ReservationRow = Selectable<InventorySchema["reservations"]>;

/** A line of a reservation. */
export interface Line {
  readonly bookId: string;
  readonly quantity: number;
}

/** A reservation with its lines (in book-id order). */
export interface ReservationWithLines extends ReservationRow {
  readonly lines: readonly Line[];
}

async function withLines(db: Db, rows: readonly ReservationRow[]): Promise<ReservationWithLines[]> {
  if (rows.length === 0) return [];
  const lines = await db
    .selectFrom("reservation_lines")
    .select(["reservation_id", "book_id", "quantity"])
    .where(
      "reservation_id",
      "in",
      rows.map((r) => r.id),
    )
    .orderBy(sql`book_id collate "C"`)
    .execute();
  return rows.map((row) => ({
    ...row,
    lines: lines.filter((l) => l.reservation_id === row.id).map((l) => ({ bookId: l.book_id, quantity: l.quantity })),
  }));
}

/** The reservation made under `key`, if any. */
export async function findReservationByKey(db: Db, key: string): Promise<ReservationWithLines | undefined> {
  const row = await db.selectFrom("reservations").selectAll().where("reservation_key", "=", key).executeTakeFirst();
  return row === undefined ? undefined : (await withLines(db, [row]))[0];
}

/** The reservation `id`, if any; with `lock`, locked for the rest of the transaction. */
export async function findReservation(
  db: Db,
  id: string,
  options: { readonly lock?: boolean; readonly signal?: AbortSignal } = {},
): Promise<ReservationWithLines | undefined> {
  let query = db.selectFrom("reservations").selectAll().where("id", "=", id);
  if (options.lock) query = query.forUpdate();
  const row = await query.executeTakeFirst({ signal: options.signal });
  return row === undefined ? undefined : (await withLines(db, [row]))[0];
}

/** Locks the reservation made under `key`, if any. */
export async function lockReservationByKey(
  trx: Transaction<InventorySchema>,
  key: string,
): Promise<ReservationWithLines | undefined> {
  const row = await trx
    .selectFrom("reservations")
    .selectAll()
    .where("reservation_key", "=", key)
    .forUpdate()
    .executeTakeFirst();
  return row === undefined ? undefined : (await withLines(trx, [row]))[0];
}

/**
 * Inserts a reservation unless its key is taken (an insert of the same key in flight elsewhere
 * is waited for); undefined when the key was taken.
 */
export async function insertReservation(
  trx: Transaction<InventorySchema>,
  reservation: {
    readonly id: string;
    readonly key: string;
    readonly orderId: string | null;
    readonly state: ReservationState;
    readonly ttlSeconds: number;
    readonly lines: readonly Line[];
    readonly orderCancelled?: boolean;
  },
): Promise<ReservationWithLines | undefined> {
  const row = await trx
    .insertInto("reservations")
    .values({
      id: reservation.id,
      reservation_key: reservation.key,
      order_id: reservation.orderId,
      state: reservation.state,
      expire_at: sql<Date>`now() + make_interval(secs => ${reservation.ttlSeconds})`,
      restocked_at: null,
      order_cancelled_at: reservation.orderCancelled ? sql<Date>`now()` : null,
    })
    .onConflict((c) => c.column("reservation_key").doNothing())
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) return undefined;
  if (reservation.lines.length > 0) {
    await trx
      .insertInto("reservation_lines")
      .values(reservation.lines.map((l) => ({ reservation_id: row.id, book_id: l.bookId, quantity: l.quantity })))
      .execute();
  }
  return { ...row, lines: [...reservation.lines].sort((a, b) => compareIds(a.bookId, b.bookId)) };
}

/** Changes a locked reservation's state (and marks); returns the row as it now is. */
export async function updateReservation(
  trx: Transaction<InventorySchema>,
  id: string,
  change: { readonly state?: ReservationState; readonly restocked?: boolean; readonly orderCancelled?: boolean },
): Promise<ReservationRow> {
  return trx
    .updateTable("reservations")
    .set({
      ...(change.state === undefined ? {} : { state: change.state }),
      ...(change.restocked ? { restocked_at: sql<Date>`now()` } : {}),
      ...(change.orderCancelled ? { order_cancelled_at: sql<Date>`now()` } : {}),
      updated_at: sql<Date>`now()`,
    })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Locks up to `limit` held reservations past their expiry that no other transaction holds
 * (`SKIP LOCKED`: replicas sweeping at once take different ones), oldest expiry first.
 */
export async function claimExpiredReservations(
  trx: Transaction<InventorySchema>,
  limit: number,
): Promise<ReservationWithLines[]> {
  const rows = await trx
    .selectFrom("reservations")
    .selectAll()
    .where("state", "=", "held")
    .where("expire_at", "<=", sql<Date>`now()`)
    .orderBy("expire_at")
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  return withLines(trx, rows);
}

/** True when a held reservation's expiry has passed, by the database's clock. */
export async function isPastExpiry(trx: Transaction<InventorySchema>, id: string): Promise<boolean> {
  const row = await trx
    .selectFrom("reservations")
    .select(sql<boolean>`expire_at <= now()`.as("expired"))
    .where("id", "=", id)
    .executeTakeFirstOrThrow();
  return row.expired;
}

/** Book ids compared as the database's `collate "C"` orders them (by code point, byte-wise in UTF-8). */
export function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
