// The Orders' client-visible errors: one place, stable messages (the README's table lists them).
import {
  AlreadyExists,
  FailedPrecondition,
  InvalidArgument,
  NotFound,
  PermissionDenied,
  Unavailable,
} from "@obfy/kit/core";
import { googleRpcErrorDetails } from "@obfy/protos";

export const ORDER_NOT_FOUND = "Order not found";
export const KEY_USED = "This checkout was already submitted with different contents";
export const PRICES_CHANGED = "Prices have changed since you looked; please review your cart";
export const HAS_SHIPPED = "This order has shipped and can no longer be cancelled";
export const NOT_CONFIRMED = "Only confirmed orders can be shipped";
export const NOT_SHIPPED = "Only shipped orders can be delivered";
export const NOT_DELIVERED = "Only delivered orders can be refunded";
export const CATALOG_UNAVAILABLE = "The catalog is unavailable; please try again";
export const INVALID_PAGE_TOKEN = "Invalid page token";
export const ADMINS_ONLY_SEARCH = "Only admins can search orders";
export const ADMINS_ONLY_OWNERS = "Only admins can list other owners' orders";

/** NOT_FOUND "Book not found: <id>". */
export const bookNotFound = (bookId: string): NotFound => new NotFound(`Book not found: ${bookId}`);

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

export const orderNotFound = (): NotFound => new NotFound(ORDER_NOT_FOUND);
export const keyUsed = (): AlreadyExists => new AlreadyExists(KEY_USED);
export const pricesChanged = (): FailedPrecondition => new FailedPrecondition(PRICES_CHANGED);
export const hasShipped = (): FailedPrecondition => new FailedPrecondition(HAS_SHIPPED);
export const notConfirmed = (): FailedPrecondition => new FailedPrecondition(NOT_CONFIRMED);
export const notShipped = (): FailedPrecondition => new FailedPrecondition(NOT_SHIPPED);
export const notDelivered = (): FailedPrecondition => new FailedPrecondition(NOT_DELIVERED);
export const catalogUnavailable = (): Unavailable => new Unavailable(CATALOG_UNAVAILABLE);
export const invalidPageToken = (): InvalidArgument => new InvalidArgument(INVALID_PAGE_TOKEN);
export const adminsOnlySearch = (): PermissionDenied => new PermissionDenied(ADMINS_ONLY_SEARCH);
export const adminsOnlyOwners = (): PermissionDenied => new PermissionDenied(ADMINS_ONLY_OWNERS);
