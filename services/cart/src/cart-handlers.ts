// The CartService's RPCs. Which cart a call changes comes from the caller's verified token (the
// account's cart) or, without one, from the anonymous cart id; every change locks its cart's
// row first, so concurrent changes of one cart never lose an update or pass the limits.
import type { CallContext } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import { principalOf, requirePrincipal } from "@obfy/kit/security";
import type { ServiceImplementation } from "@obfy/kit/server";
import type { cartV1 } from "@obfy/protos";
import { type CartViewDeps, fetchBooks, viewCart } from "./cart-view.js";
import {
  type CartKey,
  deleteLines,
  findLines,
  insertLine,
  lockCart,
  lockExistingCart,
  readCart,
  setQuantity,
  touchCart,
} from "./db/carts.js";
import type { CartSchema } from "./db/schema.js";
import {
  ANONYMOUS_CART_ID_REQUIRED,
  bookNotFound,
  invalidField,
  MERGE_CART_ID_REQUIRED,
  notInCart,
  QUANTITY_LIMIT,
  tooManyLines,
} from "./errors.js";
import {
  canonicalUuid,
  checkAddQuantity,
  checkBookId,
  checkNewQuantity,
  MAX_LINES,
  MAX_QUANTITY_PER_LINE,
} from "./validation.js";

/** What the handlers need. */
export interface CartHandlerDeps extends CartViewDeps {
  readonly database: Database<CartSchema>;
}

/** The cart a call is about: the caller's own with a token, else the anonymous one it names. */
export function cartOf(ref: cartV1.CartRef | undefined, context: Pick<CallContext, "get">): CartKey {
  const principal = principalOf(context);
  if (principal !== undefined) return { kind: "account", id: principal.subject };
  const id = canonicalUuid(ref?.anonymousCartId ?? "");
  if (id === undefined) throw invalidField("cart.anonymous_cart_id", ANONYMOUS_CART_ID_REQUIRED);
  return { kind: "anonymous", id };
}

/** Creates the CartService handlers. */
export function createCartHandlers(deps: CartHandlerDeps): ServiceImplementation<typeof cartV1.CartServiceService> {
  const { database } = deps;
  const db = database.kysely;

  async function answer(cart: CartKey, signal: AbortSignal): Promise<{ cart: cartV1.Cart }> {
    return { cart: await viewCart(deps, cart, await readCart(db, cart, signal), signal) };
  }

  return {
    async getCart(request, context) {
      return answer(cartOf(request.cart, context), context.signal);
    },

    async addCartLine(request, context) {
      const cart = cartOf(request.cart, context);
      const bookId = checkBookId(request.bookId);
      const quantity = checkAddQuantity(request.quantity);
      const book = (await fetchBooks(deps, [bookId], context.signal)).get(bookId);
      if (book?.price === undefined) throw bookNotFound();
      const price = book.price;
      await database.transaction(async (trx) => {
        await lockCart(trx, cart);
        const lines = await findLines(trx, cart);
        const line = lines.find((l) => l.book_id === bookId);
        if (line === undefined) {
          if (lines.length >= MAX_LINES) throw tooManyLines();
          await insertLine(trx, cart, {
            bookId,
            quantity,
            priceMinor: price.amountMinor,
            currency: price.currencyCode,
          });
        } else {
          if (line.quantity + quantity > MAX_QUANTITY_PER_LINE) throw invalidField("quantity", QUANTITY_LIMIT);
          await setQuantity(trx, cart, bookId, line.quantity + quantity);
        }
        await touchCart(trx, cart);
      });
      return answer(cart, context.signal);
    },

    async updateCartLine(request, context) {
      const cart = cartOf(request.cart, context);
      const bookId = checkBookId(request.bookId);
      const quantity = checkNewQuantity(request.quantity);
      await database.transaction(async (trx) => {
        if (!(await lockExistingCart(trx, cart))) throw notInCart();
        const line = (await findLines(trx, cart)).find((l) => l.book_id === bookId);
        if (line === undefined) throw notInCart();
        if (quantity === 0) await deleteLines(trx, cart, [bookId]);
        else await setQuantity(trx, cart, bookId, quantity);
        await touchCart(trx, cart);
      });
      return answer(cart, context.signal);
    },

    async removeCartLine(request, context) {
      const cart = cartOf(request.cart, context);
      const bookId = checkBookId(request.bookId);
      await database.transaction(async (trx) => {
        if (!(await lockExistingCart(trx, cart))) return;
        if ((await deleteLines(trx, cart, [bookId])) > 0) await touchCart(trx, cart);
      });
      return answer(cart, context.signal);
    },

    async mergeCart(request, context) {
      const principal = requirePrincipal(context);
      const anonymousId = canonicalUuid(request.anonymousCartId);
      if (anonymousId === undefined) throw invalidField("anonymous_cart_id", MERGE_CART_ID_REQUIRED);
      const target: CartKey = { kind: "account", id: principal.subject };
      const source: CartKey = { kind: "anonymous", id: anonymousId };
      const merged = await database.transaction(async (trx) => {
        // Always the account's cart first, then the anonymous one: two transactions that lock
        // both do it in the same order and never deadlock.
        await lockCart(trx, target);
        if (!(await lockExistingCart(trx, source))) return 0;
        const incoming = await findLines(trx, source);
        if (incoming.length === 0) return 0;
        const lines = await findLines(trx, target);
        let count = lines.length;
        for (const line of incoming) {
          const existing = lines.find((l) => l.book_id === line.book_id);
          if (existing !== undefined) {
            await setQuantity(
              trx,
              target,
              line.book_id,
              Math.min(MAX_QUANTITY_PER_LINE, existing.quantity + line.quantity),
            );
          } else if (count < MAX_LINES) {
            await insertLine(trx, target, {
              bookId: line.book_id,
              quantity: line.quantity,
              priceMinor: Number(line.added_price_minor),
              currency: line.added_currency,
            });
            count++;
          }
          // Past the cart's limit of books, the anonymous cart's extra books are dropped.
        }
        await deleteLines(trx, source);
        await touchCart(trx, source);
        await touchCart(trx, target);
        return incoming.length;
      });
      context.log.info({ lines: merged }, "Anonymous cart merged");
      return answer(target, context.signal);
    },
  };
}
