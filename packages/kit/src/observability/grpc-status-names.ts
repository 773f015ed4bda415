import { status } from "@grpc/grpc-js";

/** Status names indexed by code, e.g. `STATUS_NAMES[5] === "NOT_FOUND"`, computed once. */
const STATUS_NAMES: readonly string[] = Array.from({ length: 17 }, (_, code) => status[code] ?? String(code));

/** The status name for `code` as go-grpc-prometheus writes it (`OK`, `NOT_FOUND`, …); the number for unknown codes. */
export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? String(code);
}

/** Splits `/package.Service/Method` into its service and method; `unknown` parts for anything else. */
export function splitMethodPath(path: string): { service: string; method: string } {
  const slash = path.indexOf("/", 1);
  if (path.charCodeAt(0) !== 47 || slash === -1) return { service: "unknown", method: path || "unknown" };
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}

/** go-grpc-prometheus' `grpc_type` label for a method's stream flags. */
export function grpcType(requestStream: boolean, responseStream: boolean): GrpcType {
  if (requestStream) return responseStream ? "bidi_stream" : "client_stream";
  return responseStream ? "server_stream" : "unary";
}

/** The `grpc_type` label values. */
export type GrpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream";
