import {
  type ClientDuplexStream,
  type ClientReadableStream,
  type ClientWritableStream,
  type Client as GrpcClient,
  type Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import type { ClientCall, Next } from "../../interceptor.js";
import type { GenericMethodDefinition } from "../../server/service.js";
import { ClientError } from "../client-error.js";

/** The CANCELLED/DEADLINE_EXCEEDED error for a call whose signal was aborted before it started. */
function abortedBeforeStart(call: ClientCall): ClientError | undefined {
  if (!call.signal?.aborted) return undefined;
  if (call.deadline <= Date.now()) {
    return new ClientError(call.method.path, status.DEADLINE_EXCEEDED, "Deadline exceeded before the call started");
  }
  return new ClientError(call.method.path, status.CANCELLED, "Cancelled before the call started", {
    cause: call.signal.reason,
  });
}

/** Cancels `grpcCall` when `signal` aborts; returns the function that stops listening. */
function cancelOnAbort(signal: AbortSignal | undefined, grpcCall: { cancel(): void }): () => void {
  if (signal === undefined) return () => {};
  const onAbort = () => grpcCall.cancel();
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/**
 * Writes every message of `requests` to `grpcCall` with backpressure, then half-closes it. Stops
 * early (closing the iterator) once the call has a status. If the iterable throws, `onError` gets
 * the error first and then the call is cancelled, so the caller sees that error rather than the
 * CANCELLED status the cancel produces.
 */
async function pump(
  requests: AsyncIterable<unknown>,
  grpcCall: ClientWritableStream<unknown> | ClientDuplexStream<unknown, unknown>,
  finished: () => boolean,
  onError: (error: unknown) => void,
): Promise<void> {
  try {
    for await (const request of requests) {
      if (finished()) return;
      if (!grpcCall.write(request)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            grpcCall.off("drain", done);
            grpcCall.off("status", done);
            resolve();
          };
          grpcCall.on("drain", done);
          grpcCall.on("status", done);
        });
      }
    }
    if (!finished()) grpcCall.end();
  } catch (error) {
    onError(error);
    grpcCall.cancel();
  }
}

/** Starts {@link pump}ing `call.requests` into `grpcCall`; returns what the request stream threw, once it has. */
function sendRequests(
  call: ClientCall,
  grpcCall: ClientWritableStream<unknown> | ClientDuplexStream<unknown, unknown>,
  finished: () => boolean,
): () => unknown {
  if (call.requests === undefined) throw new TypeError(`${call.method.path}: a streaming call needs requests`);
  let requestError: unknown;
  void pump(call.requests, grpcCall, finished, (error) => {
    requestError = error;
  });
  return () => requestError;
}

/** Hands every response of `grpcCall` to `call.receive`; throws what the call failed with. */
async function receiveAll(
  call: ClientCall,
  grpcCall: ClientReadableStream<unknown> | ClientDuplexStream<unknown, unknown>,
  requestError: () => unknown,
): Promise<undefined> {
  const receive = call.receive;
  if (receive === undefined) throw new TypeError(`${call.method.path}: a streaming call needs receive`);
  // Failures reach the caller through the iteration; this listener only keeps the 'error' that
  // grpc-js emits after a cancel from being an unhandled error event.
  grpcCall.on("error", () => {});
  let headers: Metadata | undefined;
  grpcCall.on("metadata", (metadata: Metadata) => {
    headers = metadata;
  });
  const stopListening = cancelOnAbort(call.signal, grpcCall);
  try {
    for await (const message of grpcCall) await receive(message);
    return undefined;
  } catch (error) {
    throw requestError() ?? ClientError.from(call.method.path, error, headers);
  } finally {
    stopListening();
    // A no-op after a status; otherwise (the caller stopped early) frees the server's resources.
    grpcCall.cancel();
  }
}

/**
 * The innermost step of a client chain: the grpc-js call itself, on the client's pooled channel,
 * whose service config makes grpc-js retry what the protos declare safe. Failures become
 * {@link ClientError}s carrying the response headers when the server had sent them; an error
 * thrown by a request stream cancels the call and is what the call fails with.
 */
export function createTransport(grpcClient: GrpcClient, method: GenericMethodDefinition): Next<ClientCall> {
  const path = method.path;
  const serialize = method.requestSerialize as (value: unknown) => Buffer;
  const deserialize = method.responseDeserialize;

  if (!method.responseStream) {
    // Unary and client streaming: one response, through grpc-js's callback.
    return (call) =>
      new Promise((resolve, reject) => {
        const aborted = abortedBeforeStart(call);
        if (aborted) return reject(aborted);
        let headers: Metadata | undefined;
        let finished = false;
        let requestError: () => unknown = () => undefined;
        let stopListening = () => {};
        const callback = (error: ServiceError | null, response?: unknown) => {
          finished = true;
          stopListening();
          // A request stream that threw cancelled the call: report its error, not CANCELLED.
          if (requestError() !== undefined) reject(requestError());
          else if (error) reject(ClientError.from(path, error, headers));
          else resolve(response);
        };
        const options = { deadline: call.deadline };
        let grpcCall: { cancel(): void; on(event: "metadata", listener: (metadata: Metadata) => void): unknown };
        if (method.requestStream) {
          const stream = grpcClient.makeClientStreamRequest(
            path,
            serialize,
            deserialize,
            call.metadata,
            options,
            callback,
          );
          requestError = sendRequests(call, stream, () => finished);
          grpcCall = stream;
        } else {
          grpcCall = grpcClient.makeUnaryRequest(
            path,
            serialize,
            deserialize,
            call.request,
            call.metadata,
            options,
            callback,
          );
        }
        grpcCall.on("metadata", (metadata: Metadata) => {
          headers = metadata;
        });
        stopListening = cancelOnAbort(call.signal, grpcCall);
      });
  }
  // Server and bidi streaming: responses through `call.receive`.
  return async (call) => {
    const aborted = abortedBeforeStart(call);
    if (aborted) throw aborted;
    const options = { deadline: call.deadline };
    if (!method.requestStream) {
      const grpcCall = grpcClient.makeServerStreamRequest(
        path,
        serialize,
        deserialize,
        call.request,
        call.metadata,
        options,
      );
      return receiveAll(call, grpcCall, () => undefined);
    }
    const grpcCall = grpcClient.makeBidiStreamRequest(path, serialize, deserialize, call.metadata, options);
    let finished = false;
    grpcCall.on("status", () => {
      finished = true;
    });
    return receiveAll(
      call,
      grpcCall,
      sendRequests(call, grpcCall, () => finished),
    );
  };
}
