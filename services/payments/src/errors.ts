// The Payments' client-visible errors: one place, stable messages (the README's table lists them).
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from "@obfy/kit/core";
import { googleRpcErrorDetails } from "@obfy/protos";

export const CARD_NUMBER_INVALID = "Card number is not valid";
export const CARD_EXPIRED = "Card has expired";
export const EXPIRY_MONTH_INVALID = "Expiry month is not valid";
export const EXPIRY_YEAR_INVALID = "Expiry year is not valid";
export const CVC_INVALID = "Security code is not valid";
export const PAYMENT_METHOD_NOT_FOUND = "Payment method not found";
export const PAYMENT_NOT_FOUND = "Payment not found";
export const AUTHORIZE_KEY_USED = "Idempotency key was used for a different payment";
export const OPERATION_KEY_USED = "Idempotency key was used for a different request";
export const PAYMENT_NOT_AUTHORIZED = "Payment is not authorized";
export const PAYMENT_NOT_CAPTURED = "Payment is not captured";
export const PAYMENT_ALREADY_CAPTURED = "Payment is already captured";
export const PAYMENT_ALREADY_VOIDED = "Payment was voided";
export const INVALID_PAGE_TOKEN = "Invalid page token";

/** One field's problem. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/**
 * INVALID_ARGUMENT with a google.rpc.BadRequest listing every field's problem; the message is
 * the problems' descriptions, in field order, joined by "; ".
 */
export function invalidFields(violations: readonly FieldViolation[]): InvalidArgument {
  const badRequest = googleRpcErrorDetails.BadRequest.fromPartial({ fieldViolations: [...violations] });
  return new InvalidArgument(violations.map((v) => v.description).join("; "), {
    details: [
      {
        typeUrl: `type.googleapis.com/${googleRpcErrorDetails.BadRequest.$type}`,
        value: googleRpcErrorDetails.BadRequest.encode(badRequest).finish(),
      },
    ],
  });
}

/** INVALID_ARGUMENT for one field. */
export function invalidField(field: string, description: string): InvalidArgument {
  return invalidFields([{ field, description }]);
}

export const paymentMethodNotFound = (): NotFound => new NotFound(PAYMENT_METHOD_NOT_FOUND);
export const paymentNotFound = (): NotFound => new NotFound(PAYMENT_NOT_FOUND);
export const authorizeKeyUsed = (): AlreadyExists => new AlreadyExists(AUTHORIZE_KEY_USED);
export const operationKeyUsed = (): AlreadyExists => new AlreadyExists(OPERATION_KEY_USED);
export const paymentNotAuthorized = (): FailedPrecondition => new FailedPrecondition(PAYMENT_NOT_AUTHORIZED);
export const paymentNotCaptured = (): FailedPrecondition => new FailedPrecondition(PAYMENT_NOT_CAPTURED);
export const paymentAlreadyCaptured = (): FailedPrecondition => new FailedPrecondition(PAYMENT_ALREADY_CAPTURED);
export const paymentAlreadyVoided = (): FailedPrecondition => new FailedPrecondition(PAYMENT_ALREADY_VOIDED);
export const invalidPageToken = (): InvalidArgument => new InvalidArgument(INVALID_PAGE_TOKEN);
