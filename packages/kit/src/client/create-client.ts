import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import {
  type ChannelCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ClientWritableStream,
  type connectivityState,
  Client as GrpcClient,
  credentials as grpcCredentials,
  type Interceptor,
  Metadata,
  type ServiceError,
  type StatusObject,
  status,
} from "@grpc/grpc-js";
import { type CallContext, currentContext, runWithContext } from "../context.js";
import { createLogger, type Logger } from "../logger.js";
import { REQUEST_ID_HEADER } from "../server/method-handler.js";
import type { GenericMethodDefinition, GenericServiceDefinition, RequestOf, ResponseOf } from "../server/service.js";
import { parseMethodPath } from "../server/service.js";
import { acquireChannel } from "./channel-pool.js";
import { ClientError } from "./client-error.js";
import {
  clientReissueInterceptors,
  type createReissueInterceptor,
  type DEFAULT_REISSUE,
  type ReissueOptions,
} from "./reissue-interceptor.js";
import {
  buildServiceConfig,
  DEFAULT_RETRY_THROTTLING,
  idempotentMethodPaths,
  type RetryOptions,
  type RetryThrottlingOptions,
} from "./service-config.js";
import { tlsTargetOptions } from "./tls-target-options.js";

/** Per-call options, the last argument of every client method. */
export interface CallOptions {
  /**
   * Time budget for this call in ms. Defaults to the client's `defaultTimeoutMs`; `Infinity`
   * removes the default (the call then ends only with the parent's deadline, if any).
   */
  timeoutMs?: number;
  /** Absolute deadline (a Date or ms since the epoch). With `timeoutMs` too, the earlier wins. */
  deadline?: Date | number;
  /** Request headers. A Metadata object is copied, never changed. */
  metadata?: Metadata | Record<string, string>;
  /** Aborting it cancels the call: the promise rejects / the iteration throws a CANCELLED {@link ClientError}. */
  signal?: AbortSignal;
}

/** Keepalive pings on idle connections. See {@link DEFAULT_KEEPALIVE} for why the defaults are what they are. */
export interface KeepaliveOptions {
  /** Ping after this long without activity, in ms. Default 300 000 (5 minutes). */
  timeMs?: number;
  /** Close the connection when a ping gets no answer within this many ms. Default 20 000. */
  timeoutMs?: number;
  /** Ping even with no call in flight. Default false. */
  permitWithoutCalls?: boolean;
}

/**
 * Keepalive defaults, safe for servers and proxies.
 *
 * Keepalive pings find connections that died silently (a NAT or load balancer dropped the flow,
 * a node vanished) before a call hangs on them. But servers police pings: grpc-go's default
 * enforcement allows one every 5 minutes (MinTime) and none without active calls, and answers
 * anything more frequent with GOAWAY `too_many_pings`, which kills the connection and every
 * call on it (grpc-java and grpc-core enforce similar limits, as do Envoy-based proxies). So the
 * client pings no more often than every 5 minutes and only while calls are in flight; the 20 s
 * timeout is gRPC's own default. Lower `timeMs` only against servers configured to permit it.
 */
export const DEFAULT_KEEPALIVE: Readonly<Required<KeepaliveOptions>> = {
  timeMs: 300_000,
  timeoutMs: 20_000,
  permitWithoutCalls: false,
};

/** How fast a channel reconnects after a connection attempt fails. */
export interface ReconnectBackoffOptions {
  /** Wait before the first reconnect, in ms. Default 100. */
  initialMs?: number;
  /** Longest wait between reconnects, in ms. Default 10 000. */
  maxMs?: number;
}

/**
 * Reconnect defaults. gRPC's own are 1 s initial and 120 s max. With them a channel whose server
 * restarted keeps refusing picks for a second, longer than the whole retry budget (about 0.7 s
 * with the default retry policy), so retries could never reach the restarted server; and after
 * a long outage a client could wait two minutes to notice the server is back. Between services
 * in one cluster a failed TCP connect costs next to nothing, so reconnect sooner.
 */
export const DEFAULT_RECONNECT_BACKOFF: Readonly<Required<ReconnectBackoffOptions>> = { initialMs: 100, maxMs: 10_000 };

/** Default time budget of a call when neither `timeoutMs` nor `deadline` is given. */
export const DEFAULT_CLIENT_TIMEOUT_MS = 5000;

/** Options for {@link createClient}. */
export interface ClientOptions<D extends GenericServiceDefinition = GenericServiceDefinition> {
  /** Channel credentials. Default: insecure (plaintext), for loopback and service meshes that add TLS. */
  credentials?: ChannelCredentials;
  /** Deadline of calls that set none, in ms from the call's start. Default 5000. Every call has a deadline. */
  defaultTimeoutMs?: number;
  /** Retry policy for retryable methods, or `false` to never retry. Defaults: see {@link RetryOptions}. */
  retry?: RetryOptions | false;
  /**
   * Method keys of this service to retry on UNAVAILABLE, replacing what the proto says. By default a
   * method is retried only when it is declared `option idempotency_level = NO_SIDE_EFFECTS` or
   * `IDEMPOTENT`: a retry after UNAVAILABLE may run a call the server already started.
   */
  retryableMethods?: readonly (keyof D & string)[];
  /** Retry throttling, or `false` for none. Default {@link DEFAULT_RETRY_THROTTLING} (`{ maxTokens: 100, tokenRatio: 0.1 }`). */
  retryThrottling?: RetryThrottlingOptions | false;
  /**
   * Re-issue once a unary call of a retryable method that failed UNAVAILABLE after its response
   * headers arrived (which grpc-js never retries), within the call's deadline and a budget; or
   * `false` to never do it. Default {@link DEFAULT_REISSUE}. Also off with `retry: false`. See
   * {@link createReissueInterceptor}.
   */
  reissue?: ReissueOptions | false;
  /**
   * Load-balancing policy. `round_robin` (default) connects to every address the target resolves
   * to and spreads calls over the ready ones; `pick_first` uses one connection.
   */
  loadBalancing?: "round_robin" | "pick_first";
  /** Keepalive settings; defaults in {@link DEFAULT_KEEPALIVE}. */
  keepalive?: KeepaliveOptions;
  /** Reconnect backoff; defaults in {@link DEFAULT_RECONNECT_BACKOFF}. */
  reconnectBackoff?: ReconnectBackoffOptions;
  /** Raw grpc-js channel options, applied last (they override everything above). */
  channelOptions?: ChannelOptions;
  /** More grpc-js client interceptors; the `x-request-id` header is already in the metadata they see. */
  interceptors?: readonly Interceptor[];
  /**
   * Logger for the one-line-per-call log. Default: `createLogger({ name: "grpc-client" })`
   * (`LOG_LEVEL`, `LOG_FORMAT`), so at the default `info` level only failed calls are logged.
   */
  logger?: Logger;
}

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

function checkMs(name: string, value: number, allowInfinity: boolean): void {
  if (Number.isNaN(value) || value < 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw new RangeError(
      `${name} must be a number of milliseconds >= 0${allowInfinity ? " or Infinity" : ""}, got ${value}`,
    );
  }
}

/**
 * The absolute deadline (ms since the epoch, `Infinity` for none) of a call: its own deadline
 * (`deadline`, `timeoutMs`, else `defaultTimeoutMs`), capped by the parent call's deadline.
 */
function resolveDeadline(
  options: Pick<CallOptions, "timeoutMs" | "deadline">,
  defaultTimeoutMs: number,
  parent: Pick<CallContext, "deadline"> | undefined,
  now: number = Date.now(),
): number {
  const absolute = options.deadline instanceof Date ? options.deadline.getTime() : options.deadline;
  if (absolute !== undefined && Number.isNaN(absolute)) throw new RangeError("deadline is not a valid date");
  if (options.timeoutMs !== undefined) checkMs("timeoutMs", options.timeoutMs, true);
  const fromTimeout =
    options.timeoutMs !== undefined
      ? now + options.timeoutMs
      : absolute === undefined
        ? now + defaultTimeoutMs
        : Number.POSITIVE_INFINITY;
  return Math.min(absolute ?? Number.POSITIVE_INFINITY, fromTimeout, parent?.deadline ?? Number.POSITIVE_INFINITY);
}

function toMetadata(input: Metadata | Record<string, string> | undefined): Metadata {
  if (input instanceof Metadata) return input.clone();
  const metadata = new Metadata();
  if (input !== undefined) {
    for (const [key, value] of Object.entries(input)) metadata.set(key, value);
  }
  return metadata;
}

/** Everything fixed when a client method is invoked (before a streaming call actually starts). */
interface PreparedCall {
  readonly path: string;
  readonly parent: CallContext | undefined;
  readonly deadline: number;
  /** Carries `x-request-id`: the caller's own, else the parent call's request id, else a new UUID. */
  readonly metadata: Metadata;
  readonly requestId: string;
  readonly signals: readonly AbortSignal[];
}

/**
 * The request id a call carries: the one already in its metadata, else the request id of the
 * call being handled on this async path, else a new UUID (set on `metadata` in those cases).
 */
function ensureRequestId(metadata: Metadata, parent: CallContext | undefined): string {
  const given = metadata.get(REQUEST_ID_HEADER)[0];
  if (given !== undefined) return given.toString();
  const requestId = parent?.requestId ?? randomUUID();
  metadata.set(REQUEST_ID_HEADER, requestId);
  return requestId;
}

/** The CANCELLED/DEADLINE_EXCEEDED error for a call whose signal was aborted before it started. */
function abortedBeforeStart(prepared: PreparedCall): ClientError | undefined {
  if (!prepared.signals.some((signal) => signal.aborted)) return undefined;
  if (prepared.deadline <= Date.now()) {
    return new ClientError(prepared.path, status.DEADLINE_EXCEEDED, "Deadline exceeded before the call started");
  }
  const reason = prepared.signals.find((signal) => signal.aborted)?.reason;
  return new ClientError(prepared.path, status.CANCELLED, "Cancelled before the call started", { cause: reason });
}

const OK_STATUS = { code: status.OK, details: "" } as const;

/**
 * Wraps a grpc-js completion callback so that it runs `settle` once and then lets go of it.
 * Under load a finished call's grpc-js and HTTP/2 objects outlive it (a sampling heap profile of
 * the Marketplace shows them surviving young-generation GCs); through this callback they would
 * also keep the caller's promise, its awaiting function and, for the Marketplace, the HTTP
 * request and the rendered page reachable, to be copied by each scavenge. Cut here, only the
 * call's own objects stay behind. (The returned function's scope holds nothing but `target`.)
 */
function releasingCallback<A extends unknown[]>(settle: (...args: A) => void): (...args: A) => void {
  let target: ((...args: A) => void) | undefined = settle;
  return (...args) => {
    const run = target;
    target = undefined;
    run?.(...args);
  };
}

/** Cancels `call` when any signal aborts; returns the function that stops listening. */
function cancelOnAbort(signals: readonly AbortSignal[], call: { cancel(): void }): () => void {
  if (signals.length === 0) return () => {};
  const onAbort = () => call.cancel();
  // No `{ once: true }`: a signal aborts at most once, and the returned function removes the
  // listener anyway; parsing the options object costs on every call.
  for (const signal of signals) signal.addEventListener("abort", onAbort);
  return () => {
    for (const signal of signals) signal.removeEventListener("abort", onAbort);
  };
}

/**
 * Writes every message of `requests` to `call` with backpressure, then half-closes it. Stops
 * early (closing the iterator) once the call has a status. If the iterable throws, `onError`
 * gets the error first and then the call is cancelled, so the caller can surface that error
 * instead of the CANCELLED status the cancel produces.
 */
async function pump<Req>(
  requests: AsyncIterable<Req>,
  call: ClientWritableStream<Req> | ClientDuplexStream<Req, unknown>,
  finished: () => boolean,
  onError: (error: unknown) => void,
): Promise<void> {
  try {
    for await (const request of requests) {
      if (finished()) return;
      if (!call.write(request)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            call.off("drain", done);
            call.off("status", done);
            resolve();
          };
          call.on("drain", done);
          call.on("status", done);
        });
      }
    }
    if (!finished()) call.end();
  } catch (error) {
    onError(error);
    call.cancel();
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
 * Behaviour, in one place:
 * - every call has a deadline (`defaultTimeoutMs`, 5 s, unless the call sets one) and, when made
 *   while handling another call, never outlives that call: its deadline is capped by the parent's
 *   and it is cancelled when the parent's signal aborts;
 * - methods the proto declares side-effect free or idempotent are retried on UNAVAILABLE with
 *   exponential backoff by grpc-js (never after response headers arrived), with throttling;
 * - clients for the same target, credentials and options share one pooled channel, which uses
 *   round_robin over every address the target resolves to;
 * - every call carries `x-request-id` (the caller's own, else the parent call's, else a new
 *   UUID), already set when `options.interceptors` see the metadata, and is logged in one line
 *   when its status arrives (`debug` for OK, `warn` otherwise, with `method`, `code`,
 *   `duration_ms`, `target`, `request_id`, and `details` on failures);
 * - failures reject with {@link ClientError}.
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
  checkMs("defaultTimeoutMs", defaultTimeoutMs, true);

  const methods = Object.entries(definition);
  for (const [key] of methods) {
    if (CONTROL_NAMES.has(key))
      throw new Error(`createClient: method key "${key}" clashes with a client control method`);
  }

  // The channel is shared by every service on the target, so its retry config covers every
  // idempotent method in @obfy/protos; `retryableMethods` replaces the entries of this service only.
  const ownPaths = new Set(methods.map(([, method]) => method.path));
  const retryablePaths = new Set(idempotentMethodPaths());
  if (options.retryableMethods !== undefined) {
    for (const path of ownPaths) retryablePaths.delete(path);
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
    // No channelz service reads it (see createServer); it costs per call and per connection.
    "grpc.enable_channelz": 0,
    // TLS to an IP address on Node 26 (see tls-target-options.ts); nothing for other targets.
    ...tlsTargetOptions(target),
    ...options.channelOptions,
  };
  const logger = options.logger ?? getDefaultLogger();
  // Built before the channel is leased: it checks `options.reissue` and throws on bad values.
  const reissueInterceptors = clientReissueInterceptors(definition, retryablePaths, options, logger, target);
  const lease = acquireChannel(target, options.credentials ?? grpcCredentials.createInsecure(), channelOptions);
  // The request id and the per-call log line are done here rather than by grpc-js interceptors
  // (createClientRequestIdInterceptor, createClientLoggingInterceptor do the same for plain
  // grpc-js clients): each interceptor wraps every call in more InterceptingCall, builder and
  // listener objects, which a hot caller such as the Marketplace homepage pays on every call.
  const grpcClient = new GrpcClient(target, grpcCredentials.createInsecure(), {
    channelOverride: lease.channel,
    // The re-issue interceptor goes last (innermost): those above see one call (reissue-interceptor.ts).
    interceptors: [...(options.interceptors ?? []), ...reissueInterceptors],
  });
  let closed = false;

  /**
   * The one line per call, when its status arrives: `debug` for OK, `warn` otherwise. One line
   * per call, not per attempt: grpc-js retries below this, so `duration_ms` includes any backoff.
   */
  function logStatus(prepared: PreparedCall, startedAt: number, callStatus: Pick<StatusObject, "code" | "details">) {
    const ok = callStatus.code === status.OK;
    if (ok && !logger.isLevelEnabled("debug")) return;
    const fields = {
      method: prepared.path,
      code: status[callStatus.code] ?? String(callStatus.code),
      duration_ms: Math.round((performance.now() - startedAt) * 10) / 10,
      target,
      request_id: prepared.requestId,
    };
    if (ok) logger.debug(fields, "grpc client call");
    else logger.warn({ ...fields, details: callStatus.details }, "grpc client call failed");
  }

  function prepare(path: string, callOptions: CallOptions | undefined): PreparedCall {
    if (closed) throw new Error(`createClient: ${path} called on a closed client for ${target}`);
    const parent = currentContext();
    const signals: AbortSignal[] = [];
    if (callOptions?.signal) signals.push(callOptions.signal);
    if (parent) signals.push(parent.signal);
    const metadata = toMetadata(callOptions?.metadata);
    return {
      path,
      parent,
      deadline: resolveDeadline(callOptions ?? {}, defaultTimeoutMs, parent),
      metadata,
      requestId: ensureRequestId(metadata, parent),
      signals,
    };
  }

  /** Starts a streaming call in the context it was invoked in, so interceptors see the right currentContext(). */
  function startIn<T>(prepared: PreparedCall, start: () => T): T {
    return prepared.parent ? runWithContext(prepared.parent, start) : start();
  }

  function unary(method: GenericMethodDefinition): UnaryClientMethod<unknown, unknown> {
    const serialize = method.requestSerialize as (value: unknown) => Buffer;
    return (request, callOptions) =>
      new Promise((resolve, reject) => {
        const prepared = prepare(method.path, callOptions);
        const aborted = abortedBeforeStart(prepared);
        if (aborted) return reject(aborted);
        let stopListening = () => {};
        const startedAt = performance.now();
        const call = grpcClient.makeUnaryRequest(
          method.path,
          serialize,
          method.responseDeserialize,
          request,
          prepared.metadata,
          { deadline: prepared.deadline },
          releasingCallback((error: ServiceError | null, response?: unknown) => {
            stopListening();
            logStatus(prepared, startedAt, error ?? OK_STATUS);
            if (error) reject(ClientError.from(method.path, error));
            else resolve(response);
          }),
        );
        stopListening = cancelOnAbort(prepared.signals, call);
      });
  }

  function clientStreaming(method: GenericMethodDefinition): ClientStreamingClientMethod<unknown, unknown> {
    const serialize = method.requestSerialize as (value: unknown) => Buffer;
    return (requests, callOptions) =>
      new Promise((resolve, reject) => {
        const prepared = prepare(method.path, callOptions);
        const aborted = abortedBeforeStart(prepared);
        if (aborted) return reject(aborted);
        let stopListening = () => {};
        let finished = false;
        let requestError: unknown;
        const startedAt = performance.now();
        const call = grpcClient.makeClientStreamRequest(
          method.path,
          serialize,
          method.responseDeserialize,
          prepared.metadata,
          { deadline: prepared.deadline },
          (error: ServiceError | null, response?: unknown) => {
            finished = true;
            stopListening();
            logStatus(prepared, startedAt, error ?? OK_STATUS);
            // A request stream that threw cancelled the call: report its error, not CANCELLED.
            if (requestError !== undefined) reject(requestError);
            else if (error) reject(ClientError.from(method.path, error));
            else resolve(response);
          },
        );
        stopListening = cancelOnAbort(prepared.signals, call);
        void pump(
          requests,
          call,
          () => finished,
          (error) => {
            requestError = error;
          },
        );
      });
  }

  /** Adapts a grpc-js response stream to an async iterable that throws {@link ClientError}s and cancels on early exit. */
  async function* responses(
    prepared: PreparedCall,
    call: ClientReadableStream<unknown> | ClientDuplexStream<unknown, unknown>,
    requestError: () => unknown,
  ): AsyncGenerator<unknown, void, undefined> {
    // Failures reach the consumer through the iterator; this listener only keeps the 'error' that
    // grpc-js emits after an early exit (our own cancel) from crashing the process.
    call.on("error", () => {});
    const startedAt = performance.now();
    call.on("status", (callStatus: StatusObject) => logStatus(prepared, startedAt, callStatus));
    const stopListening = cancelOnAbort(prepared.signals, call);
    try {
      for await (const message of call) yield message;
    } catch (error) {
      throw requestError() ?? ClientError.from(prepared.path, error);
    } finally {
      stopListening();
      // No-op after a status; otherwise (consumer stopped early) frees the server's resources.
      call.cancel();
    }
  }

  function serverStreaming(method: GenericMethodDefinition): ServerStreamingClientMethod<unknown, unknown> {
    const serialize = method.requestSerialize as (value: unknown) => Buffer;
    return (request, callOptions) => {
      const prepared = prepare(method.path, callOptions);
      return (async function* () {
        const aborted = abortedBeforeStart(prepared);
        if (aborted) throw aborted;
        const call = startIn(prepared, () =>
          grpcClient.makeServerStreamRequest(
            method.path,
            serialize,
            method.responseDeserialize,
            request,
            prepared.metadata,
            {
              deadline: prepared.deadline,
            },
          ),
        );
        yield* responses(prepared, call, () => undefined);
      })();
    };
  }

  function bidiStreaming(method: GenericMethodDefinition): BidiStreamingClientMethod<unknown, unknown> {
    const serialize = method.requestSerialize as (value: unknown) => Buffer;
    return (requests, callOptions) => {
      const prepared = prepare(method.path, callOptions);
      return (async function* () {
        const aborted = abortedBeforeStart(prepared);
        if (aborted) throw aborted;
        const call = startIn(prepared, () =>
          grpcClient.makeBidiStreamRequest(method.path, serialize, method.responseDeserialize, prepared.metadata, {
            deadline: prepared.deadline,
          }),
        );
        let finished = false;
        call.on("status", () => {
          finished = true;
        });
        let requestError: unknown;
        void pump(
          requests,
          call,
          () => finished,
          (error) => {
            requestError = error;
          },
        );
        yield* responses(prepared, call, () => requestError);
      })();
    };
  }

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
  for (const [key, method] of methods) {
    parseMethodPath(method.path);
    if (method.requestStream) {
      client[key] = method.responseStream ? bidiStreaming(method) : clientStreaming(method);
    } else {
      client[key] = method.responseStream ? serverStreaming(method) : unary(method);
    }
  }
  // The methods were built from `definition` key by key with the kinds ClientMethod<D[K]> selects.
  return client as ServiceClient<D>;
}
