import { type CallOptions, credentials, Metadata } from "@grpc/grpc-js";
import { dummyV1 } from "@obfy/protos";
import pino from "pino";
import { readServerConfig } from "../config.js";
import type { CallContext } from "../context.js";
import type { ServerInterceptor } from "../interceptor.js";
import type { Logger } from "../logger.js";
import { type CreateServerOptions, createServer, type KitServer } from "../server/create-server.js";
import { defineService, type KitService } from "../server/service.js";

type DummyRequest = dummyV1.DummyRequest;
type DummyResponse = dummyV1.DummyResponse;

/** What the Dummy service does for one special input instead of echoing it. */
export type SpecialCase = (request: DummyRequest, context: CallContext) => DummyResponse | Promise<DummyResponse>;

/** Maps an input string to its {@link SpecialCase}. */
export type SpecialCases = Readonly<Record<string, SpecialCase>>;

/** A {@link SpecialCase} that throws `error`, e.g. `{ boom: raises(new Error("boom")) }`. */
export function raises(error: unknown): SpecialCase {
  return () => {
    throw error;
  };
}

/**
 * The Dummy service (kit.testing.v1.DummyService), like grpc_interceptor.testing's: every RPC
 * kind echoes its input unless the input is a special case.
 * - Execute: output = input;
 * - ExecuteServerStream: one response per character of the output;
 * - ExecuteClientStream: the outputs of all requests joined;
 * - ExecuteClientServerStream: one response per request.
 */
export function createDummyService(specialCases: SpecialCases = {}): KitService {
  const output = async (request: DummyRequest, context: CallContext): Promise<string> => {
    const special = Object.hasOwn(specialCases, request.input) ? specialCases[request.input] : undefined;
    return special ? (await special(request, context)).output : request.input;
  };
  return defineService(dummyV1.DummyServiceService, {
    execute: async (request, context) => ({ output: await output(request, context) }),
    async *executeServerStream(request, context) {
      for (const character of await output(request, context)) yield { output: character };
    },
    async executeClientStream(requests, context) {
      let joined = "";
      for await (const request of requests) joined += await output(request, context);
      return { output: joined };
    },
    async *executeClientServerStream(requests, context) {
      for await (const request of requests) yield { output: await output(request, context) };
    },
  });
}

/** Options for {@link dummyClient}. */
export interface DummyClientOptions {
  /** Inputs the service treats specially, see {@link SpecialCases}. */
  specialCases?: SpecialCases;
  /** Application interceptors under test (innermost, after the kit's). */
  interceptors?: readonly ServerInterceptor[];
  /** Outermost interceptors (observability). */
  outerInterceptors?: readonly ServerInterceptor[];
  /** Server logger; silent by default so test output stays readable. */
  logger?: Logger;
  /** Anything else for {@link createServer} (config, credentials, readiness, ...). */
  server?: Partial<Omit<CreateServerOptions, "services" | "interceptors" | "outerInterceptors" | "logger">>;
}

/** Per-call options for {@link DummyClient} methods. */
export interface DummyCallOptions {
  metadata?: Metadata;
  /** Deadline as an absolute Date or ms since the epoch. */
  deadline?: Date | number;
}

/** A client for a real Dummy server on 127.0.0.1; see {@link dummyClient}. */
export interface DummyClient {
  /** The running server. */
  readonly server: KitServer;
  /** The port the server listens on. */
  readonly port: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /** The generated grpc-js client, for anything the helpers do not cover (headers, cancellation). */
  readonly raw: dummyV1.DummyServiceClient;
  execute(input: string, options?: DummyCallOptions): Promise<DummyResponse>;
  executeServerStream(input: string, options?: DummyCallOptions): Promise<DummyResponse[]>;
  executeClientStream(inputs: readonly string[], options?: DummyCallOptions): Promise<DummyResponse>;
  executeClientServerStream(inputs: readonly string[], options?: DummyCallOptions): Promise<DummyResponse[]>;
  /** Closes the client, then shuts the server down; leaves no handles behind. */
  close(): Promise<void>;
}

function callOptions(options: DummyCallOptions): Partial<CallOptions> {
  return options.deadline === undefined ? {} : { deadline: options.deadline };
}

function collect(stream: NodeJS.EventEmitter): Promise<DummyResponse[]> {
  return new Promise((resolve, reject) => {
    const responses: DummyResponse[] = [];
    stream.on("data", (response: DummyResponse) => responses.push(response));
    stream.on("error", reject);
    stream.on("end", () => resolve(responses));
  });
}

/**
 * Starts a REAL kit server (all default interceptors plus yours) with the Dummy service on
 * 127.0.0.1, port 0, and returns a promise-based client for it. Test interceptors through it
 * rather than by calling them directly: that exercises the real call path.
 *
 * ```ts
 * const client = await dummyClient({ specialCases: { error: raises(new Error("boom")) }, interceptors: [mine] });
 * try {
 *   assert.equal((await client.execute("foo")).output, "foo");
 *   await assert.rejects(client.execute("error"), { code: status.INTERNAL });
 * } finally {
 *   await client.close();
 * }
 * ```
 */
export async function dummyClient(options: DummyClientOptions = {}): Promise<DummyClient> {
  const server = createServer({
    config: readServerConfig({}, { host: "127.0.0.1", port: 0, shutdownGraceSeconds: 5 }),
    ...options.server,
    services: [createDummyService(options.specialCases)],
    interceptors: options.interceptors ?? [],
    outerInterceptors: options.outerInterceptors ?? [],
    logger: options.logger ?? pino({ level: "silent" }),
  });
  let port: number;
  try {
    ({ port } = await server.listen("127.0.0.1", 0));
  } catch (error) {
    await server.shutdown();
    throw error;
  }
  const address = `127.0.0.1:${port}`;
  const raw = new dummyV1.DummyServiceClient(address, credentials.createInsecure());
  const metadataOf = (options: DummyCallOptions): Metadata => options.metadata ?? new Metadata();

  return {
    server,
    port,
    address,
    raw,
    execute(input, options = {}) {
      return new Promise((resolve, reject) => {
        raw.execute({ input }, metadataOf(options), callOptions(options), (error, response) =>
          error ? reject(error) : resolve(response),
        );
      });
    },
    executeServerStream(input, options = {}) {
      return collect(raw.executeServerStream({ input }, metadataOf(options), callOptions(options)));
    },
    executeClientStream(inputs, options = {}) {
      return new Promise((resolve, reject) => {
        const stream = raw.executeClientStream(metadataOf(options), callOptions(options), (error, response) =>
          error ? reject(error) : resolve(response),
        );
        for (const input of inputs) stream.write({ input });
        stream.end();
      });
    },
    executeClientServerStream(inputs, options = {}) {
      const stream = raw.executeClientServerStream(metadataOf(options), callOptions(options));
      const responses = collect(stream);
      for (const input of inputs) stream.write({ input });
      stream.end();
      return responses;
    },
    async close() {
      raw.close();
      await server.shutdown();
    },
  };
}
