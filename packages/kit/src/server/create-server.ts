import { setTimeout as delay } from "node:timers/promises";
import { type ChannelOptions, Server, ServerCredentials, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { descriptorSetPath as defaultDescriptorSetPath } from "@obfy/protos";
import { readServerConfig, type ServerConfig } from "../config.js";
import { Unavailable } from "../errors.js";
import { joinHostPort } from "../host-port.js";
import type { ServerInterceptor } from "../interceptor.js";
import { createLogger, type Logger } from "../logger.js";
import { createExceptionToStatusInterceptor } from "./exception-to-status.js";
import { type HealthControl, KitHealth } from "./health.js";
import { CallTracker } from "./internal/call-tracker.js";
import { createMethodHandler } from "./internal/method-handler.js";
import { addReflection } from "./internal/reflection.js";
import { createLoggingInterceptor } from "./logging-interceptor.js";
import type { KitService } from "./service.js";

/** The status message of calls still running when the shutdown grace period ends. */
export const SHUTTING_DOWN_MESSAGE = "Server is shutting down";

/** How long, after the last call has ended, to wait for clients to close their connections. */
const CONNECTION_CLOSE_WAIT_MS = 2000;

/** Options for {@link createServer}. */
export interface CreateServerOptions {
  /** Services to serve, each from {@link defineService}. */
  services: readonly KitService[];
  /** Application interceptors, run innermost (closest to the handler), first = outermost of them. */
  interceptors?: readonly ServerInterceptor[];
  /** Interceptors that must see every call first, e.g. tracing and metrics; run outermost. */
  outerInterceptors?: readonly ServerInterceptor[];
  /** Base logger; per-call loggers are its children. Defaults to `createLogger({ name: "grpc-server" })`. */
  logger?: Logger;
  /** Server settings, usually `readServerConfig()`; that is also the default. */
  config?: ServerConfig;
  /** Transport credentials; default insecure (plaintext HTTP/2). */
  credentials?: ServerCredentials;
  /** Extra grpc-js channel options, applied after the kit's. */
  grpcOptions?: ChannelOptions;
  /**
   * When health turns SERVING: `on-listen` (default) once `listen()` has bound, `manual` once
   * `listen()` has bound AND the application called `setReady()`.
   */
  readiness?: "on-listen" | "manual";
  /** FileDescriptorSet for reflection; defaults to the `@obfy/protos` one. */
  descriptorSetPath?: string;
  /**
   * Called once when `shutdown()` begins, before the drain: end long-lived streams (watches)
   * here, so they do not hold the drain for the whole grace period.
   */
  onShutdown?: () => void;
}

/** A gRPC server built by {@link createServer}. */
export interface KitServer {
  /** The underlying grpc-js server (escape hatch). */
  readonly raw: Server;
  /** Health status control (grpc.health.v1). */
  readonly health: HealthControl;
  /** The server's base logger. */
  readonly logger: Logger;
  /** The settings in effect. */
  readonly config: ServerConfig;
  /** Calls started and not yet finished (health and reflection excluded). */
  readonly inFlight: number;
  /** Binds and starts serving; `port` 0 picks a free port, which is returned. Defaults come from config. */
  listen(host?: string, port?: number): Promise<{ port: number }>;
  /** With `readiness: "manual"`: marks the app ready (SERVING once listening) or not ready. */
  setReady(ready?: boolean): void;
  /**
   * Graceful shutdown, safe to call more than once (later calls return the same promise):
   * 1. health NOT_SERVING for every name (Watch subscribers see it);
   * 2. stop accepting connections and calls (grpc-js `tryShutdown`: listeners close, GOAWAY);
   * 3. wait for in-flight calls, at most `shutdownGraceSeconds`;
   * 4. end what is left with UNAVAILABLE "Server is shutting down" (their signals abort), end
   *    health Watch streams the same way, then `forceShutdown` any connection still open.
   */
  shutdown(): Promise<void>;
}

/**
 * Builds a gRPC server for `services` without listening. Every call runs through the kit's
 * interceptors, outermost first:
 *
 * 1. `outerInterceptors` (observability: tracing, metrics), in the order given;
 * 2. logging (one line per call, see {@link createLoggingInterceptor});
 * 3. exception-to-status (anything thrown → {@link GrpcError}, see {@link createExceptionToStatusInterceptor});
 * 4. `interceptors` (the application's), in the order given;
 * 5. the handler.
 *
 * Health (grpc.health.v1 Check/Watch/List) is always served; reflection (v1 and v1alpha) unless
 * `config.reflection` is false.
 */
export function createServer(options: CreateServerOptions): KitServer {
  const config = options.config ?? readServerConfig();
  const logger = options.logger ?? createLogger({ name: "grpc-server" });
  const readiness = options.readiness ?? "on-listen";
  const channelOptions: ChannelOptions = {
    "grpc.max_receive_message_length": config.maxReceiveMessageBytes,
    // Channelz bookkeeping (five closures, counters and timestamps per call) feeds a channelz
    // service that no kit server serves; our metrics, logs and traces cover the same ground.
    // Pass `grpcOptions: { "grpc.enable_channelz": 1 }` to serve grpc-js's channelz service.
    "grpc.enable_channelz": 0,
  };
  if (config.maxConnectionAgeMs !== undefined) {
    channelOptions["grpc.max_connection_age_ms"] = config.maxConnectionAgeMs;
    // Calls on an aged-out connection get the same time to finish as during a shutdown.
    channelOptions["grpc.max_connection_age_grace_ms"] = config.shutdownGraceSeconds * 1000;
  }
  const raw = new Server({ ...channelOptions, ...options.grpcOptions });
  const tracker = new CallTracker();
  // The order documented above (and in the README): outermost first.
  const interceptors: ServerInterceptor[] = [
    ...(options.outerInterceptors ?? []),
    createLoggingInterceptor(logger),
    createExceptionToStatusInterceptor(),
    ...(options.interceptors ?? []),
  ];

  const serviceNames: string[] = [];
  for (const service of options.services) {
    if (serviceNames.includes(service.name)) throw new Error(`Service ${service.name} is registered twice`);
    serviceNames.push(service.name);
    const definition: Record<string, (typeof service.methods)[number]["definition"]> = {};
    const implementation: UntypedServiceImplementation = {};
    for (const method of service.methods) {
      definition[method.key] = method.definition;
      implementation[method.key] = createMethodHandler(method, { interceptors, logger, tracker });
    }
    // ts-proto definitions are grpc-js ServiceDefinitions; the kit's type only narrows what it reads.
    raw.addService(definition as unknown as Parameters<Server["addService"]>[0], implementation);
  }

  const health = new KitHealth(serviceNames);
  health.addToServer(raw);
  if (config.reflection) {
    addReflection(raw, options.descriptorSetPath ?? defaultDescriptorSetPath, serviceNames);
  }

  let listening = false;
  let appReady = readiness === "on-listen";
  let shuttingDown: Promise<void> | undefined;
  const updateHealth = (): void => {
    if (shuttingDown) return;
    health.setAll(listening && appReady ? "SERVING" : "NOT_SERVING");
  };

  const drain = async (): Promise<void> => {
    health.setAll("NOT_SERVING");
    try {
      options.onShutdown?.();
    } catch (error) {
      logger.warn({ err: error }, "onShutdown failed");
    }
    const closed = new Promise<void>((resolve) => raw.tryShutdown(() => resolve()));
    const graceMs = config.shutdownGraceSeconds * 1000;
    logger.info({ in_flight: tracker.size, grace_ms: graceMs }, "Shutting down: draining in-flight calls");
    const timer = new AbortController();
    const drained = await Promise.race([
      tracker.idle().then(() => true),
      delay(graceMs, false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    const error = new Unavailable(SHUTTING_DOWN_MESSAGE);
    if (!drained) {
      logger.warn({ in_flight: tracker.size }, "Shutdown grace period over: ending remaining calls");
      tracker.terminateAll(error);
    }
    health.endWatches(error);
    const waitClose = new AbortController();
    await Promise.race([
      closed,
      delay(CONNECTION_CLOSE_WAIT_MS, undefined, { signal: waitClose.signal }).catch(() => {}),
    ]);
    waitClose.abort();
    raw.forceShutdown();
    listening = false;
    logger.info("Shutdown complete");
  };

  return {
    raw,
    health,
    logger,
    config,
    get inFlight() {
      return tracker.size;
    },
    async listen(host = config.host, port = config.port) {
      if (shuttingDown) throw new Error("Cannot listen: the server is shutting down");
      const bound = await new Promise<number>((resolve, reject) => {
        raw.bindAsync(joinHostPort(host, port), options.credentials ?? ServerCredentials.createInsecure(), (err, p) =>
          err ? reject(err) : resolve(p),
        );
      });
      listening = true;
      updateHealth();
      logger.info({ host, port: bound, services: serviceNames }, "gRPC server listening");
      return { port: bound };
    },
    setReady(ready = true) {
      appReady = ready;
      updateHealth();
    },
    shutdown() {
      shuttingDown ??= drain();
      return shuttingDown;
    },
  };
}
