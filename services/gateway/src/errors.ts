// google.rpc.Status JSON for every error the gateway answers, with the standard gRPC → HTTP
// mapping (google/rpc/code.proto, as grpc-gateway and Google APIs use it), and the gateway's own
// stable messages (README, "Errors").

import { type DescMessage, type FileRegistry, fromBinary, toJson } from "@bufbuild/protobuf";
import { status as grpcStatus } from "@grpc/grpc-js";
import { STATUS_DETAILS_TRAILER } from "@obfy/kit/core";

/** gRPC status code → HTTP status. */
export const HTTP_STATUS: Readonly<Record<number, number>> = {
  [grpcStatus.OK]: 200,
  [grpcStatus.CANCELLED]: 499,
  [grpcStatus.UNKNOWN]: 500,
  [grpcStatus.INVALID_ARGUMENT]: 400,
  [grpcStatus.DEADLINE_EXCEEDED]: 504,
  [grpcStatus.NOT_FOUND]: 404,
  [grpcStatus.ALREADY_EXISTS]: 409,
  [grpcStatus.PERMISSION_DENIED]: 403,
  [grpcStatus.RESOURCE_EXHAUSTED]: 429,
  [grpcStatus.FAILED_PRECONDITION]: 400,
  [grpcStatus.ABORTED]: 409,
  [grpcStatus.OUT_OF_RANGE]: 400,
  [grpcStatus.UNIMPLEMENTED]: 501,
  [grpcStatus.INTERNAL]: 500,
  [grpcStatus.UNAVAILABLE]: 503,
  [grpcStatus.DATA_LOSS]: 500,
  [grpcStatus.UNAUTHENTICATED]: 401,
};

/** HTTP status of an error the gateway itself answers → its gRPC code. */
const GRPC_CODE_OF_HTTP: Readonly<Record<number, number>> = {
  400: grpcStatus.INVALID_ARGUMENT,
  401: grpcStatus.UNAUTHENTICATED,
  403: grpcStatus.PERMISSION_DENIED,
  404: grpcStatus.NOT_FOUND,
  405: grpcStatus.UNIMPLEMENTED,
  406: grpcStatus.INVALID_ARGUMENT,
  413: grpcStatus.OUT_OF_RANGE,
  415: grpcStatus.INVALID_ARGUMENT,
  429: grpcStatus.RESOURCE_EXHAUSTED,
  499: grpcStatus.CANCELLED,
  503: grpcStatus.UNAVAILABLE,
  504: grpcStatus.DEADLINE_EXCEEDED,
};

/** A google.rpc.Status as JSON. */
export interface StatusJson {
  readonly code: number;
  readonly message: string;
  readonly details: readonly unknown[];
}

export const NOT_FOUND_MESSAGE = "No such API method";
export const METHOD_NOT_ALLOWED_MESSAGE = "Method not allowed on this path";
export const MALFORMED_JSON = "Malformed JSON body";
export const BODY_TOO_LARGE = "Request body is too large";
export const UNSUPPORTED_MEDIA_TYPE = 'Request body must be JSON ("content-type: application/json")';
export const RATE_LIMITED = "Too many requests, retry later";
export const INTERNAL_MESSAGE = "Internal error";
export const UNAVAILABLE_MESSAGE = "Service unavailable, retry later";
export const DEADLINE_MESSAGE = "Deadline exceeded";
export const BAD_TIMEOUT = "Invalid timeout header: use grpc-timeout (e.g. 500m, 2S) or X-Timeout in milliseconds";

/** An error the gateway answers itself, before or instead of a gRPC call. */
export class GatewayError extends Error {
  override readonly name = "GatewayError";
  constructor(
    readonly httpStatus: number,
    message: string,
    /** The request field at fault, for a google.rpc.BadRequest detail. */
    readonly field?: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The request field at fault: a 400 whose message names it, with a BadRequest detail. */
export function invalidField(field: string, message: string): GatewayError {
  return new GatewayError(400, message, field);
}

/** Builds google.rpc.Status JSON, decoding services' details with the descriptor set's types. */
export function createStatusJson(registry: FileRegistry) {
  const statusSchema = registry.getMessage("google.rpc.Status");
  if (statusSchema === undefined) throw new Error("google.rpc.Status missing from the descriptor set");

  /** The Status JSON of a {@link GatewayError}: a field at fault gets a google.rpc.BadRequest (as an Any). */
  function ofGatewayError(error: GatewayError): StatusJson {
    const code = GRPC_CODE_OF_HTTP[error.httpStatus] ?? grpcStatus.UNKNOWN;
    const details =
      error.field === undefined
        ? []
        : [
            {
              "@type": "type.googleapis.com/google.rpc.BadRequest",
              fieldViolations: [{ field: error.field, description: error.message }],
            },
          ];
    return { code, message: error.message, details };
  }

  /**
   * The Status JSON of a failed gRPC call: its code, the service's message (its stable,
   * client-visible text) and the details it sent in `grpc-status-details-bin`.
   */
  function ofGrpcError(code: number, message: string, trailer: Uint8Array | undefined): StatusJson {
    let details: unknown[] = [];
    if (trailer !== undefined) {
      try {
        const decoded = toJson(statusSchema as DescMessage, fromBinary(statusSchema as DescMessage, trailer), {
          registry,
        }) as { details?: unknown[] };
        details = decoded.details ?? [];
      } catch {
        details = [];
      }
    }
    return { code, message, details };
  }

  return { ofGatewayError, ofGrpcError };
}

/** The binary google.rpc.Status a service sent with its error, if any. */
export function statusTrailer(metadata: { get(key: string): unknown[] } | undefined): Uint8Array | undefined {
  const value = metadata?.get(STATUS_DETAILS_TRAILER)[0];
  return value instanceof Uint8Array ? value : undefined;
}
