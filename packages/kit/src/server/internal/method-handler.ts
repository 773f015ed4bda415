import { randomUUID } from "node:crypto";
import type { EventEmitter } from "node:events";
import { Readable, type Writable } from "node:stream";
import {
  type Deadline,
  type handleBidiStreamingCall,
  type handleClientStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  Metadata,
  type sendUnaryData,
  type UntypedHandleCall,
} from "@grpc/grpc-js";
import type { CallContext, ContextKey, MethodInfo, RawServerCall } from "../../context.js";
import { REQUEST_ID_HEADER } from "../../context.js";
import { Cancelled, DeadlineExceeded, GrpcError, Internal } from "../../errors.js";
import type { Next, ServerCall, ServerInterceptor } from "../../interceptor.js";
import { callStorage, markCallLogger } from "../../internal/call-storage.js";
import { composeInterceptors } from "../../internal/compose-interceptors.js";
import { methodInfo } from "../../internal/method-info.js";
import type { Logger } from "../../logger.js";
import type { KitMethod } from "../service.js";
import type { CallTracker, TrackedCall } from "./call-tracker.js";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's `x-request-id` when it is a sane token (≤128 of `[A-Za-z0-9._:-]`), else a new UUID. */
function requestIdFrom(metadata: Metadata): string {
  const [value] = metadata.get(REQUEST_ID_HEADER);
  return typeof value === "string" && SANE_REQUEST_ID.test(value) ? value : randomUUID();
}

/** What {@link createMethodHandler} needs from the server. */
export interface MethodHandlerOptions {
  /** Outermost first. */
  readonly interceptors: readonly ServerInterceptor[];
  readonly logger: Logger;
  readonly tracker: CallTracker;
}

/** How close to its deadline a caller's cancel counts as the deadline passing (transit and timer skew). */
const DEADLINE_CANCEL_SLACK_MS = 25;

function toEpochMs(deadline: Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === "function"
  );
}

/**
 * The {@link CallContext} the adapter hands out. Everything a typical unary call never looks at
 * is built on first read: the AbortController, the per-call pino child logger, the peer string,
 * the response header/trailer Metadata and the values map. An abort that happens before anyone
 * read `signal` is remembered and applied when the signal is created, so readers see the same
 * thing either way. This pays on Node 26: built at once, the adapter alone cost 39.1 µs per call
 * instead of 23.8–25.4 (medians of 5 rounds, `VARIANTS=bare,adapter,logging,kit ROUNDS=5
 * CALLS=100000 node --conditions=source --import tsx bench/tools/kit-overhead.ts`, 2026-12-02).
 */
class KitCallContext implements CallContext {
  readonly method: MethodInfo;
  readonly metadata: Metadata;
  readonly requestId: string;
  readonly deadline: number;
  readonly raw: RawServerCall;
  readonly #baseLogger: Logger;
  #abortReason: GrpcError | undefined = undefined;
  #controller: AbortController | undefined = undefined;
  #log: Logger | undefined = undefined;
  #peer: string | undefined = undefined;
  #responseHeaders: Metadata | undefined = undefined;
  #responseTrailers: Metadata | undefined = undefined;
  #values: Map<symbol, unknown> | undefined = undefined;

  constructor(method: MethodInfo, raw: RawServerCall, baseLogger: Logger) {
    this.method = method;
    this.metadata = raw.metadata;
    this.requestId = requestIdFrom(raw.metadata);
    this.deadline = toEpochMs(raw.getDeadline());
    this.raw = raw;
    this.#baseLogger = baseLogger;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get abortReason(): GrpcError | undefined {
    return this.#abortReason;
  }

  get log(): Logger {
    if (this.#log === undefined) {
      this.#log = this.#baseLogger.child({ method: this.method.path, request_id: this.requestId });
      markCallLogger(this.#log);
    }
    return this.#log;
  }

  get peer(): string {
    this.#peer ??= this.raw.getPeer();
    return this.#peer;
  }

  get responseHeaders(): Metadata {
    if (this.#responseHeaders === undefined) {
      this.#responseHeaders = new Metadata();
      this.#responseHeaders.set(REQUEST_ID_HEADER, this.requestId);
    }
    return this.#responseHeaders;
  }

  get responseTrailers(): Metadata {
    this.#responseTrailers ??= new Metadata();
    return this.#responseTrailers;
  }

  get<T>(key: ContextKey<T>): T {
    const values = this.#values;
    return values?.has(key.id) ? (values.get(key.id) as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): void {
    this.#values ??= new Map();
    this.#values.set(key.id, value);
  }

  /** Records why the call ended early and aborts the signal if someone holds it. First reason wins. */
  abort(reason: GrpcError): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  /** The response headers as they are to be sent (the request id at least). */
  headersToSend(): Metadata {
    return this.responseHeaders;
  }

  /** The trailers to send with a status: nothing built or copied unless someone added some. */
  trailersToSend(extra: Metadata | undefined): Metadata | undefined {
    const own = this.#responseTrailers;
    if (own === undefined) return extra;
    if (extra === undefined) return own;
    const merged = own.clone();
    merged.merge(extra);
    return merged;
  }
}

/** Turns a grpc-js request stream into an AsyncIterable that fails with the call's abort reason on cancel. */
function requestStream(readable: Readable, context: KitCallContext): AsyncIterable<unknown> {
  return {
    async *[Symbol.asyncIterator]() {
      try {
        // destroyOnReturn=false: a bidi handler may stop reading and keep writing responses.
        for await (const message of readable.iterator({ destroyOnReturn: false })) yield message;
      } catch (error) {
        throw context.abortReason ?? error;
      }
    },
  };
}

/** A `send` for a response stream: writes with backpressure, fails once the call was ended early. */
function streamSender(writable: Writable, run: CallRun): (message: unknown) => Promise<void> {
  const context = run.context;
  return async (message) => {
    if (context.abortReason !== undefined) throw context.abortReason;
    run.sendHeaders();
    if (writable.write(message)) return;
    const signal = context.signal;
    await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = (): void => {
        writable.off("drain", onDrain);
        reject(signal.reason);
      };
      writable.once("drain", onDrain);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  };
}

/**
 * One running call: sends headers once, exactly one status, and keeps the tracker and the
 * context's abort state in step. Its callbacks are fields so grpc-js and the promise chain can
 * call them without a closure per step.
 */
class CallRun implements TrackedCall {
  readonly context: KitCallContext;
  readonly #tracker: CallTracker;
  readonly #callback: sendUnaryData<unknown> | undefined;
  readonly #writable: Writable | undefined;
  #finished = false;
  #headersSent = false;

  constructor(
    context: KitCallContext,
    tracker: CallTracker,
    callback: sendUnaryData<unknown> | undefined,
    writable: Writable | undefined,
  ) {
    this.context = context;
    this.#tracker = tracker;
    this.#callback = callback;
    this.#writable = writable;
  }

  sendHeaders(): void {
    if (this.#headersSent) return;
    this.#headersSent = true;
    this.context.raw.sendMetadata(this.context.headersToSend());
  }

  readonly onResult = (response: unknown): void => {
    if (this.#finished) return;
    this.#finished = true;
    this.#tracker.delete(this);
    this.sendHeaders();
    const trailers = this.context.trailersToSend(undefined);
    if (this.#callback) this.#callback(null, response, trailers);
    else this.#writable?.end(trailers);
  };

  readonly onError = (error: unknown): void => {
    if (this.#finished) return;
    if (!(error instanceof GrpcError)) {
      // The exception-to-status interceptor normally does this; this is the safety net.
      this.context.log.error({ err: error }, "Unhandled error in gRPC handler");
    }
    this.#finishError(GrpcError.from(error));
  };

  readonly onCancelled = (): void => {
    // grpc-js also reports 'cancelled' after a normal finish; only a live call is being cancelled.
    if (this.#finished) return;
    this.#finished = true;
    this.#tracker.delete(this);
    // A client whose deadline passes cancels the stream exactly like a user cancel (RST_STREAM
    // CANCEL), and our copy of its deadline (from grpc-timeout, counted from when the call reached
    // us) ends a little later than its own. A cancel that close to the deadline is the deadline.
    this.context.abort(
      Date.now() >= this.context.deadline - DEADLINE_CANCEL_SLACK_MS
        ? new DeadlineExceeded()
        : new Cancelled("The caller cancelled the call"),
    );
  };

  terminate(error: GrpcError): void {
    if (this.#finished) return;
    this.context.abort(error);
    this.#finishError(error);
  }

  #finishError(error: GrpcError): void {
    this.#finished = true;
    this.#tracker.delete(this);
    this.sendHeaders();
    const status = { code: error.code, details: error.message, metadata: this.context.trailersToSend(error.metadata) };
    if (this.#callback) this.#callback(status);
    // grpc-js turns an 'error' event on a server stream into the call's status.
    else this.#writable?.emit("error", status);
  }
}

/**
 * Adapts one kit handler to a grpc-js handler: builds the {@link CallContext}, runs the
 * interceptor chain inside it, drives streams with backpressure and sends exactly one status.
 * Errors become statuses through {@link GrpcError.from}; a raw message or stack never reaches
 * the caller.
 *
 * The chain is composed once per method.
 */
export function createMethodHandler(method: KitMethod, options: MethodHandlerOptions): UntypedHandleCall {
  const info = methodInfo(method.definition);
  const handler = method.handler;
  const { logger, tracker } = options;
  const innermost: Next<ServerCall> = info.responseStream
    ? async (call) => {
        const output = handler(info.requestStream ? call.requests : call.request, call.context);
        if (!isAsyncIterable(output)) {
          throw new TypeError(`Handler for ${info.path} must return an AsyncIterable (use an async generator)`);
        }
        const send = call.send;
        if (!send) throw new Internal(`No send function for streaming method ${info.path}`);
        for await (const message of output) await send(message);
        return undefined;
      }
    : async (call) => handler(info.requestStream ? call.requests : call.request, call.context);
  const chain = composeInterceptors(options.interceptors, innermost);

  const start = (
    raw: RawServerCall,
    request: unknown,
    readable: Readable | undefined,
    writable: Writable | undefined,
    callback: sendUnaryData<unknown> | undefined,
  ): void => {
    const context = new KitCallContext(info, raw, logger);
    const run = new CallRun(context, tracker, callback, writable);
    tracker.add(run);
    (raw as EventEmitter).on("cancelled", run.onCancelled);
    const call: ServerCall = {
      method: info,
      context,
      request,
      requests: readable ? requestStream(readable, context) : undefined,
      send: writable ? streamSender(writable, run) : undefined,
    };
    // The one explicit context of this call: interceptors, handler and `currentContext()` see it.
    // (An async arrow, so a step that throws synchronously still becomes the call's status.)
    callStorage.run(context, async () => chain(call)).then(run.onResult, run.onError);
  };

  switch (info.kind) {
    case "unary": {
      const handler: handleUnaryCall<unknown, unknown> = (raw, callback) =>
        start(raw, raw.request, undefined, undefined, callback);
      return handler;
    }
    case "server_stream": {
      const handler: handleServerStreamingCall<unknown, unknown> = (raw) =>
        start(raw, raw.request, undefined, asWritable(raw), undefined);
      return handler;
    }
    case "client_stream": {
      const handler: handleClientStreamingCall<unknown, unknown> = (raw, callback) =>
        start(raw, undefined, asReadable(raw), undefined, callback);
      return handler;
    }
    case "bidi_stream": {
      const handler: handleBidiStreamingCall<unknown, unknown> = (raw) =>
        start(raw, undefined, asReadable(raw), asWritable(raw), undefined);
      return handler;
    }
  }
}

// grpc-js types its server streams as structural interfaces; at run time they are Node streams.
function asReadable(raw: RawServerCall): Readable {
  if (!(raw instanceof Readable)) throw new Internal("grpc-js request stream is not a Readable");
  return raw;
}

function asWritable(raw: RawServerCall): Writable {
  const candidate: unknown = raw;
  if (
    typeof candidate === "object" &&
    candidate !== null &&
    typeof (candidate as Partial<Writable>).write === "function" &&
    typeof (candidate as Partial<Writable>).end === "function"
  ) {
    return candidate as Writable;
  }
  throw new Internal("grpc-js response stream is not a Writable");
}
