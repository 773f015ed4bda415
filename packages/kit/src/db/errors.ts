import { Aborted, DeadlineExceeded, GrpcError, InvalidArgument, Unavailable } from "../errors.js";
import type { ServerInterceptor } from "../interceptor.js";

/** Node.js socket and DNS error codes that mean the server cannot be reached. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
]);

/**
 * node-postgres's own messages (it gives these errors no code) for a connection that could not
 * be made, was lost, or was taken from a pool that is closing.
 */
const CONNECTION_MESSAGES = [
  "timeout exceeded when trying to connect",
  "Connection terminated",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
  "Cannot use a pool after calling end on the pool",
  "Query read timeout",
];

/**
 * SQLSTATEs meaning the server is not there for us now: connection exceptions (class 08), the
 * server shutting down or starting up (57P01–57P03), too many connections (53300), the
 * database or role missing or refusing us (3D000, 28000, 28P01).
 */
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300", "3D000", "28000", "28P01"]);

/** SQLSTATEs caused by what a caller sent, each with the message the caller sees. */
const INVALID_INPUT_MESSAGES: Readonly<Record<string, string>> = {
  // A NUL character (0x00) in a string: PostgreSQL text cannot hold it.
  "22021": "A text field holds a character that cannot be stored (such as NUL)",
  "22P05": "A text field holds a character that cannot be stored",
  "22001": "A text field is longer than allowed",
  "22003": "A number is out of the allowed range",
};

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True when `error` (or its cause) means the database cannot be reached or has gone away. */
export function isDatabaseConnectionError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
    const state = sqlState(e);
    if (state !== undefined && (state.startsWith("08") || UNAVAILABLE_STATES.has(state))) return true;
    if (CONNECTION_MESSAGES.some((message) => e instanceof Error && e.message.startsWith(message))) return true;
    if (e instanceof AggregateError && e.errors.some((inner) => isDatabaseConnectionError(inner))) return true;
  }
  return false;
}

/**
 * The {@link GrpcError} a caller should see for a database error, or `undefined` when the error
 * says nothing a caller can act on (a bug: let it become INTERNAL, logged with its cause):
 * - cannot connect, connection lost, pool timed out, server shutting down → UNAVAILABLE
 *   "The `name` database is unavailable";
 * - statement timeout (57014) → DEADLINE_EXCEEDED "The `name` database did not answer in time";
 * - serialization failure, deadlock, lock timeout (40001, 40P01, 55P03) → ABORTED, to retry;
 * - a string the database cannot store (a NUL byte), too long, a number out of range →
 *   INVALID_ARGUMENT.
 * Constraint violations (unique, foreign key, check) are left to the service: only it knows
 * what they mean to the caller ("A book with this ISBN exists").
 */
export function grpcErrorForDatabaseError(error: unknown, name: string): GrpcError | undefined {
  if (error instanceof GrpcError) return error;
  const options = { cause: error };
  if (isDatabaseConnectionError(error)) return new Unavailable(`The ${name} database is unavailable`, options);
  const state = sqlState(error);
  if (state === "57014") return new DeadlineExceeded(`The ${name} database did not answer in time`, options);
  if (state === "40001" || state === "40P01" || state === "55P03") {
    return new Aborted(`The ${name} database was busy with a conflicting change; try again`, options);
  }
  const invalid = state === undefined ? undefined : INVALID_INPUT_MESSAGES[state];
  if (invalid !== undefined) return new InvalidArgument(invalid, options);
  return undefined;
}

/**
 * A server interceptor that turns database errors escaping a handler into the statuses of
 * {@link grpcErrorForDatabaseError}, so a handler needs no try/catch for an outage or a
 * timeout. Other errors pass through unchanged. Pass it in `createServer({ interceptors })`.
 */
export function createDatabaseErrorInterceptor(options: { readonly name: string }): ServerInterceptor {
  const { name } = options;
  return (next) => async (call) => {
    try {
      return await next(call);
    } catch (error) {
      const mapped = grpcErrorForDatabaseError(error, name);
      if (mapped !== undefined && mapped !== error) {
        call.context.log.debug({ err: error, grpc_code: mapped.codeName }, "Database error");
      }
      throw mapped ?? error;
    }
  };
}
