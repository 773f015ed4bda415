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
import type { CallContext, ContextKey, MethodInfo, RawServerCall } from "../context.js";
import { runWithContext } from "../context.js";
import { Cancelled, DeadlineExceeded, GrpcError, Internal } from "../errors.js";
import { composeInterceptors, type Next, type ServerCall, type ServerInterceptor } from "../interceptor.js";
import type { Logger } from "../logger.js";
import type { CallTracker, TrackedCall } from "./call-tracker.js";
import { type KitMethod, parseMethodPath } from "./service.js";

/** Header carrying the request id in both directions. */
export const REQUEST_ID_HEADER = "x-request-id";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's `x-request-id` when it is a sane token (≤128 of `[A-Za-z0-9._:-]`), else a new UUID. */
export function requestIdFrom(metadata: Metadata): string {
  const [value] = metadata.get(REQUEST_ID_HEADER);
  return typeof value === "string" && SANE_REQUEST_ID.test(value) ? value : randomUUID();
}

/** Builds the {@link MethodInfo} for a registered method. */
export function methodInfo(method: KitMethod): MethodInfo {
  const { service, name } = parseMethodPath(method.definition.path);
  return {
    path: method.definition.path,
    service,
    name,
    kind: method.kind,
    requestStream: method.definition.requestStream,
    responseStream: method.definition.responseStream,
  };
}

/** What {@link createMethodHandler} needs from the server. */
export interface MethodHandlerOptions {
  /** Outermost first. */
  readonly interceptors: readonly ServerInterceptor[];
  readonly logger: Logger;
  readonly tracker: CallTracker;
}

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

/** Turns a grpc-js request stream into an AsyncIterable that fails with the call's abort reason on cancel. */
function requestStream(readable: Readable, signal: AbortSignal): AsyncIterable<unknown> {
  return {
    async *[Symbol.asyncIterator]() {
      try {
        // destroyOnReturn=false: a bidi handler may stop reading and keep writing responses.
        for await (const message of readable.iterator({ destroyOnReturn: false })) yield message;
      } catch (error) {
        throw signal.aborted ? signal.reason : error;
      }
    },
  };
}

interface CallIo {
  readonly request: unknown;
  readonly readable: Readable | undefined;
  readonly writable: Writable | undefined;
  readonly callback: sendUnaryData<unknown> | undefined;
}

/**
 * Adapts one kit handler to a grpc-js handler: builds the {@link CallContext}, runs the
 * interceptor chain inside it, drives streams with backpressure and sends exactly one status.
 * Errors become statuses through {@link GrpcError.from}; a raw message or stack never reaches
 * the caller.
 */
export function createMethodHandler(method: KitMethod, options: MethodHandlerOptions): UntypedHandleCall {
  const info = methodInfo(method);
  const innermost: Next = async (call) => {
    const input = info.requestStream ? call.requests : call.request;
    const output = method.handler(input, call.context);
    if (!info.responseStream) return await output;
    if (!isAsyncIterable(output)) {
      throw new TypeError(`Handler for ${info.path} must return an AsyncIterable (use an async generator)`);
    }
    const send = call.send;
    if (!send) throw new Internal(`No send function for streaming method ${info.path}`);
    for await (const message of output) await send(message);
    return undefined;
  };
  const chain = composeInterceptors(options.interceptors, innermost);

  const start = (raw: RawServerCall, io: CallIo): void => {
    const controller = new AbortController();
    const signal = controller.signal;
    const requestId = requestIdFrom(raw.metadata);
    const deadline = toEpochMs(raw.getDeadline());
    const responseHeaders = new Metadata();
    responseHeaders.set(REQUEST_ID_HEADER, requestId);
    const values = new Map<symbol, unknown>();
    const context: CallContext = {
      method: info,
      metadata: raw.metadata,
      peer: raw.getPeer(),
      requestId,
      deadline,
      signal,
      log: options.logger.child({ method: info.path, request_id: requestId }),
      responseHeaders,
      responseTrailers: new Metadata(),
      raw,
      get<T>(key: ContextKey<T>): T {
        return values.has(key.id) ? (values.get(key.id) as T) : key.defaultValue;
      },
      set<T>(key: ContextKey<T>, value: T): void {
        values.set(key.id, value);
      },
    };

    let finished = false;
    let headersSent = false;
    const sendHeaders = (): void => {
      if (headersSent) return;
      headersSent = true;
      raw.sendMetadata(responseHeaders);
    };
    const trailers = (extra?: Metadata): Metadata => {
      const merged = context.responseTrailers.clone();
      if (extra) merged.merge(extra);
      return merged;
    };
    const finishOk = (response: unknown): void => {
      if (finished) return;
      finished = true;
      options.tracker.delete(tracked);
      sendHeaders();
      if (io.callback) io.callback(null, response, trailers());
      else io.writable?.end(trailers());
    };
    const finishError = (error: GrpcError): void => {
      if (finished) return;
      finished = true;
      options.tracker.delete(tracked);
      sendHeaders();
      const status = { code: error.code, details: error.message, metadata: trailers(error.metadata) };
      if (io.callback) io.callback(status);
      // grpc-js turns an 'error' event on a server stream into the call's status.
      else io.writable?.emit("error", status);
    };
    const tracked: TrackedCall = {
      terminate(error) {
        if (finished) return;
        controller.abort(error);
        finishError(error);
      },
    };
    options.tracker.add(tracked);

    const events: EventEmitter = raw;
    events.on("cancelled", () => {
      // grpc-js also reports 'cancelled' after a normal finish; only a live call is being cancelled.
      if (finished) return;
      finished = true;
      options.tracker.delete(tracked);
      controller.abort(
        Date.now() >= deadline ? new DeadlineExceeded() : new Cancelled("The caller cancelled the call"),
      );
    });

    const writable = io.writable;
    const send = writable
      ? async (message: unknown): Promise<void> => {
          if (signal.aborted) throw signal.reason;
          sendHeaders();
          if (writable.write(message)) return;
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
        }
      : undefined;

    const call: ServerCall = {
      method: info,
      context,
      request: io.request,
      requests: io.readable ? requestStream(io.readable, signal) : undefined,
      send,
    };

    runWithContext(context, () => chain(call)).then(finishOk, (error: unknown) => {
      if (finished) return;
      if (!(error instanceof GrpcError)) {
        // The exception-to-status interceptor normally does this; this is the safety net.
        context.log.error({ err: error }, "Unhandled error in gRPC handler");
      }
      finishError(GrpcError.from(error));
    });
  };

  switch (info.kind) {
    case "unary": {
      const handler: handleUnaryCall<unknown, unknown> = (raw, callback) =>
        start(raw, { request: raw.request, readable: undefined, writable: undefined, callback });
      return handler;
    }
    case "server_stream": {
      const handler: handleServerStreamingCall<unknown, unknown> = (raw) =>
        start(raw, { request: raw.request, readable: undefined, writable: asWritable(raw), callback: undefined });
      return handler;
    }
    case "client_stream": {
      const handler: handleClientStreamingCall<unknown, unknown> = (raw, callback) =>
        start(raw, { request: undefined, readable: asReadable(raw), writable: undefined, callback });
      return handler;
    }
    case "bidi_stream": {
      const handler: handleBidiStreamingCall<unknown, unknown> = (raw) =>
        start(raw, { request: undefined, readable: asReadable(raw), writable: asWritable(raw), callback: undefined });
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
