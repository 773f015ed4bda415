// Queries on carts and their lines. Every change of a cart's lines runs in a transaction that
// first locks the cart's row (lockCart), so concurrent changes of one cart queue up and each
// sees the lines the previous one left; a merge locks its two carts in key order.
import { type Kysely, type Selectable, sql, type Transaction } from "@obfy/kit/db";
import type { CartKind, CartSchema } from "./schema.js";

type Db = Kysely<CartSchema> | Transaction<CartSchema>;

/** Which cart. */
export interface CartKey {
  readonly kind: CartKind;
  readonly id: string;
}

/** A line as stored. */
export type LineRow = Selectable<CartSchema["cart_lines"]>;

/** Creates the cart if absent and locks its row for the rest of the transaction. */
export async function lockCart(trx: Transaction<CartSchema>, cart: CartKey): Promise<void> {
  await trx
    .insertInto("carts")
    .values({ kind: cart.kind, id: cart.id })
    .onConflict((c) => c.columns(["kind", "id"]).doNothing())
    .execute();
  await trx
    .selectFrom("carts")
    .select("id")
    .where("kind", "=", cart.kind)
    .where("id", "=", cart.id)
    .forUpdate()
    .executeTakeFirstOrThrow();
}

/** Locks an existing cart; false when there is none (nothing to change). */
export async function lockExistingCart(trx: Transaction<CartSchema>, cart: CartKey): Promise<boolean> {
  const row = await trx
    .selectFrom("carts")
    .select("id")
    .where("kind", "=", cart.kind)
    .where("id", "=", cart.id)
    .forUpdate()
    .executeTakeFirst();
  return row !== undefined;
}

/** Marks the cart changed now. */
export async function touchCart(trx: Transaction<CartSchema>, cart: CartKey): Promise<void> {
  await trx
    .updateTable("carts")
    .set({ updated_at: sql<Date>`now()` })
    .where("kind", "=", cart.kind)
    .where("id", "=", cart.id)
    .execute();
}

/** The cart's lines, oldest first, and when the cart last changed (undefined: no such cart). */
export async function readCart(
  db: Db,
  cart: CartKey,
  signal?: AbortSignal,
): Promise<{ readonly lines: LineRow[]; readonly updatedAt: Date | undefined }> {
  const [row, lines] = await Promise.all([
    db
      .selectFrom("carts")
      .select("updated_at")
      .where("kind", "=", cart.kind)
      .where("id", "=", cart.id)
      .executeTakeFirst({ signal }),
    db
      .selectFrom("cart_lines")
      .selectAll()
      .where("kind", "=", cart.kind)
      .where("cart_id", "=", cart.id)
      .orderBy("added_at")
      .orderBy("book_id")
      .execute({ signal }),
  ]);
  return { lines, updatedAt: row?.updated_at };
}

/** The cart's lines (inside a transaction that locked it). */
export function findLines(db: Db, cart: CartKey): Promise<LineRow[]> {
  return db.selectFrom("cart_lines").selectAll().where("kind", "=", cart.kind).where("cart_id", "=", cart.id).execute();
}

/** Inserts a line. */
export async function insertLine(
  trx: Transaction<CartSchema>,
  cart: CartKey,
  line: { readonly bookId: string; readonly quantity: number; readonly priceMinor: number; readonly currency: string },
): Promise<void> {
  await trx
    .insertInto("cart_lines")
    .values({
      kind: cart.kind,
      cart_id: cart.id,
      book_id: line.bookId,
      quantity: line.quantity,
      added_price_minor: line.priceMinor,
      added_currency: line.currency,
    })
    .execute();
}

/** Sets a line's quantity. */
export async function setQuantity(
  trx: Transaction<CartSchema>,
  cart: CartKey,
  bookId: string,
  quantity: number,
): Promise<void> {
  await trx
    .updateTable("cart_lines")
    .set({ quantity })
    .where("kind", "=", cart.kind)
    .where("cart_id", "=", cart.id)
    .where("book_id", "=", bookId)
    .execute();
}

/** Deletes lines of the cart (the given books, or all); how many went. */
export async function deleteLines(
  trx: Transaction<CartSchema>,
  cart: CartKey,
  bookIds?: readonly string[],
): Promise<number> {
  if (bookIds !== undefined && bookIds.length === 0) return 0;
  let query = trx.deleteFrom("cart_lines").where("kind", "=", cart.kind).where("cart_id", "=", cart.id);
  if (bookIds !== undefined) query = query.where("book_id", "in", [...bookIds]);
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows);
}
