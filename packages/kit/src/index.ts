/**
 * The Online Books For You service toolkit for grpc-js.
 * @packageDocumentation
 */
export * from "./context.js";
export * from "./errors.js";
export * from "./interceptor.js";
