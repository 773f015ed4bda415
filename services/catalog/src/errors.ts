// The Catalog's client-visible errors: one place, stable messages (the README's table lists them).
import { Aborted, AlreadyExists, InvalidArgument, NotFound } from "@obfy/kit/core";
import { googleRpcErrorDetails } from "@obfy/protos";

export const BOOK_NOT_FOUND = "Book not found";
export const CATEGORY_NOT_FOUND = "Category not found";
export const ISBN_EXISTS = "A book with this ISBN already exists";
export const INVALID_PAGE_TOKEN = "Invalid page token";
export const QUERY_TOO_LONG = "Search query is too long (at most 200 characters)";
export const BOOK_CHANGED = "The book was changed by someone else; read it again and retry";

/**
 * INVALID_ARGUMENT with `message` (which names the field), and a google.rpc.BadRequest for the
 * field; `field` is kept for ImportBooks' per-record errors.
 */
export class FieldError extends InvalidArgument {
  readonly field: string;
  constructor(field: string, message: string) {
    const badRequest = googleRpcErrorDetails.BadRequest.fromPartial({
      fieldViolations: [{ field, description: message }],
    });
    super(message, {
      details: [
        {
          typeUrl: `type.googleapis.com/${googleRpcErrorDetails.BadRequest.$type}`,
          value: googleRpcErrorDetails.BadRequest.encode(badRequest).finish(),
        },
      ],
    });
    this.field = field;
  }
}

export const invalidField = (field: string, message: string): FieldError => new FieldError(field, message);
export const bookNotFound = (): NotFound => new NotFound(BOOK_NOT_FOUND);
export const categoryNotFound = (): NotFound => new NotFound(CATEGORY_NOT_FOUND);
/** ALREADY_EXISTS "A book with this ISBN already exists" (also a FieldError's field for imports). */
export const isbnExists = (): AlreadyExists => new AlreadyExists(ISBN_EXISTS);
export const invalidPageToken = (): InvalidArgument => new InvalidArgument(INVALID_PAGE_TOKEN);
export const queryTooLong = (): FieldError => new FieldError("query", QUERY_TOO_LONG);
/** ABORTED: the etag sent with UpdateBook is not the book's (AIP-154). */
export const bookChanged = (): Aborted => new Aborted(BOOK_CHANGED);
