// The OrdersService's RPCs: validation, ownership, one transaction per change (with its event
// in the outbox), answers in the proto's shapes.
import { createHash, randomUUID } from "node:crypto";
import { type CallContext, Unavailable } from "@obfy/kit/core";
import type { Database, Transaction } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import { type Principal, requirePrincipal } from "@obfy/kit/security";
import type { ServiceImplementation } from "@obfy/kit/server";
import type { ordersV1 } from "@obfy/protos";
import { type CatalogBooks, priceBooks } from "./catalog-prices.js";
import { findOrder, findOrderByKey, insertOrder, listOrders, type StoredOrder } from "./db/orders.js";
import type { OrdersSchema, StoredAddress } from "./db/schema.js";
import {
  adminsOnlyOwners,
  adminsOnlySearch,
  hasShipped,
  invalidField,
  invalidPageToken,
  keyUsed,
  notConfirmed,
  notDelivered,
  notShipped,
  orderNotFound,
  pricesChanged,
} from "./errors.js";
import { orderOf, statusName } from "./order-view.js";
import { type OrderWatch, WatchClosedError } from "./order-watch.js";
import { CANCEL_REASONS, cancel, deliver, publishPlaced, refund, ship } from "./transitions.js";
import { checkAddress, checkId, checkLines, checkPageSize, checkReason, checkSearch, isUuid } from "./validation.js";

/** What the handlers need. */
export interface OrdersHandlerDeps {
  readonly database: Database<OrdersSchema>;
  readonly bus: Pick<EventBus<OrdersSchema>, "publish">;
  readonly catalog: CatalogBooks;
  readonly watch: OrderWatch;
  readonly stockTimeoutSeconds: number;
  readonly catalogTimeoutMs: number;
  /** Aborted when the service begins to stop: open watches end with UNAVAILABLE. */
  readonly stopping: AbortSignal;
}

const SHUTTING_DOWN = "Server is shutting down";

/** What makes two PlaceOrder requests "the same checkout": lines (in any order), card, address. */
function fingerprintOf(
  lines: readonly { bookId: string; quantity: number }[],
  paymentMethodId: string,
  address: StoredAddress,
): string {
  const sorted = [...lines].sort((a, b) => (a.bookId < b.bookId ? -1 : a.bookId > b.bookId ? 1 : 0));
  return createHash("sha256")
    .update(JSON.stringify({ lines: sorted.map((l) => [l.bookId, l.quantity]), paymentMethodId, address }))
    .digest("base64url");
}

interface PageToken {
  readonly before: string;
  readonly filter: string;
}

function encodePageToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

function decodePageToken(value: string, filter: string): PageToken | undefined {
  if (value === "") return undefined;
  try {
    const token = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as Partial<PageToken>;
    if (typeof token.before === "string" && /^\d{1,18}$/.test(token.before) && token.filter === filter) {
      return { before: token.before, filter };
    }
  } catch {
    // Not ours: refused below.
  }
  throw invalidPageToken();
}

const isAdmin = (principal: Principal): boolean => principal.role === "admin";

/** The order if the caller may see it: its owner or an admin. Anyone else gets NOT_FOUND, as for no order. */
function visible(order: StoredOrder | undefined, principal: Principal): StoredOrder {
  if (order === undefined || (order.owner_id !== principal.subject && !isAdmin(principal))) throw orderNotFound();
  return order;
}

/** Creates the OrdersService handlers. */
export function createOrdersHandlers(
  deps: OrdersHandlerDeps,
): ServiceImplementation<typeof ordersV1.OrdersServiceService> {
  const { database, bus, watch } = deps;
  const db = database.kysely;

  async function load(orderId: string, principal: Principal, trx?: Transaction<OrdersSchema>): Promise<StoredOrder> {
    if (orderId === "" || !isUuid(orderId)) throw orderNotFound();
    return visible(await findOrder(trx ?? db, orderId, { lock: trx !== undefined }), principal);
  }

  /** Runs an admin transition on a locked order and logs who did it. */
  async function adminChange(
    context: CallContext,
    orderId: string,
    action: string,
    change: (trx: Transaction<OrdersSchema>, order: StoredOrder) => Promise<StoredOrder>,
  ): Promise<{ order: ordersV1.Order }> {
    const principal = requirePrincipal(context);
    const order = await database.transaction(async (trx) => change(trx, await load(orderId, principal, trx)));
    context.log.info(
      { order_id: order.id, actor: principal.subject, action, status: order.status },
      "Admin order action",
    );
    return { order: orderOf(order) };
  }

  return {
    async placeOrder(request, context) {
      const principal = requirePrincipal(context);
      const key = checkId("idempotency_key", request.idempotencyKey);
      const lines = checkLines(request.lines);
      const paymentMethodId = checkId("payment_method_id", request.paymentMethodId);
      const address = checkAddress(request.shippingAddress);
      const fingerprint = fingerprintOf(lines, paymentMethodId, address);
      const ownerId = principal.subject;
      const same = (order: StoredOrder): { order: ordersV1.Order } => {
        if (order.request_fingerprint !== fingerprint) throw keyUsed();
        return { order: orderOf(order) };
      };

      // A retry of a placed checkout gets its order back, whatever the prices are now.
      const earlier = await findOrderByKey(db, ownerId, key);
      if (earlier !== undefined) return same(earlier);

      const books = await priceBooks(
        deps.catalog,
        lines.map((l) => l.bookId),
        { signal: context.signal, timeoutMs: deps.catalogTimeoutMs },
      );
      const priced = lines.map((l) => {
        const book = books.get(l.bookId);
        if (book === undefined) throw new Error(`book ${l.bookId} priced but missing`);
        return { bookId: l.bookId, title: book.title, quantity: l.quantity, unitPriceMinor: book.priceMinor, book };
      });
      const currencyCode = priced[0]?.book.currencyCode ?? "USD";
      const totalMinor = priced.reduce((sum, l) => sum + l.unitPriceMinor * l.quantity, 0);
      const expected = request.expectedTotal;
      if (
        expected !== undefined &&
        (expected.amountMinor !== totalMinor ||
          (expected.currencyCode !== "" && expected.currencyCode !== currencyCode))
      ) {
        throw pricesChanged();
      }

      const outcome = await database.transaction(async (trx) => {
        const order = await insertOrder(trx, {
          id: randomUUID(),
          ownerId,
          idempotencyKey: key,
          fingerprint,
          customerEmail: principal.email ?? "",
          // A shopper's cart is keyed by their account id: Cart takes the ordered lines out of it.
          cartId: principal.role === "client" ? "" : ownerId,
          currencyCode,
          totalMinor,
          paymentMethodId,
          shippingAddress: address,
          lines: priced.map(({ book: _book, ...line }) => line),
          stockTimeoutSeconds: deps.stockTimeoutSeconds,
        });
        if (order === undefined) {
          // A concurrent submit with the same key committed first: its order is the answer.
          const winner = await findOrderByKey(trx, ownerId, key);
          if (winner === undefined) throw new Error(`idempotency key conflicted but no order holds it`);
          return { order: winner, placed: false };
        }
        await publishPlaced(trx, bus, order);
        return { order, placed: true };
      });
      if (!outcome.placed) return same(outcome.order);
      context.log.info({ order_id: outcome.order.id, owner_id: ownerId, total_minor: totalMinor }, "Order placed");
      return { order: orderOf(outcome.order) };
    },

    async getOrder(request, context) {
      const principal = requirePrincipal(context);
      return { order: orderOf(await load(request.orderId, principal)) };
    },

    async listOrders(request, context) {
      const principal = requirePrincipal(context);
      const limit = checkPageSize(request.pageSize);
      const search = checkSearch(request.search);
      const admin = isAdmin(principal);
      if (search !== "" && !admin) throw adminsOnlySearch();
      let ownerId: string | undefined = principal.subject;
      if (request.ownerId !== "" && request.ownerId !== principal.subject) {
        if (!admin) throw adminsOnlyOwners();
        ownerId = request.ownerId === "*" ? undefined : checkId("owner_id", request.ownerId);
      }
      const status = request.status === 0 ? undefined : statusName(request.status);
      if (request.status !== 0 && status === undefined) throw invalidField("status", "status is not an order status");
      const filter = JSON.stringify([ownerId ?? null, status ?? null, search]);
      const token = decodePageToken(request.pageToken, filter);
      const rows = await listOrders(
        db,
        { ownerId, status, search, beforeSeq: token?.before, limit: limit + 1 },
        context.signal,
      );
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        orders: page.map(orderOf),
        nextPageToken: rows.length > limit && last !== undefined ? encodePageToken({ before: last.seq, filter }) : "",
      };
    },

    async cancelOrder(request, context) {
      const principal = requirePrincipal(context);
      const order = await database.transaction(async (trx) => {
        const order = await load(request.orderId, principal, trx);
        // An admin cancels for the store (with a reason) unless cancelling an order of their own without one.
        const byStore = isAdmin(principal) && (order.owner_id !== principal.subject || request.reason.trim() !== "");
        const reason = byStore ? checkReason(request.reason) : "";
        if (order.status === "cancelled") return order;
        if (order.status !== "pending" && order.status !== "confirmed") throw hasShipped();
        return byStore
          ? cancel(trx, bus, order, "CANCEL_CODE_BY_ADMIN", CANCEL_REASONS.byAdmin(reason))
          : cancel(trx, bus, order, "CANCEL_CODE_BY_SHOPPER", CANCEL_REASONS.byShopper);
      });
      context.log.info({ order_id: order.id, actor: principal.subject, code: order.cancel_code }, "Order cancelled");
      return { order: orderOf(order) };
    },

    async *watchOrder(request, context) {
      const principal = requirePrincipal(context);
      const first = await load(request.orderId, principal);
      if (deps.stopping.aborted) throw new Unavailable(SHUTTING_DOWN);
      const ended = AbortSignal.any([context.signal, deps.stopping]);
      try {
        for await (const order of watch.watch(first, ended)) yield { order: orderOf(order) };
      } catch (error) {
        if (error instanceof WatchClosedError) throw new Unavailable(SHUTTING_DOWN);
        throw error;
      }
      if (deps.stopping.aborted && !context.signal.aborted) throw new Unavailable(SHUTTING_DOWN);
    },

    shipOrder(request, context) {
      return adminChange(context, request.orderId, "ship", async (trx, order) => {
        if (order.status === "shipped") return order;
        if (order.status !== "confirmed") throw notConfirmed();
        return ship(trx, bus, order);
      });
    },

    deliverOrder(request, context) {
      return adminChange(context, request.orderId, "deliver", async (trx, order) => {
        if (order.status === "delivered") return order;
        if (order.status !== "shipped") throw notShipped();
        return deliver(trx, bus, order);
      });
    },

    refundOrder(request, context) {
      const reason = checkReason(request.reason);
      return adminChange(context, request.orderId, "refund", async (trx, order) => {
        if (order.status === "refunded") return order;
        if (order.status !== "delivered") throw notDelivered();
        return refund(trx, bus, order, reason);
      });
    },
  };
}
