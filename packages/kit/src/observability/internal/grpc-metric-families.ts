import { status } from "@grpc/grpc-js";
import { Counter, Histogram, type Registry } from "prom-client";
import type { MethodInfo } from "../../context.js";

/** go-grpc-prometheus' default handling-time buckets (Prometheus `DefBuckets`), in seconds. */
export const GRPC_HANDLING_SECONDS_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

type MethodLabels = "grpc_type" | "grpc_service" | "grpc_method";

/** The five go-grpc-prometheus families of one side (server or client), with one call's labels. */
export interface GrpcMetricFamilies {
  readonly started: Counter<MethodLabels>;
  readonly handled: Counter<MethodLabels | "grpc_code">;
  readonly received: Counter<MethodLabels>;
  readonly sent: Counter<MethodLabels>;
  readonly seconds: Histogram<MethodLabels>;
}

/** The help texts of the families, as go-grpc-prometheus writes them. */
export interface GrpcFamilyHelp {
  readonly started: string;
  readonly handled: string;
  readonly received: string;
  readonly sent: string;
  readonly seconds: string;
}

/**
 * Registers `grpc_<side>_started_total`, `_handled_total`, `_msg_received_total`,
 * `_msg_sent_total` and `_handling_seconds` on `registry`, with go-grpc-prometheus' names,
 * labels and buckets, so its dashboards and alerts work unchanged.
 */
export function createGrpcMetricFamilies(
  registry: Registry,
  side: "server" | "client",
  help: GrpcFamilyHelp,
): GrpcMetricFamilies {
  const labelNames: MethodLabels[] = ["grpc_type", "grpc_service", "grpc_method"];
  const registers = [registry];
  return {
    started: new Counter({ name: `grpc_${side}_started_total`, help: help.started, labelNames, registers }),
    handled: new Counter({
      name: `grpc_${side}_handled_total`,
      help: help.handled,
      labelNames: [...labelNames, "grpc_code"],
      registers,
    }),
    received: new Counter({ name: `grpc_${side}_msg_received_total`, help: help.received, labelNames, registers }),
    sent: new Counter({ name: `grpc_${side}_msg_sent_total`, help: help.sent, labelNames, registers }),
    seconds: new Histogram({
      name: `grpc_${side}_handling_seconds`,
      help: help.seconds,
      labelNames,
      buckets: [...GRPC_HANDLING_SECONDS_BUCKETS],
      registers,
    }),
  };
}

/** The method labels of a call: `grpc_type` is the method kind (`unary`, `server_stream`, …). */
export function methodLabels(method: MethodInfo): Record<MethodLabels, string> {
  return { grpc_type: method.kind, grpc_service: method.service, grpc_method: method.name };
}

/** The `grpc_code` label: the status name (`OK`, `NOT_FOUND`, …), or the number for unknown codes. */
export function codeLabel(code: number): string {
  return status[code] ?? String(code);
}

/** Counts each message of `source` as it passes. */
export async function* countEach<T>(source: AsyncIterable<T>, count: () => void): AsyncIterable<T> {
  for await (const message of source) {
    count();
    yield message;
  }
}
