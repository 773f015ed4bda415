/**
 * The kit's basics, without its heavier parts: configuration readers, call context, typed
 * errors, interceptor types, the logger, host:port helpers and graceful shutdown on a signal. Import from `@obfy/kit/core`
 * where start-up time matters; `@obfy/kit` re-exports all of it.
 * @packageDocumentation
 */
export {
  envBool,
  envInt,
  envString,
  type IntRange,
  readServerConfig,
  type ServerConfig,
  type ServerConfigDefaults,
} from "./config.js";
export {
  type CallContext,
  type ContextKey,
  createContextKey,
  currentContext,
  type MethodInfo,
  type MethodKind,
  type RawServerCall,
  REQUEST_ID_HEADER,
} from "./context.js";
export {
  Aborted,
  AlreadyExists,
  Cancelled,
  DataLoss,
  DeadlineExceeded,
  type ErrorDetail,
  FailedPrecondition,
  GrpcError,
  type GrpcErrorOptions,
  INTERNAL_ERROR_MESSAGE,
  Internal,
  InvalidArgument,
  isServiceError,
  NotFound,
  OutOfRange,
  PermissionDenied,
  ResourceExhausted,
  readStatusDetails,
  type ServiceErrorLike,
  STATUS_DETAILS_TRAILER,
  Unauthenticated,
  Unavailable,
  Unimplemented,
  Unknown,
} from "./errors.js";
export { httpOrigin, joinHostPort } from "./host-port.js";
export type {
  ClientCall,
  ClientInterceptor,
  Interceptor,
  Next,
  ServerCall,
  ServerInterceptor,
} from "./interceptor.js";
export { type CreateLoggerOptions, createLogger, type Logger } from "./logger.js";
export { type GracefulShutdown, type RunUntilSignalledOptions, runUntilSignalled } from "./run-until-signalled.js";
