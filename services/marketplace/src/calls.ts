import { ClientError } from "@obfy/kit/client";
import { readStatusDetails } from "@obfy/kit/core";
import { googleRpcErrorDetails } from "@obfy/protos";
import type { FastifyBaseLogger } from "fastify";

/** What a page section shows in place of its content when its service is down or slow. */
export const UNAVAILABLE_NOTICE = "This part of the shop is unavailable right now. Please try again in a moment.";

/** The settled result of one section's call: its value, or the notice to show instead. */
export type Section<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly notice: string };

/**
 * Runs a section's call; a failure is logged (gRPC code and details, no stack for an expected
 * outage) and becomes a notice, so one service being down never takes the page with it.
 */
export async function section<T>(
  log: FastifyBaseLogger,
  what: string,
  call: () => Promise<T>,
  notice: string = UNAVAILABLE_NOTICE,
): Promise<Section<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    log.warn(failureFields(error, what), "section unavailable; serving the page without it");
    return { ok: false, notice };
  }
}

/** Log fields for a failed call. */
export function failureFields(error: unknown, what: string): Record<string, unknown> {
  if (error instanceof ClientError) return { section: what, grpc_code: error.codeName, details: error.details };
  return { section: what, err: error };
}

/** The gRPC status name of a failed call, or undefined for anything else. */
export function grpcCode(error: unknown): string | undefined {
  return error instanceof ClientError ? error.codeName : undefined;
}

/**
 * Codes whose details are the service's stable message for the shopper (the protos document
 * them): the page shows them as they are. Other codes (INTERNAL, UNAVAILABLE, …) get a generic
 * sentence, never the server's text.
 */
const SHOPPER_CODES = new Set([
  "INVALID_ARGUMENT",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "FAILED_PRECONDITION",
  "OUT_OF_RANGE",
  "PERMISSION_DENIED",
  "UNAUTHENTICATED",
  "RESOURCE_EXHAUSTED",
]);

/** A failed write, as the form shows it: a message for the top and one per field. */
export interface FormFailure {
  readonly message: string;
  readonly fields: Record<string, string>;
  /** The call failed for a reason the shopper cannot fix (service down): HTTP 503, not 400. */
  readonly unavailable: boolean;
}

/**
 * Turns a failed call into what a form shows. Field violations (google.rpc.BadRequest) go next
 * to their fields (`fieldNames` maps the API's field paths to the form's); the status message goes
 * on top when it is one of the service's documented messages.
 */
export function formFailure(error: unknown, fieldNames: Readonly<Record<string, string>> = {}): FormFailure {
  if (!(error instanceof ClientError) || !SHOPPER_CODES.has(error.codeName)) {
    return {
      message: "We could not do that right now: part of the shop is unavailable. Please try again in a moment.",
      fields: {},
      unavailable: true,
    };
  }
  const fields: Record<string, string> = {};
  for (const detail of readStatusDetails(error.metadata)) {
    if (!detail.typeUrl.endsWith("google.rpc.BadRequest")) continue;
    try {
      const badRequest = googleRpcErrorDetails.BadRequest.decode(detail.value);
      for (const violation of badRequest.fieldViolations) {
        const name = fieldNames[violation.field] ?? violation.field;
        fields[name] ??= violation.description;
      }
    } catch {
      // Undecodable details: the message alone.
    }
  }
  return { message: error.details.split(/\r?\n/, 1)[0] ?? "", fields, unavailable: false };
}

/** Milliseconds a page's reads may take (`CALL_TIMEOUT_MS`), so a slow service cannot hold the page. */
export const DEFAULT_CALL_TIMEOUT_MS = 1500;
