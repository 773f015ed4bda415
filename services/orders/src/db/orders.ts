// Queries on orders, their lines and their history.
import { type Kysely, type Selectable, sql, type Transaction } from "@obfy/kit/db";
import type { OrderStatusName, OrdersSchema, SagaStep, StoredAddress } from "./schema.js";

type Db = Kysely<OrdersSchema> | Transaction<OrdersSchema>;

/** An order row as read. */
export type OrderRow = Selectable<OrdersSchema["orders"]>;

/** A line as read. */
export interface LineRow {
  readonly bookId: string;
  readonly title: string;
  readonly quantity: number;
  readonly unitPriceMinor: number;
}

/** A history entry as read. */
export interface HistoryRow {
  readonly status: OrderStatusName;
  readonly note: string;
  readonly createdAt: Date;
}

/** An order with its lines (in the order placed) and its history (oldest first). */
export interface StoredOrder extends OrderRow {
  readonly lines: readonly LineRow[];
  readonly history: readonly HistoryRow[];
}

async function withDetails(db: Db, rows: readonly OrderRow[]): Promise<StoredOrder[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [lines, history] = await Promise.all([
    db
      .selectFrom("order_lines")
      .select(["order_id", "book_id", "title", "quantity", "unit_price_minor"])
      .where("order_id", "in", ids)
      .orderBy("order_id")
      .orderBy("position")
      .execute(),
    db
      .selectFrom("order_history")
      .select(["order_id", "status", "note", "created_at"])
      .where("order_id", "in", ids)
      .orderBy("id")
      .execute(),
  ]);
  return rows.map((row) => ({
    ...row,
    lines: lines
      .filter((l) => l.order_id === row.id)
      .map((l) => ({
        bookId: l.book_id,
        title: l.title,
        quantity: l.quantity,
        unitPriceMinor: Number(l.unit_price_minor),
      })),
    history: history
      .filter((h) => h.order_id === row.id)
      .map((h) => ({ status: h.status, note: h.note, createdAt: h.created_at })),
  }));
}

/** What a new order is made of. */
export interface NewOrder {
  readonly id: string;
  readonly ownerId: string;
  readonly idempotencyKey: string;
  readonly fingerprint: string;
  readonly customerEmail: string;
  readonly cartId: string;
  readonly currencyCode: string;
  readonly totalMinor: number;
  readonly paymentMethodId: string;
  readonly shippingAddress: StoredAddress;
  readonly lines: readonly LineRow[];
  /** Seconds the stock step may take. */
  readonly stockTimeoutSeconds: number;
}

/**
 * Inserts a pending order with its lines and first history entry, unless the owner already
 * used the idempotency key (a concurrent insert of the same key is waited for): undefined then.
 */
export async function insertOrder(trx: Transaction<OrdersSchema>, order: NewOrder): Promise<StoredOrder | undefined> {
  const row = await trx
    .insertInto("orders")
    .values({
      id: order.id,
      owner_id: order.ownerId,
      idempotency_key: order.idempotencyKey,
      request_fingerprint: order.fingerprint,
      customer_email: order.customerEmail,
      cart_id: order.cartId,
      status: "pending",
      step: "stock",
      step_deadline: sql<Date>`now() + make_interval(secs => ${order.stockTimeoutSeconds})`,
      currency_code: order.currencyCode,
      total_minor: order.totalMinor,
      payment_method_id: order.paymentMethodId,
      shipping_address: JSON.stringify(order.shippingAddress),
      reservation_id: null,
      payment_id: null,
      cancel_code: null,
      cancel_reason: null,
    })
    .onConflict((c) => c.constraint("orders_idempotency").doNothing())
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) return undefined;
  await trx
    .insertInto("order_lines")
    .values(
      order.lines.map((l, position) => ({
        order_id: row.id,
        position,
        book_id: l.bookId,
        title: l.title,
        quantity: l.quantity,
        unit_price_minor: l.unitPriceMinor,
      })),
    )
    .execute();
  await addHistory(trx, row.id, "pending", "Order placed");
  return (await withDetails(trx, [row]))[0];
}

/** The order the owner placed under `key`, if any. */
export async function findOrderByKey(db: Db, ownerId: string, key: string): Promise<StoredOrder | undefined> {
  const row = await db
    .selectFrom("orders")
    .selectAll()
    .where("owner_id", "=", ownerId)
    .where("idempotency_key", "=", key)
    .executeTakeFirst();
  return row === undefined ? undefined : (await withDetails(db, [row]))[0];
}

/** The order `id`, if any; with `lock`, locked for the rest of the transaction. */
export async function findOrder(
  db: Db,
  id: string,
  options: { readonly lock?: boolean; readonly signal?: AbortSignal } = {},
): Promise<StoredOrder | undefined> {
  let query = db.selectFrom("orders").selectAll().where("id", "=", id);
  if (options.lock) query = query.forUpdate();
  const row = await query.executeTakeFirst({ signal: options.signal });
  return row === undefined ? undefined : (await withDetails(db, [row]))[0];
}

/** A change to an order (only the fields given). */
export interface OrderChange {
  readonly status?: OrderStatusName;
  /** A new saga step and the seconds it may take; `null` when the order leaves PENDING. */
  readonly step?: { readonly step: SagaStep; readonly timeoutSeconds: number } | null;
  readonly reservationId?: string;
  readonly paymentId?: string;
  readonly cardBrand?: string;
  readonly cardLast4?: string;
  readonly cancel?: { readonly code: string; readonly reason: string; readonly wasConfirmed: boolean };
}

/** Changes a locked order, and records `note` in its history (with the status it now has). */
export async function updateOrder(
  trx: Transaction<OrdersSchema>,
  id: string,
  change: OrderChange,
  note: string,
): Promise<void> {
  const step = change.step;
  const row = await trx
    .updateTable("orders")
    .set({
      ...(change.status === undefined ? {} : { status: change.status }),
      ...(step === undefined
        ? {}
        : step === null
          ? { step: null, step_deadline: null }
          : {
              step: step.step,
              step_deadline: sql<Date>`now() + make_interval(secs => ${step.timeoutSeconds})`,
            }),
      ...(change.reservationId === undefined ? {} : { reservation_id: change.reservationId }),
      ...(change.paymentId === undefined ? {} : { payment_id: change.paymentId }),
      ...(change.cardBrand === undefined ? {} : { card_brand: change.cardBrand }),
      ...(change.cardLast4 === undefined ? {} : { card_last4: change.cardLast4 }),
      ...(change.cancel === undefined
        ? {}
        : {
            cancel_code: change.cancel.code,
            cancel_reason: change.cancel.reason,
            was_confirmed: change.cancel.wasConfirmed,
          }),
    })
    .where("id", "=", id)
    .returning("status")
    .executeTakeFirstOrThrow();
  await addHistory(trx, id, row.status, note);
}

async function addHistory(
  trx: Transaction<OrdersSchema>,
  orderId: string,
  status: OrderStatusName,
  note: string,
): Promise<void> {
  await trx.insertInto("order_history").values({ order_id: orderId, status, note }).execute();
}

/**
 * Locks up to `limit` pending orders past their step's deadline that no other transaction holds
 * (`SKIP LOCKED`: replicas sweeping at once take different ones), oldest deadline first.
 */
export async function claimOverdueOrders(trx: Transaction<OrdersSchema>, limit: number): Promise<StoredOrder[]> {
  const rows = await trx
    .selectFrom("orders")
    .selectAll()
    .where("status", "=", "pending")
    .where("step_deadline", "<=", sql<Date>`now()`)
    .orderBy("step_deadline")
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  return withDetails(trx, rows);
}

/** What {@link listOrders} selects. */
export interface OrderFilter {
  /** One owner's orders; undefined for every owner's. */
  readonly ownerId?: string;
  readonly status?: OrderStatusName;
  /** Orders whose customer email or id contains this text (case-insensitive). */
  readonly search?: string;
  /** Only orders older than this position (the page token's). */
  readonly beforeSeq?: string;
  readonly limit: number;
}

/** Orders newest first, by filter, with their lines and history. */
export async function listOrders(db: Db, filter: OrderFilter, signal?: AbortSignal): Promise<StoredOrder[]> {
  let query = db.selectFrom("orders").selectAll();
  if (filter.ownerId !== undefined) query = query.where("owner_id", "=", filter.ownerId);
  if (filter.status !== undefined) query = query.where("status", "=", filter.status);
  if (filter.beforeSeq !== undefined) query = query.where("seq", "<", filter.beforeSeq as never);
  const search = filter.search;
  if (search !== undefined && search !== "") {
    // strpos, not LIKE: the text is matched as it is, with no wildcard to escape.
    query = query.where((eb) =>
      eb.or([
        eb(sql`strpos(lower(customer_email), lower(${search}))`, ">", 0),
        eb(sql`strpos(id::text, lower(${search}))`, ">", 0),
      ]),
    );
  }
  const rows = await query.orderBy("seq", "desc").limit(filter.limit).execute({ signal });
  return withDetails(db, rows);
}
