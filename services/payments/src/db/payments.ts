// Queries on payment methods, payments, the idempotency keys of their operations and the
// cancelled-orders marks.
import { type Kysely, type Selectable, sql, type Transaction } from "@obfy/kit/db";
import type { OperationKind, PaymentState, PaymentsSchema } from "./schema.js";

type Db = Kysely<PaymentsSchema> | Transaction<PaymentsSchema>;

/** A payment method row as read. */
export type PaymentMethodRow = Selectable<PaymentsSchema["payment_methods"]>;
/** A payment row as read. */
export type PaymentRow = Selectable<PaymentsSchema["payments"]>;
/** An operation's idempotency key as read. */
export type OperationRow = Selectable<PaymentsSchema["payment_operations"]>;

/** Stores a payment method. */
export async function insertPaymentMethod(
  db: Db,
  method: Omit<PaymentMethodRow, "created_at">,
): Promise<PaymentMethodRow> {
  return db.insertInto("payment_methods").values(method).returningAll().executeTakeFirstOrThrow();
}

/** The payment method `id`, if any. */
export async function findPaymentMethod(db: Db, id: string): Promise<PaymentMethodRow | undefined> {
  return db.selectFrom("payment_methods").selectAll().where("id", "=", id).executeTakeFirst();
}

/** The payment authorized under `key`, if any. */
export async function findPaymentByKey(db: Db, key: string): Promise<PaymentRow | undefined> {
  return db.selectFrom("payments").selectAll().where("authorize_key", "=", key).executeTakeFirst();
}

/** The payment `id`, if any; with `lock`, locked for the rest of the transaction. */
export async function findPayment(
  db: Db,
  id: string,
  options: { readonly lock?: boolean } = {},
): Promise<PaymentRow | undefined> {
  let query = db.selectFrom("payments").selectAll().where("id", "=", id);
  if (options.lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** Locks every payment of an order (in id order, so two transactions never cross). */
export async function lockPaymentsOfOrder(trx: Transaction<PaymentsSchema>, orderId: string): Promise<PaymentRow[]> {
  return trx.selectFrom("payments").selectAll().where("order_id", "=", orderId).orderBy("id").forUpdate().execute();
}

/** Inserts a payment unless its key is taken (waiting for an insert of the same key in flight); undefined when taken. */
export async function insertPayment(
  trx: Transaction<PaymentsSchema>,
  payment: {
    readonly id: string;
    readonly authorizeKey: string;
    readonly orderId: string;
    readonly ownerId: string;
    readonly paymentMethodId: string;
    readonly cardBrand: string;
    readonly cardLast4: string;
    readonly amountMinor: number;
    readonly currencyCode: string;
    readonly status: PaymentState;
    readonly failureCode: string | null;
    readonly failureMessage: string | null;
  },
): Promise<PaymentRow | undefined> {
  return trx
    .insertInto("payments")
    .values({
      id: payment.id,
      authorize_key: payment.authorizeKey,
      order_id: payment.orderId,
      owner_id: payment.ownerId,
      payment_method_id: payment.paymentMethodId,
      card_brand: payment.cardBrand,
      card_last4: payment.cardLast4,
      amount_minor: payment.amountMinor,
      currency_code: payment.currencyCode,
      status: payment.status,
      failure_code: payment.failureCode,
      failure_message: payment.failureMessage,
      captured_at: null,
      voided_at: null,
      refunded_at: null,
    })
    .onConflict((c) => c.column("authorize_key").doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** Moves a locked payment to `status`, stamping the matching time; returns the row as it now is. */
export async function setPaymentStatus(
  trx: Transaction<PaymentsSchema>,
  id: string,
  status: "captured" | "voided" | "refunded",
): Promise<PaymentRow> {
  const stamp = { captured: "captured_at", voided: "voided_at", refunded: "refunded_at" } as const;
  return trx
    .updateTable("payments")
    .set({ status, [stamp[status]]: sql<Date>`now()`, updated_at: sql<Date>`now()` })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The operation recorded under `key`, if any. */
export async function findOperation(db: Db, key: string): Promise<OperationRow | undefined> {
  return db.selectFrom("payment_operations").selectAll().where("idempotency_key", "=", key).executeTakeFirst();
}

/** Records an operation's key; false when the key was taken. */
export async function insertOperation(
  trx: Transaction<PaymentsSchema>,
  operation: { readonly key: string; readonly kind: OperationKind; readonly paymentId: string },
): Promise<boolean> {
  const row = await trx
    .insertInto("payment_operations")
    .values({ idempotency_key: operation.key, kind: operation.kind, payment_id: operation.paymentId })
    .onConflict((c) => c.column("idempotency_key").doNothing())
    .returning("idempotency_key")
    .executeTakeFirst();
  return row !== undefined;
}

/** Payments, newest first, after the cursor, optionally of one order. */
export async function listPayments(
  db: Db,
  options: {
    readonly orderId?: string;
    /** The `seq` of the last row of the previous page. */
    readonly beforeSeq?: string;
    readonly limit: number;
  },
): Promise<PaymentRow[]> {
  let query = db.selectFrom("payments").selectAll();
  if (options.orderId !== undefined) query = query.where("order_id", "=", options.orderId);
  if (options.beforeSeq !== undefined) query = query.where("seq", "<", options.beforeSeq);
  return query.orderBy("seq", "desc").limit(options.limit).execute();
}

/** Marks an order cancelled; false when it already was. */
export async function markOrderCancelled(trx: Transaction<PaymentsSchema>, orderId: string): Promise<boolean> {
  const row = await trx
    .insertInto("cancelled_orders")
    .values({ order_id: orderId })
    .onConflict((c) => c.column("order_id").doNothing())
    .returning("order_id")
    .executeTakeFirst();
  return row !== undefined;
}

/** True when the order's OrderCancelled was handled. */
export async function isOrderCancelled(db: Db, orderId: string): Promise<boolean> {
  const row = await db
    .selectFrom("cancelled_orders")
    .select("order_id")
    .where("order_id", "=", orderId)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Serialises the saga's handlers of one order until the transaction ends (a transaction-level
 * advisory lock on the order id): an OrderCancelled waits for a PaymentRequested whose
 * authorization is under way, so it sees the payment and voids it.
 */
export async function lockOrder(trx: Transaction<PaymentsSchema>, orderId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`payments-order:${orderId}`}, 0))`.execute(trx);
}
