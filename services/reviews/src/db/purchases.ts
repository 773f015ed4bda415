// Books the shoppers received, learnt from OrderDelivered.
import type { Kysely, Transaction } from "@obfy/kit/db";
import type { ReviewsSchema } from "./schema.js";

type Db = Kysely<ReviewsSchema> | Transaction<ReviewsSchema>;

/** True when `accountId` received `bookId` in some order. */
export async function hasReceived(db: Db, accountId: string, bookId: string): Promise<boolean> {
  const row = await db
    .selectFrom("purchases")
    .select("book_id")
    .where("account_id", "=", accountId)
    .where("book_id", "=", bookId)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Records that `accountId` received `bookIds` in `orderId` (the first order to deliver a book
 * stays recorded), and marks the account's reviews of those books verified.
 */
export async function recordDelivery(
  trx: Transaction<ReviewsSchema>,
  delivery: { readonly accountId: string; readonly orderId: string; readonly bookIds: readonly string[] },
): Promise<void> {
  if (delivery.bookIds.length === 0) return;
  await trx
    .insertInto("purchases")
    .values(
      delivery.bookIds.map((bookId) => ({
        account_id: delivery.accountId,
        book_id: bookId,
        order_id: delivery.orderId,
      })),
    )
    .onConflict((c) => c.columns(["account_id", "book_id"]).doNothing())
    .execute();
  await trx
    .updateTable("reviews")
    .set({ verified_purchase: true })
    .where("author_id", "=", delivery.accountId)
    .where("book_id", "in", [...delivery.bookIds])
    .where("verified_purchase", "=", false)
    .execute();
}
