import type {
  handleServerStreamingCall,
  Server,
  ServerWritableStream,
  ServiceDefinition,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";
import type { GrpcError } from "../errors.js";

export type { ServingStatus } from "grpc-health-check";

/** Health status control for a {@link KitServer}. */
export interface HealthControl {
  /** Names with a status: `""` (the whole server) and each served service. */
  readonly services: readonly string[];
  /** Sets one service's status; Watch subscribers are told at once. */
  setStatus(service: string, status: ServingStatus): void;
  /** Sets every known name's status. */
  setAll(status: ServingStatus): void;
  /** The current status of `service`, `undefined` when unknown. */
  getStatus(service: string): ServingStatus | undefined;
  /**
   * Serves this same health state on another server too, e.g. a plaintext probe port
   * (`startProbeServer`) when the main port requires TLS.
   */
  addToServer(server: Server): void;
}

/**
 * grpc.health.v1 Check, Watch and List from the official `grpc-health-check` package, with Watch
 * streams tracked so a shutdown can end them with a status instead of cutting the connection.
 */
export class KitHealth implements HealthControl {
  readonly services: readonly string[];
  readonly #impl: HealthImplementation;
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #watches = new Set<ServerWritableStream<unknown, unknown>>();

  constructor(serviceNames: readonly string[], initial: ServingStatus = "NOT_SERVING") {
    this.services = ["", ...serviceNames];
    for (const name of this.services) this.#statuses.set(name, initial);
    this.#impl = new HealthImplementation(Object.fromEntries(this.#statuses));
  }

  setStatus(service: string, status: ServingStatus): void {
    this.#statuses.set(service, status);
    this.#impl.setStatus(service, status);
  }

  setAll(status: ServingStatus): void {
    for (const name of this.services) this.setStatus(name, status);
  }

  getStatus(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** Registers the health service on `server`. */
  addToServer(server: Server): void {
    let captured: { definition: ServiceDefinition; implementation: UntypedServiceImplementation } | undefined;
    // The package registers itself through addService; capture that to wrap Watch.
    this.#impl.addToServer({
      addService: (definition, implementation) => {
        captured = { definition: definition as ServiceDefinition, implementation };
      },
    });
    if (!captured) throw new Error("grpc-health-check did not register its service");
    const { definition, implementation } = captured;
    const watch = implementation.watch as handleServerStreamingCall<unknown, unknown> | undefined;
    if (!watch) throw new Error("grpc-health-check has no Watch handler");
    const trackedWatch: handleServerStreamingCall<unknown, unknown> = (call) => {
      this.#watches.add(call);
      call.on("cancelled", () => this.#watches.delete(call));
      watch(call);
    };
    server.addService(definition, { ...implementation, watch: trackedWatch });
  }

  /** Ends every open Watch stream with `error`'s status (used at the end of a drain). */
  endWatches(error: GrpcError): void {
    for (const call of this.#watches) {
      call.emit("error", { code: error.code, details: error.message, metadata: error.metadata });
    }
    this.#watches.clear();
  }
}
