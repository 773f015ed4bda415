// The Cart's client-visible errors: one place, stable messages (the README's table lists them).
import { FailedPrecondition, InvalidArgument, NotFound, Unavailable } from "@obfy/kit/core";
import { googleRpcErrorDetails } from "@obfy/protos";

export const ANONYMOUS_CART_ID_REQUIRED = "An anonymous cart id (UUID) is required without a shopper token";
export const MERGE_CART_ID_REQUIRED = "anonymous_cart_id must be a UUID";
export const QUANTITY_LIMIT = "At most 10 copies of a book per order";
export const BOOK_NOT_FOUND = "Book not found";
export const NOT_IN_CART = "This book is not in the cart";
export const TOO_MANY_LINES = "A cart holds at most 50 different books";
export const CATALOG_UNAVAILABLE = "The Catalog is unavailable; try again";

/** INVALID_ARGUMENT with `message` (which names the field), and a google.rpc.BadRequest for the field. */
export function invalidField(field: string, message: string): InvalidArgument {
  const badRequest = googleRpcErrorDetails.BadRequest.fromPartial({
    fieldViolations: [{ field, description: message }],
  });
  return new InvalidArgument(message, {
    details: [
      {
        typeUrl: `type.googleapis.com/${googleRpcErrorDetails.BadRequest.$type}`,
        value: googleRpcErrorDetails.BadRequest.encode(badRequest).finish(),
      },
    ],
  });
}

export const bookNotFound = (): NotFound => new NotFound(BOOK_NOT_FOUND);
export const notInCart = (): NotFound => new NotFound(NOT_IN_CART);
export const tooManyLines = (): FailedPrecondition => new FailedPrecondition(TOO_MANY_LINES);
export const catalogUnavailable = (): Unavailable => new Unavailable(CATALOG_UNAVAILABLE);
