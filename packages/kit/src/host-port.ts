import { isIPv6 } from "node:net";

/**
 * `host:port`, with an IPv6 address in brackets (`[::1]:50051`), as listeners, gRPC targets and
 * URLs want it. A host already in brackets is left as it is.
 */
export function joinHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The `http://host:port` origin a local client reaches a listener on: a wildcard bind address
 * (`0.0.0.0`, `::`) becomes `127.0.0.1`.
 */
export function httpOrigin(host: string, port: number): string {
  return `http://${joinHostPort(host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host, port)}`;
}
