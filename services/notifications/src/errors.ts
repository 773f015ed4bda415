// The Notifications' client-visible errors: one place, stable messages (the README's table lists them).
import { InvalidArgument, NotFound } from "@obfy/kit/core";
import { googleRpcErrorDetails } from "@obfy/protos";

export const MAIL_NOT_FOUND = "Mail not found";
export const INVALID_PAGE_TOKEN = "Invalid page token";

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

export const mailNotFound = (): NotFound => new NotFound(MAIL_NOT_FOUND);
export const invalidPageToken = (): InvalidArgument => new InvalidArgument(INVALID_PAGE_TOKEN);
