import { Server, ServerCredentials } from "@grpc/grpc-js";
import { joinHostPort } from "../host-port.js";

/** Something that can register the grpc.health.v1 service on a server, e.g. the kit's `KitHealth`. */
export interface HealthRegistrar {
  addToServer(server: Server): void;
}

/** Options for {@link startProbeServer}. */
export interface ProbeServerOptions {
  /** Address to bind (default `0.0.0.0`, so the kubelet can reach it). */
  readonly host?: string;
  /** Port (`HEALTH_PORT`); 0 picks a free one. */
  readonly port: number;
  /** The main server's health state; the probe port serves the very same statuses. */
  readonly health: HealthRegistrar;
}

/** A running probe server. */
export interface ProbeServer {
  readonly port: number;
  /** Stops at once: probes are short unary calls and Watch streams are meant to be cut. */
  close(): Promise<void>;
}

/**
 * Serves ONLY grpc.health.v1 (Check, Watch, List) over plaintext on its own port, for
 * Kubernetes' built-in gRPC probes, which cannot speak TLS. The business API stays on the TLS
 * port: a call to any other service here gets UNIMPLEMENTED. The statuses are the main server's
 * (same health object), so a draining server reports NOT_SERVING here too.
 */
export async function startProbeServer(options: ProbeServerOptions): Promise<ProbeServer> {
  const server = new Server();
  options.health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      joinHostPort(options.host ?? "0.0.0.0", options.port),
      ServerCredentials.createInsecure(),
      (error, p) => (error ? reject(error) : resolve(p)),
    );
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}
