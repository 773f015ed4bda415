// A cart as read: its stored lines with the Catalog's current titles and prices and the
// Inventory's stock, fetched in parallel. Without the Catalog there is no price to show, so the
// read fails (UNAVAILABLE); without the Inventory the cart is still answered, its lines marked
// stock_unknown.
import type { Logger } from "@obfy/kit/core";
import type { cartV1, catalogV1, commonV1, inventoryV1 } from "@obfy/protos";
import type { CartKey, LineRow } from "./db/carts.js";
import { catalogUnavailable } from "./errors.js";
import { MAX_QUANTITY_PER_LINE } from "./validation.js";

/** The store's currency (docs/architecture.md). */
export const STORE_CURRENCY = "USD";

type CallOptions = { readonly signal?: AbortSignal; readonly timeoutMs?: number };

/** The part of the Catalog client the Cart uses. */
export interface CatalogBooks {
  batchGetBooks(
    request: catalogV1.BatchGetBooksRequest,
    options?: CallOptions,
  ): Promise<catalogV1.BatchGetBooksResponse>;
}

/** The part of the Inventory client the Cart uses. */
export interface InventoryStock {
  batchGetStock(
    request: inventoryV1.BatchGetStockRequest,
    options?: CallOptions,
  ): Promise<inventoryV1.BatchGetStockResponse>;
}

/** What pricing a cart needs. */
export interface CartViewDeps {
  readonly catalog: CatalogBooks;
  readonly inventory: InventoryStock;
  readonly catalogTimeoutMs: number;
  readonly inventoryTimeoutMs: number;
  readonly logger: Logger;
}

function timestamp(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}

const money = (amountMinor: number, currencyCode = STORE_CURRENCY): commonV1.Money => ({ currencyCode, amountMinor });

/** The Catalog's books of `bookIds` by id; UNAVAILABLE when it cannot be asked. */
export async function fetchBooks(
  deps: Pick<CartViewDeps, "catalog" | "catalogTimeoutMs">,
  bookIds: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, catalogV1.Book>> {
  if (bookIds.length === 0) return new Map();
  try {
    const answer = await deps.catalog.batchGetBooks(
      { bookIds: [...bookIds] },
      { signal, timeoutMs: deps.catalogTimeoutMs },
    );
    return new Map(answer.books.map((b) => [b.bookId, b]));
  } catch {
    throw catalogUnavailable();
  }
}

/** The Inventory's available counts by book id, or undefined when it did not answer. */
async function fetchStock(
  deps: CartViewDeps,
  bookIds: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, number> | undefined> {
  if (bookIds.length === 0) return new Map();
  try {
    const answer = await deps.inventory.batchGetStock(
      { bookIds: [...bookIds] },
      { signal, timeoutMs: deps.inventoryTimeoutMs },
    );
    return new Map(answer.stocks.map((s) => [s.bookId, s.available]));
  } catch (error) {
    deps.logger.warn({ err: error }, "Inventory did not answer; cart read without stock");
    return undefined;
  }
}

/** The API's Cart for `cart`'s stored lines. */
export async function viewCart(
  deps: CartViewDeps,
  cart: CartKey,
  stored: { readonly lines: readonly LineRow[]; readonly updatedAt: Date | undefined },
  signal?: AbortSignal,
): Promise<cartV1.Cart> {
  const bookIds = stored.lines.map((l) => l.book_id);
  const [books, stock] = await Promise.all([fetchBooks(deps, bookIds, signal), fetchStock(deps, bookIds, signal)]);
  let subtotal = 0;
  let itemCount = 0;
  const lines = stored.lines.map((row): cartV1.CartLine => {
    const book = books.get(row.book_id);
    const added = money(Number(row.added_price_minor), row.added_currency);
    itemCount += row.quantity;
    const available = stock?.get(row.book_id) ?? 0;
    const stockFields = {
      available: stock === undefined ? 0 : available,
      stockShort: stock !== undefined && available < row.quantity,
      stockUnknown: stock === undefined,
    };
    if (book === undefined || book.price === undefined) {
      return {
        bookId: row.book_id,
        quantity: row.quantity,
        title: "",
        authors: [],
        unitPrice: undefined,
        addedUnitPrice: added,
        priceChanged: false,
        lineTotal: money(0, added.currencyCode),
        ...stockFields,
        unavailable: true,
      };
    }
    const price = book.price;
    const lineTotal = price.amountMinor * row.quantity;
    subtotal += lineTotal;
    return {
      bookId: row.book_id,
      quantity: row.quantity,
      title: book.title,
      authors: [...book.authors],
      unitPrice: money(price.amountMinor, price.currencyCode),
      addedUnitPrice: added,
      priceChanged: price.amountMinor !== added.amountMinor || price.currencyCode !== added.currencyCode,
      lineTotal: money(lineTotal, price.currencyCode),
      ...stockFields,
      unavailable: false,
    };
  });
  return {
    cartId: cart.id,
    lines,
    subtotal: money(subtotal),
    itemCount,
    updateTime: stored.updatedAt === undefined ? undefined : timestamp(stored.updatedAt),
    maxQuantityPerLine: MAX_QUANTITY_PER_LINE,
  };
}
