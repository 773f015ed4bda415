import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Counter, Histogram, Registry } from "prom-client";
import { createGrpcMethodMetrics, GRPC_HANDLING_SECONDS_BUCKETS } from "./grpc-method-metrics.js";
import { statusName } from "./grpc-status-names.js";

const HELP = { started: "started", handled: "handled", received: "received", sent: "sent", seconds: "seconds" };
const LABELS = ["grpc_type", "grpc_service", "grpc_method"] as const;

/** The same families as prom-client's own metrics, recorded the usual way (one inc/observe per event). */
function referenceFamilies(registry: Registry) {
  const counter = (name: string, help: string, labelNames: readonly string[]) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  return {
    started: counter("grpc_server_started_total", HELP.started, LABELS),
    received: counter("grpc_server_msg_received_total", HELP.received, LABELS),
    sent: counter("grpc_server_msg_sent_total", HELP.sent, LABELS),
    handled: counter("grpc_server_handled_total", HELP.handled, [...LABELS, "grpc_code"]),
    seconds: new Histogram({
      name: "grpc_server_handling_seconds",
      help: HELP.seconds,
      labelNames: LABELS,
      buckets: [...GRPC_HANDLING_SECONDS_BUCKETS],
      registers: [registry],
    }),
  };
}

/** A call as the interceptor records it: started, one message in, one out when OK, a time and a code. */
interface Call {
  readonly method: readonly [string, string, string];
  readonly seconds: number;
  readonly code: number;
}

// Times on bucket bounds, between them, below the first and above the last; two methods, three codes.
const CALLS: readonly Call[] = [
  ...[0.0001, 0.005, 0.0051, 0.01, 0.3, 2.5, 9.99, 10, 10.5, 42].map((seconds) => ({
    method: ["unary", "pkg.Svc", "Get"] as const,
    seconds,
    code: 0,
  })),
  { method: ["unary", "pkg.Svc", "Get"], seconds: 0.02, code: 5 },
  { method: ["unary", "pkg.Svc", "Get"], seconds: 1.5, code: 4 },
  { method: ["server_stream", "pkg.Svc", "List"], seconds: 0.07, code: 0 },
];

function record(
  calls: readonly Call[],
  ours: ReturnType<typeof createGrpcMethodMetrics>,
  ref: ReturnType<typeof referenceFamilies>,
) {
  for (const { method, seconds, code } of calls) {
    const stats = ours.stats(...method);
    stats.started++;
    stats.received++;
    if (code === 0) stats.sent++;
    ours.observe(stats, seconds);
    stats.handled[code] = (stats.handled[code] ?? 0) + 1;

    const labels = { grpc_type: method[0], grpc_service: method[1], grpc_method: method[2] };
    ref.started.inc(labels);
    ref.received.inc(labels);
    if (code === 0) ref.sent.inc(labels);
    ref.seconds.observe(labels, seconds);
    ref.handled.inc({ ...labels, grpc_code: statusName(code) });
  }
}

/** The exposition's lines, sorted: series order within a family carries no meaning (by first call there, by first scrape here). */
async function lines(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split("\n").sort();
}

/** JSON values without prom-client's exemplar placeholders, which carry nothing without exemplars. */
async function jsonValues(registry: Registry) {
  return (await registry.getMetricsAsJSON()).map((metric) => ({
    name: metric.name,
    values: metric.values.map(({ labels, value, ...rest }) => ({
      labels,
      value,
      metricName: (rest as { metricName?: string }).metricName,
    })),
  }));
}

describe("gRPC method metrics (plain numbers, published when read)", () => {
  it("expose exactly what prom-client's own counters and histogram would, as text and as JSON", async () => {
    const registry = new Registry();
    const reference = new Registry();
    const ours = createGrpcMethodMetrics(registry, "server", HELP);
    const ref = referenceFamilies(reference);

    record(CALLS, ours, ref);
    assert.deepEqual(await lines(registry), await lines(reference));
    // More calls after a scrape: counters publish the increase, the histogram its new totals.
    record(CALLS.slice(0, 4), ours, ref);
    const text = await registry.metrics();
    assert.deepEqual(text.split("\n").sort(), await lines(reference));
    assert.match(
      text,
      /grpc_server_handled_total\{grpc_type="unary",grpc_service="pkg.Svc",grpc_method="Get",grpc_code="OK"\} 14/,
    );
    assert.match(
      text,
      /grpc_server_handling_seconds_bucket\{le="\+Inf",grpc_type="unary",grpc_service="pkg.Svc",grpc_method="Get"\} 16/,
    );
    // getMetricsAsJSON is what cluster mode aggregates across workers.
    const sorted = (values: Awaited<ReturnType<typeof jsonValues>>) =>
      values.map(({ name, values }) => ({ name, values: values.map((v) => JSON.stringify(v)).sort() }));
    assert.deepEqual(sorted(await jsonValues(registry)), sorted(await jsonValues(reference)));
  });

  it("start again from zero after registry.resetMetrics(), and show a method only once it was called", async () => {
    const registry = new Registry();
    const reference = new Registry();
    const ours = createGrpcMethodMetrics(registry, "server", HELP);
    const ref = referenceFamilies(reference);
    ours.stats("unary", "pkg.Svc", "Unused");
    assert.equal(await registry.metrics(), await reference.metrics(), "no series for a method never called");

    record(CALLS, ours, ref);
    await registry.metrics();
    registry.resetMetrics();
    reference.resetMetrics();
    record(CALLS.slice(0, 3), ours, ref);
    assert.deepEqual(await lines(registry), await lines(reference));
  });
});
