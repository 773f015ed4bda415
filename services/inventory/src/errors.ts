// The Inventory's client-visible errors: one place, stable messages (the README's table lists them).
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from "@obfy/kit/core";
import { googleRpcErrorDetails } from "@obfy/protos";

/** A line that asked for more than was available. */
export interface ShortLine {
  readonly bookId: string;
  readonly requested: number;
  readonly available: number;
}

/** The `type` of each PreconditionFailure violation of "Not enough stock". */
export const STOCK_VIOLATION_TYPE = "STOCK";

export const NOT_ENOUGH_STOCK = "Not enough stock";
export const RESERVATION_NOT_FOUND = "Reservation not found";
export const RESERVATION_KEY_USED = "Reservation key was used for a different reservation";
export const RESERVATION_EXPIRED = "Reservation has expired";
export const RESERVATION_RELEASED = "Reservation was released";
export const RESERVATION_CONFIRMED = "Reservation is confirmed";
export const CANNOT_REMOVE_RESERVED = "Cannot remove stock that is reserved";
export const CANNOT_REMOVE_MISSING = "Cannot remove more stock than is on hand";
export const ADJUSTMENT_KEY_USED = "Idempotency key was used for a different adjustment";
export const INVALID_PAGE_TOKEN = "Invalid page token";

/** FAILED_PRECONDITION "Not enough stock", with a google.rpc.PreconditionFailure naming each short book. */
export function notEnoughStock(short: readonly ShortLine[]): FailedPrecondition {
  const failure = googleRpcErrorDetails.PreconditionFailure.fromPartial({
    violations: short.map((line) => ({
      type: STOCK_VIOLATION_TYPE,
      subject: line.bookId,
      description: `Book ${line.bookId}: ${line.requested} requested, ${line.available} available`,
    })),
  });
  return new FailedPrecondition(NOT_ENOUGH_STOCK, {
    details: [
      {
        typeUrl: `type.googleapis.com/${googleRpcErrorDetails.PreconditionFailure.$type}`,
        value: googleRpcErrorDetails.PreconditionFailure.encode(failure).finish(),
      },
    ],
  });
}

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

export const reservationNotFound = (): NotFound => new NotFound(RESERVATION_NOT_FOUND);
export const reservationKeyUsed = (): AlreadyExists => new AlreadyExists(RESERVATION_KEY_USED);
export const reservationExpired = (): FailedPrecondition => new FailedPrecondition(RESERVATION_EXPIRED);
export const reservationReleased = (): FailedPrecondition => new FailedPrecondition(RESERVATION_RELEASED);
export const reservationConfirmed = (): FailedPrecondition => new FailedPrecondition(RESERVATION_CONFIRMED);
export const cannotRemoveReserved = (): FailedPrecondition => new FailedPrecondition(CANNOT_REMOVE_RESERVED);
export const cannotRemoveMissing = (): FailedPrecondition => new FailedPrecondition(CANNOT_REMOVE_MISSING);
export const adjustmentKeyUsed = (): AlreadyExists => new AlreadyExists(ADJUSTMENT_KEY_USED);
export const invalidPageToken = (): InvalidArgument => new InvalidArgument(INVALID_PAGE_TOKEN);
