/**
 * The Online Books For You service toolkit for grpc-js: everything, for tests and tools.
 *
 * Importing this module loads every part of the kit (gRPC server and client, security,
 * observability, Fastify plugins, dashboard). A deployable imports only the parts it uses
 * through the subpaths, so it starts faster and holds less memory: `@obfy/kit/core` (config,
 * context, errors, interceptors, logger), `/server`, `/client`, `/cluster`, `/security`,
 * `/observability` (metrics, tracing, process error handlers), `/http` (Fastify plugins) and
 * `/dashboard`. Each exports the same symbols as here.
 * @packageDocumentation
 */

export * from "./client/index.js";
export * from "./cluster/index.js";
export * from "./core.js";
export * from "./observability/dashboard/index.js";
export * from "./observability/http-plugins.js";
export * from "./observability/index.js";
export * from "./security/index.js";
export * from "./server/index.js";
