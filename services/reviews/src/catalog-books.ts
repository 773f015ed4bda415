// Does a book exist? Reviews asks the Catalog (GetBook) before accepting a review.
import { ClientError } from "@obfy/kit/client";
import type { catalogV1 } from "@obfy/protos";
import { bookNotFound, catalogUnavailable } from "./errors.js";

/** The part of the Catalog client Reviews uses. */
export interface CatalogBooks {
  getBook(
    request: catalogV1.GetBookRequest,
    options?: { readonly signal?: AbortSignal; readonly timeoutMs?: number },
  ): Promise<catalogV1.GetBookResponse>;
}

/**
 * Resolves when the Catalog has the book; NOT_FOUND "Book not found" when it says it has not (or
 * refuses the id), UNAVAILABLE when it cannot be asked.
 */
export async function requireBook(
  catalog: CatalogBooks,
  bookId: string,
  options: { readonly signal?: AbortSignal; readonly timeoutMs: number },
): Promise<void> {
  try {
    const { book } = await catalog.getBook({ bookId }, options);
    if (book === undefined) throw bookNotFound();
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    if (error.codeName === "NOT_FOUND" || error.codeName === "INVALID_ARGUMENT") throw bookNotFound();
    throw catalogUnavailable();
  }
}
