import type { MethodInfo, MethodKind } from "../context.js";

/** What {@link methodInfo} reads from a method definition (ts-proto and grpc-js both have it). */
export interface MethodShape {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

/** The method kind from a definition's stream flags (also go-grpc-prometheus' `grpc_type`). */
export function methodKind(definition: Pick<MethodShape, "requestStream" | "responseStream">): MethodKind {
  if (definition.requestStream) return definition.responseStream ? "bidi_stream" : "client_stream";
  return definition.responseStream ? "server_stream" : "unary";
}

/** The {@link MethodInfo} of a method definition; throws for a path that is not `/pkg.Service/Method`. */
export function methodInfo(definition: MethodShape): MethodInfo {
  const match = /^\/([^/]+)\/([^/]+)$/.exec(definition.path);
  if (!match?.[1] || !match[2]) throw new Error(`Invalid gRPC method path ${JSON.stringify(definition.path)}`);
  return {
    path: definition.path,
    service: match[1],
    name: match[2],
    kind: methodKind(definition),
    requestStream: definition.requestStream,
    responseStream: definition.responseStream,
  };
}
