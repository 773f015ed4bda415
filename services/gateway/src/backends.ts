// One kit client per store service, passing the request and response bytes through untouched:
// the gateway encodes and decodes with protobuf-es, so the messages are never re-encoded by
// ts-proto on the way. The kit's interceptors add the request id, the deadline and a log line.
import type { ChannelCredentials } from "@grpc/grpc-js";
import { type CallOptions, createClient } from "@obfy/kit/client";
import type { ClientInterceptor, Logger } from "@obfy/kit/core";
import { clientsV1 } from "@obfy/protos";
import type { Route } from "./descriptors.js";

/** Where each store service listens by default (docs/architecture.md), `<NAME>_ADDRESS` overrides. */
export const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  recommendations: 50051,
  catalog: 50052,
  inventory: 50053,
  accounts: 50054,
  reviews: 50055,
  cart: 50056,
  orders: 50057,
  payments: 50058,
  notifications: 50059,
  webhooks: 50060,
};

/** Raw calls to the services behind the routes, plus Accounts' client-credentials grant. */
export interface Backends {
  unary(route: Route, request: Uint8Array, options: CallOptions): Promise<Buffer>;
  stream(route: Route, request: Uint8Array, options: CallOptions): AsyncIterable<Buffer>;
  readonly clients: ReturnType<typeof createClient<typeof clientsV1.ClientsServiceService>>;
  /** `name → target`, for the start-up log. */
  readonly targets: Readonly<Record<string, string>>;
  close(): void;
}

/** Options of {@link createBackends}. */
export interface BackendsOptions {
  readonly routes: readonly Route[];
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly credentials?: ChannelCredentials;
  readonly interceptors?: readonly ClientInterceptor[];
}

const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const same = (bytes: Buffer): Buffer => bytes;

/** The address of store service `name`: `<NAME>_ADDRESS`, else 127.0.0.1 and its port. */
export function addressOf(env: NodeJS.ProcessEnv, name: string): string {
  const configured = env[`${name.toUpperCase()}_ADDRESS`]?.trim();
  return configured || `127.0.0.1:${DEFAULT_PORTS[name] ?? 50050}`;
}

/** Creates a client per backend of `routes`, and one of Accounts' ClientsService. */
export function createBackends(options: BackendsOptions): Backends {
  type RawMethod = {
    path: string;
    requestStream: false;
    responseStream: boolean;
    requestSerialize: (value: Uint8Array) => Buffer;
    requestDeserialize: (bytes: Buffer) => Buffer;
    responseSerialize: (value: Uint8Array) => Buffer;
    responseDeserialize: (bytes: Buffer) => Buffer;
  };
  const definitions = new Map<string, Record<string, RawMethod>>();
  for (const route of options.routes) {
    const definition = definitions.get(route.backend) ?? {};
    definition[route.grpcPath] = {
      path: route.grpcPath,
      requestStream: false,
      responseStream: route.streaming,
      requestSerialize: toBuffer,
      requestDeserialize: same,
      responseSerialize: toBuffer,
      responseDeserialize: same,
    };
    definitions.set(route.backend, definition);
  }
  const clientOptions = {
    logger: options.logger,
    credentials: options.credentials,
    interceptors: options.interceptors ?? [],
  };
  const targets: Record<string, string> = {};
  const raw = new Map<string, Record<string, unknown>>();
  for (const [name, definition] of definitions) {
    targets[name] = addressOf(options.env, name);
    raw.set(name, createClient(definition, targets[name], clientOptions) as unknown as Record<string, unknown>);
  }
  targets.accounts = addressOf(options.env, "accounts");
  const clients = createClient(clientsV1.ClientsServiceService, targets.accounts, clientOptions);

  const method = (route: Route) => {
    const fn = raw.get(route.backend)?.[route.grpcPath];
    if (typeof fn !== "function") throw new Error(`No client for ${route.grpcPath}`);
    return fn as (request: Buffer, options: CallOptions) => unknown;
  };
  return {
    unary: (route, request, callOptions) => method(route)(toBuffer(request), callOptions) as Promise<Buffer>,
    stream: (route, request, callOptions) => method(route)(toBuffer(request), callOptions) as AsyncIterable<Buffer>,
    clients,
    targets,
    close() {
      for (const client of raw.values()) (client as { close(): void }).close();
      clients.close();
    },
  };
}
