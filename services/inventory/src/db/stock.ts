// Queries on stock rows and the adjustments' audit log.
import { type Kysely, type Selectable, sql, type Transaction } from "@obfy/kit/db";
import type { InventorySchema } from "./schema.js";

type Db = Kysely<InventorySchema> | Transaction<InventorySchema>;

/** A stock row as read. */
export type StockRow = Pick<
  Selectable<InventorySchema["stock"]>,
  "book_id" | "on_hand" | "reserved" | "version" | "updated_at"
>;

const STOCK_COLUMNS = ["book_id", "on_hand", "reserved", "version", "updated_at"] as const;

/** The stock rows of `bookIds` that exist (any order). */
export function findStocks(db: Db, bookIds: readonly string[], signal?: AbortSignal): Promise<StockRow[]> {
  if (bookIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom("stock")
    .select(STOCK_COLUMNS)
    .where("book_id", "in", [...bookIds])
    .execute({ signal });
}

/**
 * Locks the stock rows of `bookIds` (those that exist) for the rest of the transaction, in one
 * statement and in book-id order. Every transaction that changes several rows locks them this
 * way, so two of them always queue in the same order and can never deadlock.
 */
export function lockStocks(trx: Transaction<InventorySchema>, bookIds: readonly string[]): Promise<StockRow[]> {
  if (bookIds.length === 0) return Promise.resolve([]);
  return trx
    .selectFrom("stock")
    .select(STOCK_COLUMNS)
    .where("book_id", "in", [...bookIds])
    .orderBy(sql`book_id collate "C"`)
    .forUpdate()
    .execute();
}

/** Creates the book's stock row with `onHand` unless it has one; true when it was created. */
export async function createStockIfAbsent(db: Db, bookId: string, onHand: number): Promise<boolean> {
  const result = await db
    .insertInto("stock")
    .values({ book_id: bookId, on_hand: onHand })
    .onConflict((c) => c.column("book_id").doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** True when no book has a stock row yet. */
export async function stockIsEmpty(db: Db): Promise<boolean> {
  return (await db.selectFrom("stock").select("book_id").limit(1).executeTakeFirst()) === undefined;
}

/** Changes a locked row's counters by the given amounts; the CHECK constraints refuse a negative result. */
export function changeStock(
  trx: Transaction<InventorySchema>,
  bookId: string,
  change: { readonly onHand?: number; readonly reserved?: number },
): Promise<StockRow> {
  return trx
    .updateTable("stock")
    .set({
      on_hand: sql<number>`on_hand + ${change.onHand ?? 0}`,
      reserved: sql<number>`reserved + ${change.reserved ?? 0}`,
    })
    .where("book_id", "=", bookId)
    .returning(STOCK_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** One page of stock rows in book-id order, after `afterBookId`; `maxAvailable` < 0 means all. */
export function listStocks(
  db: Db,
  options: { readonly afterBookId: string | undefined; readonly limit: number; readonly maxAvailable: number },
  signal?: AbortSignal,
): Promise<StockRow[]> {
  let query = db.selectFrom("stock").select(STOCK_COLUMNS);
  if (options.afterBookId !== undefined)
    query = query.where(sql<boolean>`book_id collate "C" > ${options.afterBookId}`);
  if (options.maxAvailable >= 0) query = query.where(sql<boolean>`on_hand - reserved <= ${options.maxAvailable}`);
  return query.orderBy(sql`book_id collate "C"`).limit(options.limit).execute({ signal });
}

/** An adjustment as the audit log keeps it. */
export type AdjustmentRow = Selectable<InventorySchema["stock_adjustments"]>;

/** The adjustment recorded under `key`, if any. */
export function findAdjustment(db: Db, key: string): Promise<AdjustmentRow | undefined> {
  return db.selectFrom("stock_adjustments").selectAll().where("idempotency_key", "=", key).executeTakeFirst();
}

/**
 * Records an adjustment under its key unless the key is taken (a concurrent insert of the same
 * key waits for the other transaction); true when this call recorded it.
 */
export async function recordAdjustment(
  trx: Transaction<InventorySchema>,
  adjustment: {
    readonly key: string;
    readonly bookId: string;
    readonly delta: number;
    readonly reason: string;
    readonly actor: string;
    readonly onHandAfter: number;
  },
): Promise<boolean> {
  const result = await trx
    .insertInto("stock_adjustments")
    .values({
      idempotency_key: adjustment.key,
      book_id: adjustment.bookId,
      delta: adjustment.delta,
      reason: adjustment.reason,
      actor: adjustment.actor,
      on_hand_after: adjustment.onHandAfter,
    })
    .onConflict((c) => c.column("idempotency_key").doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** True once a Catalog backfill went through every page. */
export async function backfillCompleted(db: Db): Promise<boolean> {
  return (await db.selectFrom("catalog_backfill").select("completed_at").executeTakeFirst()) !== undefined;
}

/** Marks the Catalog backfill done. */
export async function markBackfillCompleted(db: Db): Promise<void> {
  await db
    .insertInto("catalog_backfill")
    .values({ completed_at: new Date() })
    .onConflict((c) => c.column("id").doNothing())
    .execute();
}
