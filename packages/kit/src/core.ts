/**
 * The kit's basics, without its heavier parts: configuration readers, call context, typed
 * errors, interceptors and the logger. Import from `@obfy/kit/core` where start-up time matters;
 * `@obfy/kit` re-exports all of it.
 * @packageDocumentation
 */
export * from "./config.js";
export * from "./context.js";
export * from "./errors.js";
export * from "./interceptor.js";
export * from "./logger.js";
