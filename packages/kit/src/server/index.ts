export { CallTracker, type TrackedCall } from "./call-tracker.js";
export * from "./create-server.js";
export { createExceptionToStatusInterceptor } from "./exception-to-status.js";
export { type HealthControl, KitHealth, type ServingStatus } from "./health.js";
export { createLoggingInterceptor, type LoggingInterceptorOptions, levelForCode } from "./logging-interceptor.js";
export { methodInfo, REQUEST_ID_HEADER, requestIdFrom } from "./method-handler.js";
export { HEALTH_SERVICE_NAME, REFLECTION_SERVICE_NAMES } from "./reflection.js";
export * from "./run-until-signalled.js";
export * from "./service.js";
