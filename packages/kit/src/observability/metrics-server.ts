import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { envString } from "../config.js";
import { httpOrigin } from "../host-port.js";

/**
 * An extra route on the metrics server. Returns true when it handled the request (and wrote the
 * response), false to let the next handler or the 404 answer it. The dashboard is one.
 */
export type AdminHttpHandler = (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;

/** Options for {@link startMetricsServer}. */
export interface StartMetricsServerOptions {
  /** Address to bind; default `0.0.0.0` so Prometheus can scrape the pod IP. */
  host?: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  registry: Registry;
  /** Extra routes tried in order before the 404, e.g. `[dashboard.handler]`. */
  handlers?: readonly AdminHttpHandler[];
}

/** A running metrics (admin) HTTP server. */
export interface MetricsServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** `http://host:port`, with `127.0.0.1` in place of the wildcard address. */
  readonly url: string;
  /** Stops accepting connections, closes idle keep-alive ones, and resolves once the server is closed. */
  close(): Promise<void>;
}

/**
 * Starts a node:http server on its own port serving `GET /metrics` (and `HEAD`) in the
 * Prometheus text format from `registry`, plus any `handlers`; everything else is 404, and
 * other methods on `/metrics` are 405. It is kept off the public port so scrapes and the
 * dashboard are never reachable from outside the cluster.
 */
export async function startMetricsServer(options: StartMetricsServerOptions): Promise<MetricsServer> {
  const { registry } = options;
  const handlers = options.handlers ?? [];
  const server: Server = createServer((request, response) => {
    void handle(request, response).catch(() => {
      if (!response.headersSent) {
        response.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      }
      response.end("Internal error\n");
    });
  });

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? "/").split("?", 1)[0];
    if (path === "/metrics") {
      if (request.method !== "GET" && request.method !== "HEAD") {
        response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
        response.end("Method not allowed\n");
        return;
      }
      const body = await registry.metrics();
      response.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
      response.end(request.method === "HEAD" ? undefined : body);
      return;
    }
    for (const handler of handlers) {
      if (await handler(request, response)) return;
    }
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    response.end("Not found\n");
  };

  const host = options.host ?? "0.0.0.0";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: httpOrigin(host, port),
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/** Metrics server settings read from the environment. */
export interface MetricsConfig {
  /** `METRICS_HOST`: address to bind (default `0.0.0.0`). */
  host: string;
  /** `METRICS_PORT`: port to bind, 0 picks a free one; `undefined` when set to `off` (no metrics server). */
  port: number | undefined;
}

/**
 * Reads {@link MetricsConfig}: `METRICS_PORT` is a port (0–65535, 0 picks a free one, as `PORT`
 * does) or `off` to run without a metrics server; `defaultPort` applies when it is unset (the
 * kit's convention: 9464 for Recommendations, 9465 for the Marketplace).
 */
export function readMetricsConfig(
  env: Readonly<Record<string, string | undefined>>,
  defaultPort: number,
): MetricsConfig {
  const host = envString(env, "METRICS_HOST", "0.0.0.0");
  const raw = env.METRICS_PORT?.trim() ?? "";
  if (raw === "") return { host, port: defaultPort };
  if (raw.toLowerCase() === "off") return { host, port: undefined };
  const port = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`METRICS_PORT must be an integer between 0 and 65535 or "off", got ${JSON.stringify(raw)}`);
  }
  return { host, port };
}
