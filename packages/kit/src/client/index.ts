// The kit's client side: createClient and what its options and errors are made of.
export { ClientError, type ClientErrorOptions } from "./client-error.js";
export { type ClientLoggingInterceptorOptions, createClientLoggingInterceptor } from "./client-logging-interceptor.js";
export { createClientRequestIdInterceptor } from "./client-request-id-interceptor.js";
export {
  type BidiStreamingClientMethod,
  type CallOptions,
  type ClientControls,
  type ClientMethod,
  type ClientOptions,
  type ClientStreamingClientMethod,
  createClient,
  DEFAULT_CLIENT_TIMEOUT_MS,
  DEFAULT_KEEPALIVE,
  DEFAULT_RECONNECT_BACKOFF,
  type KeepaliveOptions,
  type ReconnectBackoffOptions,
  type ServerStreamingClientMethod,
  type ServiceClient,
  type UnaryClientMethod,
} from "./create-client.js";
export {
  createReissueInterceptor,
  DEFAULT_REISSUE,
  type ReissueInterceptorOptions,
  type ReissueOptions,
} from "./reissue-interceptor.js";
export {
  DEFAULT_RETRY,
  DEFAULT_RETRY_THROTTLING,
  type RetryOptions,
  type RetryThrottlingOptions,
} from "./service-config.js";
export { tlsTargetOptions } from "./tls-target-options.js";
