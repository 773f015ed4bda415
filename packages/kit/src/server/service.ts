import type { CallContext, MethodKind } from "../context.js";
import { methodInfo } from "../internal/method-info.js";

/**
 * The shape of one method in a ts-proto `outputServices=grpc-js` service definition. Only what
 * the kit needs; the generated `as const` objects satisfy it.
 */
export interface GenericMethodDefinition {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestSerialize: (value: never) => Buffer;
  readonly requestDeserialize: (bytes: Buffer) => unknown;
  readonly responseSerialize: (value: never) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => unknown;
}

/** A ts-proto grpc-js service definition, e.g. `dummyV1.DummyServiceService`. */
export type GenericServiceDefinition = { readonly [method: string]: GenericMethodDefinition };

/** The request message type of a method definition. */
export type RequestOf<M> = M extends { requestDeserialize: (bytes: Buffer) => infer R } ? R : never;
/** The response message type of a method definition. */
export type ResponseOf<M> = M extends { responseDeserialize: (bytes: Buffer) => infer R } ? R : never;

/** Unary: one request, one response. */
export type UnaryMethodImplementation<Req, Res> = (request: Req, context: CallContext) => Promise<Res> | Res;
/** Server streaming: one request, responses yielded by an async generator. */
export type ServerStreamingMethodImplementation<Req, Res> = (request: Req, context: CallContext) => AsyncIterable<Res>;
/** Client streaming: a stream of requests, one response. */
export type ClientStreamingMethodImplementation<Req, Res> = (
  requests: AsyncIterable<Req>,
  context: CallContext,
) => Promise<Res> | Res;
/** Bidirectional streaming: a stream of requests, responses yielded by an async generator. */
export type BidiStreamingMethodImplementation<Req, Res> = (
  requests: AsyncIterable<Req>,
  context: CallContext,
) => AsyncIterable<Res>;

/** The handler type for one method definition, chosen by its `requestStream` / `responseStream` flags. */
export type MethodImplementation<M> = M extends { readonly requestStream: true; readonly responseStream: true }
  ? BidiStreamingMethodImplementation<RequestOf<M>, ResponseOf<M>>
  : M extends { readonly requestStream: true; readonly responseStream: false }
    ? ClientStreamingMethodImplementation<RequestOf<M>, ResponseOf<M>>
    : M extends { readonly requestStream: false; readonly responseStream: true }
      ? ServerStreamingMethodImplementation<RequestOf<M>, ResponseOf<M>>
      : UnaryMethodImplementation<RequestOf<M>, ResponseOf<M>>;

/** Handlers for every method of a service definition, keyed like the definition (camelCase). */
export type ServiceImplementation<D> = { readonly [K in keyof D]: MethodImplementation<D[K]> };

/**
 * A handler with its types erased, as the adapter calls it. `input` is the request (unary,
 * server streaming) or the request stream (client streaming, bidi); the result is the response,
 * a promise of it, or an async iterable of responses.
 */
export type ErasedHandler = (input: unknown, context: CallContext) => unknown;

/** One method of a {@link KitService}, ready to register. */
export interface KitMethod {
  /** Key in the generated definition, e.g. `execute`. */
  readonly key: string;
  readonly definition: GenericMethodDefinition;
  readonly kind: MethodKind;
  readonly handler: ErasedHandler;
}

/** A service definition paired with its implementation; pass it to `createServer({ services })`. */
export interface KitService {
  /** Fully qualified service name, e.g. `kit.testing.v1.DummyService`. */
  readonly name: string;
  readonly methods: readonly KitMethod[];
}

/**
 * Pairs a ts-proto grpc-js service definition with its handlers, checking at compile time that
 * every method is implemented with the right kind and message types:
 *
 * ```ts
 * const dummy = defineService(dummyV1.DummyServiceService, {
 *   execute: (request) => ({ output: request.input }),
 *   async *executeServerStream(request) { for (const c of request.input) yield { output: c }; },
 *   async executeClientStream(requests) { let s = ""; for await (const r of requests) s += r.input; return { output: s }; },
 *   async *executeClientServerStream(requests) { for await (const r of requests) yield { output: r.input }; },
 * });
 * ```
 */
export function defineService<const D extends GenericServiceDefinition>(
  definition: D,
  implementation: ServiceImplementation<D>,
): KitService {
  const methods: KitMethod[] = [];
  let name: string | undefined;
  for (const key of Object.keys(definition)) {
    const method = definition[key];
    if (!method) continue;
    const { service, kind } = methodInfo(method);
    if (name !== undefined && name !== service) {
      throw new Error(`Service definition mixes services ${name} and ${service}`);
    }
    name = service;
    // The implementation's exact type was checked against D above; the adapter only needs the erased shape.
    const handler = (implementation as Readonly<Record<string, ErasedHandler | undefined>>)[key];
    if (typeof handler !== "function") throw new Error(`No handler for ${method.path} (key "${key}")`);
    methods.push({ key, definition: method, kind, handler: handler.bind(implementation) });
  }
  if (name === undefined) throw new Error("Service definition has no methods");
  return { name, methods };
}
