// The gRPC client side: createClient, its options and errors (`@obfy/kit/client`).
export { ClientError, type ClientErrorOptions } from "./client-error.js";
export {
  type CallOptions,
  type ClientOptions,
  DEFAULT_CLIENT_TIMEOUT_MS,
  DEFAULT_KEEPALIVE,
  DEFAULT_RECONNECT_BACKOFF,
  DEFAULT_REISSUE,
  DEFAULT_RETRY,
  DEFAULT_RETRY_THROTTLING,
  type KeepaliveOptions,
  type ReconnectBackoffOptions,
  type ReissueOptions,
  type RetryOptions,
  type RetryThrottlingOptions,
} from "./client-options.js";
export {
  type BidiStreamingClientMethod,
  type ClientControls,
  type ClientMethod,
  type ClientStreamingClientMethod,
  createClient,
  type ServerStreamingClientMethod,
  type ServiceClient,
  type UnaryClientMethod,
} from "./create-client.js";
export { tlsTargetOptions } from "./tls-target-options.js";
