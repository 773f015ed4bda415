// The Accounts' client-visible errors: one place, stable messages (the README's table lists them).
import {
  AlreadyExists,
  InvalidArgument,
  NotFound,
  PermissionDenied,
  ResourceExhausted,
  Unauthenticated,
} from "@obfy/kit/core";
import { ADMIN_REQUIRED_MESSAGE } from "@obfy/kit/security";
import { googleRpcErrorDetails } from "@obfy/protos";

export const EMAIL_TAKEN = "An account with this email already exists";
export const WRONG_CREDENTIALS = "Email or password is incorrect";
export const SESSION_ENDED = "Session has ended; sign in again";
export const WRONG_CURRENT_PASSWORD = "Current password is incorrect";
export const ACCOUNT_NOT_FOUND = "Account not found";
export const SESSION_NOT_FOUND = "Session not found";
export const CLIENT_NOT_FOUND = "Client not found";
export const INVALID_CLIENT_CREDENTIALS = "Invalid client credentials";
export const INVALID_PAGE_TOKEN = "Invalid page token";
export const SIGNED_IN_ACCOUNT_REQUIRED = "This needs a signed-in account";

/** "Too many sign-in attempts; try again in N seconds" for a wait of `seconds` (rounded up). */
export function tooManyAttemptsMessage(seconds: number): string {
  const n = Math.max(1, Math.ceil(seconds));
  return `Too many sign-in attempts; try again in ${n} ${n === 1 ? "second" : "seconds"}`;
}

/** "Scope not allowed for this client: <scope>". */
export function scopeNotAllowedMessage(scope: string): string {
  return `Scope not allowed for this client: ${scope}`;
}

function badRequest(violations: readonly { field: string; description: string }[]) {
  const message = googleRpcErrorDetails.BadRequest.fromPartial({ fieldViolations: [...violations] });
  return {
    typeUrl: `type.googleapis.com/${googleRpcErrorDetails.BadRequest.$type}`,
    value: googleRpcErrorDetails.BadRequest.encode(message).finish(),
  };
}

/** INVALID_ARGUMENT with `message` (which names the field), and a google.rpc.BadRequest for the field. */
export function invalidField(field: string, message: string): InvalidArgument {
  return new InvalidArgument(message, { details: [badRequest([{ field, description: message }])] });
}

/**
 * INVALID_ARGUMENT for broken password rules: the first rule's message, and one
 * google.rpc.BadRequest field violation per broken rule.
 */
export function invalidPassword(field: string, messages: readonly [string, ...string[]]): InvalidArgument {
  return new InvalidArgument(messages[0], {
    details: [badRequest(messages.map((description) => ({ field, description })))],
  });
}

/** RESOURCE_EXHAUSTED "Too many sign-in attempts; …" with a google.rpc.RetryInfo. */
export function tooManyAttempts(retryAfterMs: number): ResourceExhausted {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const info = googleRpcErrorDetails.RetryInfo.fromPartial({ retryDelay: { seconds, nanos: 0 } });
  return new ResourceExhausted(tooManyAttemptsMessage(seconds), {
    details: [
      {
        typeUrl: `type.googleapis.com/${googleRpcErrorDetails.RetryInfo.$type}`,
        value: googleRpcErrorDetails.RetryInfo.encode(info).finish(),
      },
    ],
  });
}

export const emailTaken = (): AlreadyExists => new AlreadyExists(EMAIL_TAKEN);
export const wrongCredentials = (): Unauthenticated => new Unauthenticated(WRONG_CREDENTIALS);
export const sessionEnded = (): Unauthenticated => new Unauthenticated(SESSION_ENDED);
export const wrongCurrentPassword = (): Unauthenticated => new Unauthenticated(WRONG_CURRENT_PASSWORD);
export const accountNotFound = (): NotFound => new NotFound(ACCOUNT_NOT_FOUND);
export const sessionNotFound = (): NotFound => new NotFound(SESSION_NOT_FOUND);
export const clientNotFound = (): NotFound => new NotFound(CLIENT_NOT_FOUND);
export const invalidClientCredentials = (): Unauthenticated => new Unauthenticated(INVALID_CLIENT_CREDENTIALS);
export const scopeNotAllowed = (scope: string): PermissionDenied => new PermissionDenied(scopeNotAllowedMessage(scope));
export const adminRequired = (): PermissionDenied => new PermissionDenied(ADMIN_REQUIRED_MESSAGE);
export const signedInAccountRequired = (): PermissionDenied => new PermissionDenied(SIGNED_IN_ACCOUNT_REQUIRED);
export const invalidPageToken = (): InvalidArgument => new InvalidArgument(INVALID_PAGE_TOKEN);
