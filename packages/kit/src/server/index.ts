// The gRPC server side: createServer, defineService, health, graceful shutdown and the kit's
// own server interceptors (`@obfy/kit/server`).

// Also in `@obfy/kit/core`, for processes that serve no gRPC.
export { type GracefulShutdown, type RunUntilSignalledOptions, runUntilSignalled } from "../run-until-signalled.js";
export { type CreateServerOptions, createServer, type KitServer, SHUTTING_DOWN_MESSAGE } from "./create-server.js";
export { createExceptionToStatusInterceptor } from "./exception-to-status.js";
export type { HealthControl, ServingStatus } from "./health.js";
export { createLoggingInterceptor, levelForCode } from "./logging-interceptor.js";
export {
  type BidiStreamingMethodImplementation,
  type ClientStreamingMethodImplementation,
  defineService,
  type GenericMethodDefinition,
  type GenericServiceDefinition,
  type KitService,
  type MethodImplementation,
  type RequestOf,
  type ResponseOf,
  type ServerStreamingMethodImplementation,
  type ServiceImplementation,
  type UnaryMethodImplementation,
} from "./service.js";
