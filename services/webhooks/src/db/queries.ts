// The Webhooks service's queries: subscriptions and the delivery log.
import type { Insertable, Kysely, Selectable, Transaction } from "@obfy/kit/db";
import type { DeliveryState, WebhooksSchema } from "./schema.js";

type Db = Kysely<WebhooksSchema> | Transaction<WebhooksSchema>;

export type SubscriptionRow = Selectable<WebhooksSchema["subscriptions"]>;
export type DeliveryRow = Selectable<WebhooksSchema["deliveries"]>;

/** Where a page ends: the last row's creation time and id (newest first). */
export interface PageCursor {
  readonly createdAt: Date;
  readonly id: string;
}

export async function insertSubscription(
  db: Db,
  row: Insertable<WebhooksSchema["subscriptions"]>,
): Promise<SubscriptionRow> {
  return db.insertInto("subscriptions").values(row).returningAll().executeTakeFirstOrThrow();
}

export function findSubscription(db: Db, id: string): Promise<SubscriptionRow | undefined> {
  return db
    .selectFrom("subscriptions")
    .selectAll()
    .where("id", "=", id)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
}

/** Live subscriptions, newest first; `clientId` undefined for everyone's. */
export function listSubscriptions(
  db: Db,
  options: { readonly clientId: string | undefined; readonly after: PageCursor | undefined; readonly limit: number },
): Promise<SubscriptionRow[]> {
  let query = db.selectFrom("subscriptions").selectAll().where("deleted_at", "is", null);
  if (options.clientId !== undefined) query = query.where("client_id", "=", options.clientId);
  const after = options.after;
  if (after !== undefined) {
    query = query.where((eb) =>
      eb.or([
        eb("created_at", "<", after.createdAt),
        eb.and([eb("created_at", "=", after.createdAt), eb("id", "<", after.id)]),
      ]),
    );
  }
  return query.orderBy("created_at", "desc").orderBy("id", "desc").limit(options.limit).execute();
}

/** The live subscriptions of `clientId` that take `event`. */
export function subscriptionsFor(db: Db, clientId: string, event: string): Promise<SubscriptionRow[]> {
  return db
    .selectFrom("subscriptions")
    .selectAll()
    .where("client_id", "=", clientId)
    .where("deleted_at", "is", null)
    .where((eb) => eb(eb.val(event), "=", eb.fn.any("events")))
    .execute();
}

/** Marks a subscription deleted and fails its pending deliveries. */
export async function deleteSubscription(trx: Transaction<WebhooksSchema>, id: string): Promise<boolean> {
  const deleted = await trx
    .updateTable("subscriptions")
    .set({ deleted_at: new Date() })
    .where("id", "=", id)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  await trx
    .updateTable("deliveries")
    .set({ state: "failed", last_error: "subscription deleted", next_attempt_at: null })
    .where("subscription_id", "=", id)
    .where("state", "=", "pending")
    .execute();
  return deleted.numUpdatedRows > 0n;
}

export function insertDelivery(db: Db, row: Insertable<WebhooksSchema["deliveries"]>): Promise<DeliveryRow> {
  return db.insertInto("deliveries").values(row).returningAll().executeTakeFirstOrThrow();
}

export function findDelivery(db: Db, id: string): Promise<DeliveryRow | undefined> {
  return db.selectFrom("deliveries").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Deliveries newest first, of `subscriptionIds` (undefined: every subscription). */
export function listDeliveries(
  db: Db,
  options: {
    readonly subscriptionIds: readonly string[] | undefined;
    readonly after: PageCursor | undefined;
    readonly limit: number;
  },
): Promise<DeliveryRow[]> {
  let query = db.selectFrom("deliveries").selectAll();
  if (options.subscriptionIds !== undefined) {
    if (options.subscriptionIds.length === 0) return Promise.resolve([]);
    query = query.where("subscription_id", "in", [...options.subscriptionIds]);
  }
  const after = options.after;
  if (after !== undefined) {
    query = query.where((eb) =>
      eb.or([
        eb("created_at", "<", after.createdAt),
        eb.and([eb("created_at", "=", after.createdAt), eb("id", "<", after.id)]),
      ]),
    );
  }
  return query.orderBy("created_at", "desc").orderBy("id", "desc").limit(options.limit).execute();
}

/** Records one attempt's outcome. */
export async function recordAttempt(
  db: Db,
  id: string,
  outcome: {
    readonly state: DeliveryState;
    readonly statusCode: number;
    readonly error: string;
    readonly nextAttemptAt: Date | null;
  },
): Promise<void> {
  await db
    .updateTable("deliveries")
    .set((eb) => ({
      state: outcome.state,
      attempt_count: eb("attempt_count", "+", 1),
      last_status_code: outcome.statusCode,
      last_error: outcome.error,
      last_attempt_at: new Date(),
      next_attempt_at: outcome.nextAttemptAt,
    }))
    .where("id", "=", id)
    .execute();
}
