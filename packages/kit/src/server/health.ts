import {
  type handleServerStreamingCall,
  type handleUnaryCall,
  type Server,
  type ServerWritableStream,
  status as Status,
} from "@grpc/grpc-js";
import { healthV1 } from "@obfy/protos";
import type { GrpcError } from "../errors.js";

/** A service's health, as the `grpc-health-check` package names them. */
export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

type HealthWatch = ServerWritableStream<healthV1.HealthCheckRequest, healthV1.HealthCheckResponse>;

const STATUS_NUMBER: Readonly<Record<ServingStatus, healthV1.HealthCheckResponse_ServingStatus>> = {
  UNKNOWN: healthV1.HealthCheckResponse_ServingStatus.UNKNOWN,
  SERVING: healthV1.HealthCheckResponse_ServingStatus.SERVING,
  NOT_SERVING: healthV1.HealthCheckResponse_ServingStatus.NOT_SERVING,
  SERVICE_UNKNOWN: healthV1.HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN,
};

/** List answers RESOURCE_EXHAUSTED beyond this many names, as grpc-health-check does. */
const LIST_LIMIT = 100;

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
 * grpc.health.v1 Check, Watch and List, answering exactly as the official `grpc-health-check`
 * package does (NOT_FOUND for an unknown name on Check, SERVICE_UNKNOWN on Watch, at most 100
 * names on List), on the `@obfy/protos` codecs the server loads anyway: that package parses
 * health.proto with protobufjs when imported, ~60 ms and 5.5 MB of every service's start-up.
 * health-protocol.test.ts proves the answers the same as grpc-health-check's, side by side.
 * Watch streams are tracked so a shutdown can end them with a status instead of cutting the
 * connection.
 */
export class KitHealth implements HealthControl {
  readonly services: readonly string[];
  readonly #statuses = new Map<string, ServingStatus>();
  /** Open Watch streams, each with the service it watches. */
  readonly #watches = new Map<HealthWatch, string>();

  constructor(serviceNames: readonly string[], initial: ServingStatus = "NOT_SERVING") {
    this.services = ["", ...serviceNames];
    for (const name of this.services) this.#statuses.set(name, initial);
  }

  setStatus(service: string, status: ServingStatus): void {
    this.#statuses.set(service, status);
    for (const [call, watched] of this.#watches) {
      if (watched === service) call.write({ status: STATUS_NUMBER[status] });
    }
  }

  setAll(status: ServingStatus): void {
    for (const name of this.services) this.setStatus(name, status);
  }

  getStatus(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** Registers the health service on `server`. */
  addToServer(server: Server): void {
    const check: handleUnaryCall<healthV1.HealthCheckRequest, healthV1.HealthCheckResponse> = (call, callback) => {
      const name = call.request.service;
      const status = this.#statuses.get(name);
      if (status === undefined) {
        callback({ code: Status.NOT_FOUND, details: `Health status unknown for service ${name}` }, null);
      } else {
        callback(null, { status: STATUS_NUMBER[status] });
      }
    };
    const watch: handleServerStreamingCall<healthV1.HealthCheckRequest, healthV1.HealthCheckResponse> = (call) => {
      const name = call.request.service;
      this.#watches.set(call, name);
      call.on("cancelled", () => this.#watches.delete(call));
      call.write({ status: STATUS_NUMBER[this.#statuses.get(name) ?? "SERVICE_UNKNOWN"] });
    };
    const list: handleUnaryCall<healthV1.HealthListRequest, healthV1.HealthListResponse> = (_call, callback) => {
      if (this.#statuses.size > LIST_LIMIT) {
        callback({ code: Status.RESOURCE_EXHAUSTED, details: "Too many services to list." }, null);
        return;
      }
      const statuses: Record<string, healthV1.HealthCheckResponse> = {};
      for (const [name, status] of this.#statuses) statuses[name] = { status: STATUS_NUMBER[status] };
      callback(null, { statuses });
    };
    const implementation: healthV1.HealthServer = { check, watch, list };
    server.addService(healthV1.HealthService, implementation);
  }

  /** Ends every open Watch stream with `error`'s status (used at the end of a drain). */
  endWatches(error: GrpcError): void {
    for (const call of this.#watches.keys()) {
      call.emit("error", { code: error.code, details: error.message, metadata: error.metadata });
    }
    this.#watches.clear();
  }
}
