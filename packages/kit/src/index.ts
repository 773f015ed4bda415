/**
 * The Online Books For You service toolkit for grpc-js.
 * @packageDocumentation
 */

export * from "./client/index.js";
export * from "./cluster/index.js";
export * from "./config.js";
export * from "./context.js";
export * from "./errors.js";
export * from "./interceptor.js";
export * from "./logger.js";
export * from "./observability/index.js";
export * from "./security/index.js";
export * from "./server/index.js";
