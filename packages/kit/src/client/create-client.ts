import { AsyncLocalStorage } from "node:async_hooks";
import {
  type ChannelOptions,
  type connectivityState,
  Client as GrpcClient,
  credentials as grpcCredentials,
  Metadata,
} from "@grpc/grpc-js";
import { currentContext, type MethodInfo } from "../context.js";
import type { ClientCall, ClientInterceptor, Next } from "../interceptor.js";
import { composeInterceptors } from "../internal/compose-interceptors.js";
import { methodInfo } from "../internal/method-info.js";
import { createLogger, type Logger } from "../logger.js";
import type { GenericServiceDefinition, RequestOf, ResponseOf } from "../server/service.js";
import {
  type CallOptions,
  type ClientOptions,
  DEFAULT_CLIENT_TIMEOUT_MS,
  DEFAULT_KEEPALIVE,
  DEFAULT_RECONNECT_BACKOFF,
  DEFAULT_RETRY_THROTTLING,
} from "./client-options.js";
import {
  createClientLoggingInterceptor,
  parentDeadlineInterceptor,
  requestIdInterceptor,
} from "./internal/call-interceptors.js";
import { acquireChannel } from "./internal/channel-pool.js";
import { createReissueInterceptor } from "./internal/reissue-interceptor.js";
import { buildServiceConfig, idempotentMethodPaths } from "./internal/service-config.js";
import { createTransport } from "./internal/transport.js";
import { tlsTargetOptions } from "./tls-target-options.js";

/** A unary method: one request, one response. */
export type UnaryClientMethod<Req, Res> = (request: Req, options?: CallOptions) => Promise<Res>;
/** A server-streaming method: one request, responses as an async iterable (the call starts when iteration does). */
export type ServerStreamingClientMethod<Req, Res> = (request: Req, options?: CallOptions) => AsyncIterable<Res>;
/** A client-streaming method: requests from an async iterable, one response. */
export type ClientStreamingClientMethod<Req, Res> = (
  requests: AsyncIterable<Req>,
  options?: CallOptions,
) => Promise<Res>;
/** A bidi-streaming method: requests from an async iterable, responses as an async iterable (started by iterating). */
export type BidiStreamingClientMethod<Req, Res> = (
  requests: AsyncIterable<Req>,
  options?: CallOptions,
) => AsyncIterable<Res>;

/** The client method type for one method definition, chosen by its `requestStream` / `responseStream` flags. */
export type ClientMethod<M> = M extends { readonly requestStream: true; readonly responseStream: true }
  ? BidiStreamingClientMethod<RequestOf<M>, ResponseOf<M>>
  : M extends { readonly requestStream: true; readonly responseStream: false }
    ? ClientStreamingClientMethod<RequestOf<M>, ResponseOf<M>>
    : M extends { readonly requestStream: false; readonly responseStream: true }
      ? ServerStreamingClientMethod<RequestOf<M>, ResponseOf<M>>
      : UnaryClientMethod<RequestOf<M>, ResponseOf<M>>;

/** What every client has besides its service's methods. */
export interface ClientControls {
  /** The target the client was created for. */
  readonly target: string;
  /** Resolves once the channel is connected, rejects if `deadline` passes first. */
  waitForReady(deadline: Date | number): Promise<void>;
  /** The channel's connectivity state (diagnostics); `tryToConnect` leaves IDLE. */
  channelState(tryToConnect?: boolean): connectivityState;
  /**
   * Releases this client's reference to the shared channel; the channel closes when its last
   * client does. Calls in flight on a still-shared channel continue. Idempotent.
   */
  close(): void;
}

/** A typed promise client: one method per key of the service definition, plus {@link ClientControls}. */
export type ServiceClient<D extends GenericServiceDefinition> = {
  readonly [K in keyof D]: ClientMethod<D[K]>;
} & ClientControls;

const CONTROL_NAMES: ReadonlySet<string> = new Set(["target", "waitForReady", "channelState", "close"]);

let defaultLogger: Logger | undefined;

/** Created on first use so that importing the kit does not open stdout. */
function getDefaultLogger(): Logger {
  defaultLogger ??= createLogger({ name: "grpc-client" });
  return defaultLogger;
}

function checkMs(name: string, value: number): void {
  if (Number.isNaN(value) || value < 0) {
    throw new RangeError(`${name} must be a number of milliseconds >= 0 or Infinity, got ${value}`);
  }
}

/** The absolute deadline (ms since the epoch, `Infinity` for none) a call's own options ask for. */
function deadlineOf(options: CallOptions, defaultTimeoutMs: number, now = Date.now()): number {
  const absolute = options.deadline instanceof Date ? options.deadline.getTime() : options.deadline;
  if (absolute !== undefined && Number.isNaN(absolute)) throw new RangeError("deadline is not a valid date");
  if (options.timeoutMs !== undefined) {
    checkMs("timeoutMs", options.timeoutMs);
    return Math.min(absolute ?? Number.POSITIVE_INFINITY, now + options.timeoutMs);
  }
  return absolute ?? now + defaultTimeoutMs;
}

function toMetadata(input: Metadata | Record<string, string> | undefined): Metadata {
  if (input instanceof Metadata) return input.clone();
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(input ?? {})) metadata.set(key, value);
  return metadata;
}

/**
 * The caller's side of a streaming response: `run` pushes each message through `receive`, which
 * resolves once the caller has asked for the next one (backpressure). Stopping the iteration
 * early cancels the call through the signal `run` was given.
 */
async function* responseStream(
  run: (receive: (message: unknown) => Promise<void>, signal: AbortSignal) => Promise<unknown>,
  callerSignal: AbortSignal | undefined,
): AsyncGenerator<unknown, void, undefined> {
  const stop = new AbortController();
  const queue: { message: unknown; taken: () => void }[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let failed = false;
  let failure: unknown;
  const receive = (message: unknown) =>
    new Promise<void>((taken) => {
      queue.push({ message, taken });
      wake?.();
    });
  const signal = callerSignal === undefined ? stop.signal : AbortSignal.any([callerSignal, stop.signal]);
  const running = run(receive, signal).then(
    () => {
      ended = true;
      wake?.();
    },
    (error: unknown) => {
      ended = true;
      failed = true;
      failure = error;
      wake?.();
    },
  );
  try {
    for (;;) {
      const next = queue[0];
      if (next !== undefined) {
        yield next.message;
        queue.shift();
        next.taken();
      } else if (ended) {
        if (failed) throw failure;
        return;
      } else {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    }
  } finally {
    if (!ended) {
      stop.abort();
      for (const item of queue.splice(0)) item.taken();
      await running;
    }
  }
}

/**
 * Creates a typed promise client for one service from its ts-proto grpc-js definition:
 *
 * ```ts
 * const client = createClient(recommendationsV1.RecommendationsServiceService, "dns:///recommendations:50051");
 * const { recommendations } = await client.recommend(RecommendRequest.fromPartial({ userId: 1, category }), { timeoutMs: 500 });
 * client.close();
 * ```
 *
 * Every call runs through these interceptors, outermost first (the README has the details):
 * 1. request id: `x-request-id` is the caller's own, else the parent call's, else a new UUID;
 * 2. parent deadline: a call made while handling another never outlives it;
 * 3. logging: one line per call;
 * 4. `options.interceptors`, e.g. tracing, then metrics;
 * 5. re-issue after response headers (retryable unary methods only; see reissue-interceptor.ts);
 * 6. the grpc-js call, which retries what the protos declare side-effect free or idempotent, on
 *    one pooled channel per target (round_robin over every address the target resolves to).
 *
 * Every call has a deadline (`defaultTimeoutMs`, 5 s, unless the call sets one); failures reject
 * with {@link ClientError}.
 *
 * @param definition a ts-proto `outputServices=grpc-js` definition, e.g. `dummyV1.DummyServiceService`
 * @param target a gRPC target: `host:port`, `dns:///host:port`, `ipv4:a:p,b:p`, `unix:/path`, ...
 */
export function createClient<const D extends GenericServiceDefinition>(
  definition: D,
  target: string,
  options: ClientOptions<D> = {},
): ServiceClient<D> {
  const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
  checkMs("defaultTimeoutMs", defaultTimeoutMs);
  const methods = Object.entries(definition).map(([key, method]) => {
    if (CONTROL_NAMES.has(key))
      throw new Error(`createClient: method key "${key}" clashes with a client control method`);
    return { key, method, info: methodInfo(method) };
  });

  // The channel is shared by every service on the target, so its retry config covers every
  // idempotent method in @obfy/protos; `retryableMethods` replaces the entries of this service only.
  const retryablePaths = new Set(idempotentMethodPaths());
  if (options.retryableMethods !== undefined) {
    for (const { method } of methods) retryablePaths.delete(method.path);
    for (const key of options.retryableMethods) {
      const method = definition[key];
      if (method === undefined) throw new Error(`createClient: retryableMethods names unknown method "${key}"`);
      retryablePaths.add(method.path);
    }
  }
  const keepalive = { ...DEFAULT_KEEPALIVE, ...options.keepalive };
  const reconnect = { ...DEFAULT_RECONNECT_BACKOFF, ...options.reconnectBackoff };
  const channelOptions: ChannelOptions = {
    "grpc.service_config": buildServiceConfig({
      retryablePaths,
      retry: options.retry ?? {},
      retryThrottling: options.retryThrottling ?? DEFAULT_RETRY_THROTTLING,
      loadBalancing: options.loadBalancing ?? "round_robin",
    }),
    // Our service config is the contract: a DNS TXT record must not be able to replace it (and
    // drop retries or load balancing), and skipping the TXT lookup saves a query per resolution.
    "grpc.service_config_disable_resolution": 1,
    "grpc.keepalive_time_ms": keepalive.timeMs,
    "grpc.keepalive_timeout_ms": keepalive.timeoutMs,
    "grpc.keepalive_permit_without_calls": keepalive.permitWithoutCalls ? 1 : 0,
    "grpc.initial_reconnect_backoff_ms": reconnect.initialMs,
    "grpc.max_reconnect_backoff_ms": reconnect.maxMs,
    // No channelz service reads it (see createServer).
    "grpc.enable_channelz": 0,
    // TLS to an IP address on Node 26 (see tls-target-options.ts); nothing for other targets.
    ...tlsTargetOptions(target),
    ...options.channelOptions,
  };
  const logger = options.logger ?? getDefaultLogger();
  const interceptors: ClientInterceptor[] = [
    requestIdInterceptor,
    parentDeadlineInterceptor,
    createClientLoggingInterceptor(logger),
    ...(options.interceptors ?? []),
  ];
  if (options.retry !== false && options.reissue !== false) {
    // Built before the channel is leased: it throws on bad `reissue` values.
    interceptors.push(createReissueInterceptor({ ...options.reissue, methods: retryablePaths, logger }));
  }
  const lease = acquireChannel(target, options.credentials ?? grpcCredentials.createInsecure(), channelOptions);
  const grpcClient = new GrpcClient(target, grpcCredentials.createInsecure(), { channelOverride: lease.channel });
  let closed = false;

  /** The call as the chain starts it, from the method and the caller's options. */
  const callFor = (info: MethodInfo, callOptions: CallOptions = {}) => {
    if (closed) throw new Error(`createClient: ${info.path} called on a closed client for ${target}`);
    return {
      method: info,
      target,
      metadata: toMetadata(callOptions.metadata),
      deadline: deadlineOf(callOptions, defaultTimeoutMs),
      signal: callOptions.signal,
      // The one place the client reads the server call it was made in; interceptors get it here.
      parent: currentContext(),
    };
  };

  const client: Record<string, unknown> = {
    target,
    waitForReady(deadline: Date | number): Promise<void> {
      return new Promise((resolve, reject) => {
        grpcClient.waitForReady(deadline, (error) => (error ? reject(error) : resolve()));
      });
    },
    channelState(tryToConnect = false): connectivityState {
      return lease.channel.getConnectivityState(tryToConnect);
    },
    close(): void {
      if (closed) return;
      closed = true;
      // Not grpcClient.close(): that would close the shared channel under other clients.
      lease.release();
    },
  };
  for (const { key, method, info } of methods) {
    const chain: Next<ClientCall> = composeInterceptors(interceptors, createTransport(grpcClient, method));
    if (!info.responseStream) {
      client[key] = async (input: unknown, callOptions?: CallOptions) =>
        chain({
          ...callFor(info, callOptions),
          request: info.requestStream ? undefined : input,
          requests: info.requestStream ? (input as AsyncIterable<unknown>) : undefined,
          receive: undefined,
        });
    } else {
      client[key] = (input: unknown, callOptions?: CallOptions) => {
        const call = callFor(info, callOptions);
        // The call starts when iteration does, in the async context the method was called in.
        const inCallerContext = AsyncLocalStorage.snapshot();
        return responseStream(
          (receive, signal) =>
            inCallerContext(chain, {
              ...call,
              request: info.requestStream ? undefined : input,
              requests: info.requestStream ? (input as AsyncIterable<unknown>) : undefined,
              receive,
              signal,
            }),
          call.signal,
        );
      };
    }
  }
  // The methods were built from `definition` key by key with the kinds ClientMethod<D[K]> selects.
  return client as ServiceClient<D>;
}
