// The Reviews' client-visible errors: one place, stable messages (the README's table lists them).
import {
  AlreadyExists,
  FailedPrecondition,
  InvalidArgument,
  NotFound,
  PermissionDenied,
  Unavailable,
} from "@obfy/kit/core";
import { googleRpcErrorDetails } from "@obfy/protos";

export const RATING_OUT_OF_RANGE = "Rating must be between 1 and 5";
export const TEXT_TOO_LONG = "Review text is too long (at most 2000 characters)";
export const TEXT_HAS_NUL = "Review text must not contain NUL characters";
export const ALREADY_REVIEWED = "You have already reviewed this book";
export const NOT_RECEIVED = "Only shoppers who received this book can review it";
export const ONLY_AUTHOR_EDITS = "Only the author can edit this review";
export const ONLY_AUTHOR_OR_ADMIN_DELETES = "Only the author or an admin can delete this review";
export const REVIEW_NOT_FOUND = "Review not found";
export const BOOK_NOT_FOUND = "Book not found";
export const REVIEW_REQUIRED = "review is required";
export const CATALOG_UNAVAILABLE = "The Catalog is unavailable; try again";
export const INVALID_PAGE_TOKEN = "Invalid page token";
export const INVALID_ORDER_BY = 'order_by must be "-create_time", "-rating" or "rating"';
export const INVALID_UPDATE_MASK = 'update_mask paths must be "rating" or "text"';

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

export const alreadyReviewed = (): AlreadyExists => new AlreadyExists(ALREADY_REVIEWED);
export const notReceived = (): FailedPrecondition => new FailedPrecondition(NOT_RECEIVED);
export const onlyAuthorEdits = (): PermissionDenied => new PermissionDenied(ONLY_AUTHOR_EDITS);
export const onlyAuthorOrAdminDeletes = (): PermissionDenied => new PermissionDenied(ONLY_AUTHOR_OR_ADMIN_DELETES);
export const reviewNotFound = (): NotFound => new NotFound(REVIEW_NOT_FOUND);
export const bookNotFound = (): NotFound => new NotFound(BOOK_NOT_FOUND);
export const catalogUnavailable = (): Unavailable => new Unavailable(CATALOG_UNAVAILABLE);
export const invalidPageToken = (): InvalidArgument => new InvalidArgument(INVALID_PAGE_TOKEN);
