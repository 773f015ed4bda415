import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import { createGrpcMetricFamilies } from "../internal/grpc-metric-families.js";
import { parsePrometheusText } from "../prometheus-text.js";
import { histogramQuantile, seriesStats, snapshotFromText } from "./dashboard-model.js";

describe("parsePrometheusText", () => {
  it("reads labels with escapes, special values and ignores comments and timestamps", () => {
    const text = [
      "# HELP a_total A counter.",
      "# TYPE a_total counter",
      'a_total{path="C:\\\\DIR",msg="say \\"hi\\"\\nbye"} 3 1395066363000',
      "b_gauge +Inf",
      "c_gauge Nan",
      "d_gauge -1.5e-3",
      "",
    ].join("\n");
    const { samples, types } = parsePrometheusText(text);
    assert.equal(types.get("a_total"), "counter");
    assert.deepEqual(samples[0], { name: "a_total", labels: { path: "C:\\DIR", msg: 'say "hi"\nbye' }, value: 3 });
    assert.equal(samples[1]?.value, Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(samples[2]?.value));
    assert.equal(samples[3]?.value, -0.0015);
  });

  it("rejects malformed lines with the line number", () => {
    assert.throws(() => parsePrometheusText('ok 1\nbad{le="1" 2'), /line 2/);
    assert.throws(() => parsePrometheusText("x abc"), /bad value/);
  });
});

describe("histogramQuantile", () => {
  it("interpolates inside the bucket like Prometheus", () => {
    const bounds = [0.1, 0.5, 1, Number.POSITIVE_INFINITY];
    // 10 observations <= 0.1, 10 more <= 0.5, none above.
    assert.equal(histogramQuantile(0.5, bounds, [10, 20, 20, 20]), 0.1);
    assert.ok(Math.abs((histogramQuantile(0.75, bounds, [10, 20, 20, 20]) ?? 0) - 0.3) < 1e-9);
    assert.equal(histogramQuantile(0.99, bounds, [0, 0, 0, 5]), 1, "the +Inf bucket reports the highest finite bound");
    assert.equal(histogramQuantile(0.5, bounds, [0, 0, 0, 0]), undefined);
  });

  it("uses only the observations between two scrapes", () => {
    const bounds = [0.1, 1, Number.POSITIVE_INFINITY];
    // Before: 100 fast calls. Since: 10 slow ones (between 0.1 and 1).
    assert.ok((histogramQuantile(0.5, bounds, [100, 110, 110], [100, 100, 100]) ?? 0) > 0.1);
  });
});

describe("seriesStats", () => {
  it("computes rates, error rate and latency per method from real prom-client output, surviving a restart", async () => {
    const registry = new Registry();
    // The server interceptor's families, fed as calls feed them (the numbers a scrape publishes).
    const families = createGrpcMetricFamilies(registry, "server", {
      started: "s",
      handled: "h",
      received: "r",
      sent: "s",
      seconds: "t",
    });
    const labels = { grpc_type: "unary", grpc_service: "s.Svc", grpc_method: "M" };
    const first = snapshotFromText(await registry.metrics(), 0);
    for (let i = 0; i < 18; i++) {
      families.handled.inc({ ...labels, grpc_code: "OK" });
      families.seconds.observe(labels, 0.004);
    }
    for (let i = 0; i < 2; i++) {
      families.handled.inc({ ...labels, grpc_code: "NOT_FOUND" });
      families.seconds.observe(labels, 0.2);
    }
    const second = snapshotFromText(await registry.metrics(), 2000);
    const [stats] = seriesStats(first, second);
    assert.equal(stats?.name, "s.Svc/M");
    assert.equal(stats?.rps, 10);
    assert.equal(stats?.errorRate, 0.1);
    assert.ok((stats?.p50Ms ?? 0) <= 5 && (stats?.p50Ms ?? 0) > 0);
    assert.ok((stats?.p99Ms ?? 0) > 100 && (stats?.p99Ms ?? 0) <= 250);
    assert.deepEqual(stats?.outcomes, { OK: 9, NOT_FOUND: 1 });

    registry.resetMetrics();
    families.handled.inc({ ...labels, grpc_code: "OK" }, 4);
    const afterRestart = snapshotFromText(await registry.metrics(), 4000);
    assert.equal(seriesStats(second, afterRestart)[0]?.rps, 2, "a counter that went down restarted from zero");
  });
});
