import { Metadata, status } from "@grpc/grpc-js";
import { isServiceError } from "../errors.js";

/** Longest piece of the server's status details that goes into {@link ClientError.message}. */
const MAX_MESSAGE_DETAILS = 200;

/**
 * Shortens status details for an error message: the first line only, at most
 * {@link MAX_MESSAGE_DETAILS} characters. A careless server (or proxy) may put a whole stack
 * trace in the details; messages end up in logs and, re-thrown carelessly, in responses, so they
 * never carry more than a one-line summary. The full text stays in {@link ClientError.details}.
 */
function summarizeDetails(details: string): string {
  const firstLine = details.split(/\r?\n/, 1)[0]?.trim() ?? "";
  // "Error: boom    at f (file.js:1:2)" on one line is still a stack trace: cut at the first frame.
  const frame = firstLine.search(/\s+at\s+\S+\s+\(|\s+at\s+\S+:\d+:\d+/);
  const summary = frame === -1 ? firstLine : firstLine.slice(0, frame);
  return summary.length > MAX_MESSAGE_DETAILS ? `${summary.slice(0, MAX_MESSAGE_DETAILS)}…` : summary;
}

/** Options for {@link ClientError}. */
export interface ClientErrorOptions {
  /** Trailing metadata received with the status. */
  metadata?: Metadata;
  /** The underlying error (e.g. the grpc-js `ServiceError`). */
  cause?: unknown;
  /** The response headers the server sent before the call failed, if it sent any. */
  responseHeaders?: Metadata;
}

/**
 * A failed call made through {@link createClient}. It has the grpc-js `ServiceError` shape
 * (`code`, `details`, `metadata`), so the kit's `isServiceError` and `GrpcError.from` treat it
 * as a downstream failure: a server handler that lets it escape answers INTERNAL (or keeps
 * DEADLINE_EXCEEDED / CANCELLED), never the downstream's code or text.
 *
 * Its `message` is `"<method> <CODE>: <first line of details>"` and never contains a server stack
 * trace; `details` keeps the full text the server sent.
 */
export class ClientError extends Error {
  /** The call's gRPC status code. */
  readonly code: status;
  /** The status details (message) the server sent, unabridged. */
  readonly details: string;
  /** Trailing metadata received with the status. */
  readonly metadata: Metadata;
  /** Full method path, e.g. `/bookstore.recommendations.v1.RecommendationsService/Recommend`. */
  readonly method: string;
  /**
   * The response headers the server sent before the call failed; `undefined` when it failed
   * before any (refused, unreachable, or a trailers-only error). When set, a handler had
   * started answering: it may have done its work.
   */
  readonly responseHeaders: Metadata | undefined;

  constructor(method: string, code: status, details: string, options: ClientErrorOptions = {}) {
    const name = status[code] ?? String(code);
    const summary = summarizeDetails(details);
    super(
      `${method} ${name}${summary === "" ? "" : `: ${summary}`}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "ClientError";
    this.code = code;
    this.details = details;
    this.metadata = options.metadata ?? new Metadata();
    this.method = method;
    this.responseHeaders = options.responseHeaders;
  }

  /** The status name, e.g. `UNAVAILABLE`. */
  get codeName(): string {
    return status[this.code] ?? String(this.code);
  }

  /**
   * Wraps what a grpc-js call failed with. A grpc-js `ServiceError` becomes a ClientError with the
   * same code, details and metadata (and the `responseHeaders` received before it); anything else
   * is returned unchanged (it is not a gRPC status).
   */
  static from(method: string, error: unknown, responseHeaders?: Metadata): unknown {
    if (error instanceof ClientError) return error;
    if (isServiceError(error)) {
      // No `cause`: the grpc-js error's message repeats the full details, and error serializers
      // print causes, which would bring back the stack trace the summary keeps out.
      return new ClientError(method, error.code, error.details, {
        metadata: error.metadata,
        ...(responseHeaders === undefined ? {} : { responseHeaders }),
      });
    }
    return error;
  }
}
