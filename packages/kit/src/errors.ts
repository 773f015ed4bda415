import { Metadata, status } from "@grpc/grpc-js";
import { googleRpcStatus } from "@obfy/protos";

/** The trailer that carries a `google.rpc.Status` with error details (gRFC "richer error model"). */
export const STATUS_DETAILS_TRAILER = "grpc-status-details-bin";

/** A packed error detail (`google.protobuf.Any`): e.g. a `google.rpc.PreconditionFailure` and its type URL. */
export interface ErrorDetail {
  /** `type.googleapis.com/<full message name>`, e.g. `type.googleapis.com/google.rpc.BadRequest`. */
  readonly typeUrl: string;
  /** The detail message's protobuf encoding. */
  readonly value: Uint8Array;
}

/** Options for {@link GrpcError} and its subclasses. */
export interface GrpcErrorOptions {
  /** The underlying error. Logged by the server, never sent to the caller. */
  cause?: unknown;
  /** Trailing metadata sent with the status. */
  metadata?: Metadata;
  /**
   * Details for the caller (`google.rpc.BadRequest`, `google.rpc.PreconditionFailure`, …), sent
   * as a `google.rpc.Status` in the `grpc-status-details-bin` trailer; read them with
   * {@link readStatusDetails}.
   */
  details?: readonly ErrorDetail[];
}

const GENERIC_MESSAGES: Readonly<Record<number, string>> = {
  [status.CANCELLED]: "Cancelled",
  [status.UNKNOWN]: "Unknown error",
  [status.INVALID_ARGUMENT]: "Invalid argument",
  [status.DEADLINE_EXCEEDED]: "Deadline exceeded",
  [status.NOT_FOUND]: "Not found",
  [status.ALREADY_EXISTS]: "Already exists",
  [status.PERMISSION_DENIED]: "Permission denied",
  [status.RESOURCE_EXHAUSTED]: "Resource exhausted",
  [status.FAILED_PRECONDITION]: "Failed precondition",
  [status.ABORTED]: "Aborted",
  [status.OUT_OF_RANGE]: "Out of range",
  [status.UNIMPLEMENTED]: "Unimplemented",
  [status.INTERNAL]: "Internal error",
  [status.UNAVAILABLE]: "Service unavailable",
  [status.DATA_LOSS]: "Data loss",
  [status.UNAUTHENTICATED]: "Unauthenticated",
};

/** The message callers see for an error we cannot describe safely. */
export const INTERNAL_ERROR_MESSAGE = "Internal server error";

/**
 * The one error type of the kit: a gRPC status code plus a message that is safe to show the
 * caller. Handlers throw it (usually through a subclass such as {@link NotFound}); the
 * exception-to-status interceptor turns it into the call's status.
 */
export class GrpcError extends Error {
  /** The gRPC status code sent to the caller. */
  readonly code: status;
  /** Trailing metadata sent with the status. */
  readonly metadata: Metadata;

  constructor(code: status, message?: string, options: GrpcErrorOptions = {}) {
    super(
      message ?? GENERIC_MESSAGES[code] ?? "Error",
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "GrpcError";
    this.code = code;
    this.metadata = options.metadata ?? new Metadata();
    if (options.details !== undefined && options.details.length > 0) {
      const details = options.details.map((d) => ({ typeUrl: d.typeUrl, value: Buffer.from(d.value) }));
      const encoded = googleRpcStatus.Status.encode({ code, message: this.message, details }).finish();
      this.metadata.set(STATUS_DETAILS_TRAILER, Buffer.from(encoded));
    }
  }

  /** The status name, e.g. `NOT_FOUND`. */
  get codeName(): string {
    return status[this.code] ?? String(this.code);
  }

  /**
   * Turns anything thrown into a GrpcError without leaking details:
   * - a GrpcError is returned as it is;
   * - an abort (AbortSignal, `AbortError`) becomes CANCELLED;
   * - an error from a downstream gRPC call keeps DEADLINE_EXCEEDED and CANCELLED (they are
   *   about this call's own budget), anything else becomes `fallback`;
   * - everything else becomes `fallback` (INTERNAL) with a generic message; the original is
   *   kept as `cause` for the log.
   */
  static from(error: unknown, fallback: status = status.INTERNAL): GrpcError {
    if (error instanceof GrpcError) return error;
    if (isServiceError(error)) {
      if (error.code === status.DEADLINE_EXCEEDED || error.code === status.CANCELLED) {
        return new GrpcError(error.code, GENERIC_MESSAGES[error.code], { cause: error });
      }
      return new GrpcError(fallback, fallback === status.INTERNAL ? INTERNAL_ERROR_MESSAGE : undefined, {
        cause: error,
      });
    }
    if (error instanceof Error && error.name === "AbortError") {
      return new GrpcError(status.CANCELLED, GENERIC_MESSAGES[status.CANCELLED], { cause: error });
    }
    return new GrpcError(fallback, fallback === status.INTERNAL ? INTERNAL_ERROR_MESSAGE : undefined, { cause: error });
  }
}

/**
 * The error details a status carried (see {@link GrpcErrorOptions.details}), from its trailers
 * (`ClientError.metadata`); none when there were none or they cannot be decoded.
 */
export function readStatusDetails(metadata: Metadata): ErrorDetail[] {
  const [value] = metadata.get(STATUS_DETAILS_TRAILER);
  if (!(value instanceof Buffer)) return [];
  try {
    return googleRpcStatus.Status.decode(value).details;
  } catch {
    return [];
  }
}

/** An error received from a grpc-js client call (grpc-js `ServiceError`). */
export interface ServiceErrorLike extends Error {
  code: status;
  details: string;
  metadata: Metadata;
}

/** True when `error` is a grpc-js `ServiceError` (a failed client call). */
export function isServiceError(error: unknown): error is ServiceErrorLike {
  return (
    error instanceof Error &&
    typeof (error as Partial<ServiceErrorLike>).code === "number" &&
    typeof (error as Partial<ServiceErrorLike>).details === "string" &&
    (error as Partial<ServiceErrorLike>).metadata instanceof Metadata
  );
}

/** CANCELLED: the operation was cancelled, typically by the caller. */
export class Cancelled extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.CANCELLED, message, options);
    this.name = "Cancelled";
  }
}

/** UNKNOWN: an error whose cause cannot be described. */
export class Unknown extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.UNKNOWN, message, options);
    this.name = "Unknown";
  }
}

/** INVALID_ARGUMENT: the request is malformed whatever the system's state. */
export class InvalidArgument extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.INVALID_ARGUMENT, message, options);
    this.name = "InvalidArgument";
  }
}

/** DEADLINE_EXCEEDED: the deadline passed before the operation completed. */
export class DeadlineExceeded extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.DEADLINE_EXCEEDED, message, options);
    this.name = "DeadlineExceeded";
  }
}

/** NOT_FOUND: a requested entity does not exist. */
export class NotFound extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.NOT_FOUND, message, options);
    this.name = "NotFound";
  }
}

/** ALREADY_EXISTS: the entity the caller tried to create exists. */
export class AlreadyExists extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.ALREADY_EXISTS, message, options);
    this.name = "AlreadyExists";
  }
}

/** PERMISSION_DENIED: the caller is known but may not do this. */
export class PermissionDenied extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.PERMISSION_DENIED, message, options);
    this.name = "PermissionDenied";
  }
}

/** RESOURCE_EXHAUSTED: a quota or limit was hit. */
export class ResourceExhausted extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.RESOURCE_EXHAUSTED, message, options);
    this.name = "ResourceExhausted";
  }
}

/** FAILED_PRECONDITION: the system is not in a state that allows the operation. */
export class FailedPrecondition extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.FAILED_PRECONDITION, message, options);
    this.name = "FailedPrecondition";
  }
}

/** ABORTED: a concurrency conflict; retry at a higher level. */
export class Aborted extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.ABORTED, message, options);
    this.name = "Aborted";
  }
}

/** OUT_OF_RANGE: the operation went past a valid range. */
export class OutOfRange extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.OUT_OF_RANGE, message, options);
    this.name = "OutOfRange";
  }
}

/** UNIMPLEMENTED: the method is not implemented or not enabled. */
export class Unimplemented extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.UNIMPLEMENTED, message, options);
    this.name = "Unimplemented";
  }
}

/** INTERNAL: an invariant broke. Keep the message generic. */
export class Internal extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.INTERNAL, message, options);
    this.name = "Internal";
  }
}

/** UNAVAILABLE: transient; the caller may retry with backoff. */
export class Unavailable extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.UNAVAILABLE, message, options);
    this.name = "Unavailable";
  }
}

/** DATA_LOSS: unrecoverable data loss or corruption. */
export class DataLoss extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.DATA_LOSS, message, options);
    this.name = "DataLoss";
  }
}

/** UNAUTHENTICATED: the caller's credentials are missing or invalid. */
export class Unauthenticated extends GrpcError {
  constructor(message?: string, options?: GrpcErrorOptions) {
    super(status.UNAUTHENTICATED, message, options);
    this.name = "Unauthenticated";
  }
}
