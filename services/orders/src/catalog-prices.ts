// PlaceOrder prices the lines from the Catalog at placing time (titles and prices are copied
// into the order, so later price changes never change an order).
import { GrpcError, isServiceError } from "@obfy/kit/core";
import type { catalogV1 } from "@obfy/protos";
import { bookNotFound, catalogUnavailable } from "./errors.js";

/** The part of the Catalog client PlaceOrder uses. */
export interface CatalogBooks {
  batchGetBooks(
    request: catalogV1.BatchGetBooksRequest,
    options?: { readonly signal?: AbortSignal; readonly timeoutMs?: number },
  ): Promise<catalogV1.BatchGetBooksResponse>;
}

/** A book's title and price as the order keeps them. */
export interface PricedBook {
  readonly bookId: string;
  readonly title: string;
  readonly currencyCode: string;
  readonly priceMinor: number;
}

/**
 * The books of `bookIds` from the Catalog: NOT_FOUND "Book not found: <id>" for the first one
 * it does not have, UNAVAILABLE when it cannot be asked.
 */
export async function priceBooks(
  catalog: CatalogBooks,
  bookIds: readonly string[],
  options: { readonly signal?: AbortSignal; readonly timeoutMs: number },
): Promise<Map<string, PricedBook>> {
  let response: catalogV1.BatchGetBooksResponse;
  try {
    response = await catalog.batchGetBooks({ bookIds: [...bookIds] }, options);
  } catch (error) {
    if (error instanceof GrpcError) throw error;
    if (isServiceError(error)) {
      // The Catalog refused the ids themselves (INVALID_ARGUMENT): for the shopper, no such book.
      if (error.code === 3 || error.code === 5) {
        throw bookNotFound(bookIds.find((id) => !/^\d+$/.test(id)) ?? bookIds[0] ?? "");
      }
      throw catalogUnavailable();
    }
    throw error;
  }
  const books = new Map<string, PricedBook>();
  for (const book of response.books) {
    if (book.price === undefined) continue;
    books.set(book.bookId, {
      bookId: book.bookId,
      title: book.title,
      currencyCode: book.price.currencyCode || "USD",
      priceMinor: book.price.amountMinor,
    });
  }
  for (const id of bookIds) if (!books.has(id)) throw bookNotFound(id);
  return books;
}
