import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { createClient, createMetrics, parsePrometheusText } from "@obfy/kit";
import { dummyClient } from "@obfy/kit/testing";
import { dummyV1 } from "@obfy/protos";
import Fastify from "fastify";
import pino from "pino";
import { parse } from "yaml";

const here = (path: string): string => readFileSync(new URL(path, import.meta.url), "utf8");

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

/** Every metric name the kit's services expose, from a real exposition with traffic on each family. */
async function exposedNames(): Promise<Set<string>> {
  const metrics = createMetrics();
  const server = await dummyClient({ outerInterceptors: [metrics.grpcServerInterceptor] });
  try {
    const client = createClient(dummyV1.DummyServiceService, server.address, {
      interceptors: [metrics.grpcClientInterceptor],
      logger: pino({ level: "silent" }),
    });
    await client.execute({ input: "x" });
    client.close();
  } finally {
    await server.close();
  }
  const app = Fastify();
  await app.register(metrics.httpPlugin);
  app.get("/", async () => "ok");
  await app.inject({ url: "/" });
  await app.close();
  metrics.unhandledErrors.labels("unhandled_rejection").inc();
  const exposition = parsePrometheusText(await metrics.registry.metrics());
  return new Set([...exposition.samples.map((s) => s.name), "up"]);
}

describe("Grafana dashboard", () => {
  const dashboard = JSON.parse(here("./online-books-dashboard.json")) as {
    uid: string;
    panels: Panel[];
    __inputs: { name: string }[];
  };

  it("is importable: a datasource input, a uid, panels with queries", () => {
    assert.equal(dashboard.__inputs[0]?.name, "DS_PROMETHEUS");
    assert.equal(dashboard.uid, "online-books-for-you");
    const charts = dashboard.panels.filter((p) => p.type !== "row");
    assert.ok(charts.length >= 8);
    for (const panel of charts) assert.ok((panel.targets ?? []).length > 0, `${panel.title} has a query`);
    const titles = charts.map((p) => p.title).join("\n");
    for (const wanted of [
      /Requests\/s per method/,
      /Error rate per method/,
      /p50 \/ p99 per method/,
      /HTTP request duration/,
    ]) {
      assert.match(titles, wanted);
    }
  });

  it("queries only metrics the kit really exposes", async () => {
    const names = await exposedNames();
    const functions = new Set(["sum", "rate", "increase", "histogram_quantile", "by", "ignoring", "group_left", "le"]);
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets ?? []) {
        // Metric names are the identifiers followed by a selector or range.
        for (const match of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{[]/g)) {
          const name = match[1] ?? "";
          if (functions.has(name)) continue;
          assert.ok(names.has(name), `panel "${panel.title}" queries ${name}, which no kit metric provides`);
        }
      }
    }
  });
});

describe("Prometheus scrape config", () => {
  it("scrapes the named metrics port of every pod of the system, and matches the dashboard's job", () => {
    const config = parse(here("../prometheus/prometheus.yml")) as {
      scrape_configs: {
        job_name: string;
        kubernetes_sd_configs: { role: string }[];
        relabel_configs: { regex?: string }[];
      }[];
    };
    const [job] = config.scrape_configs;
    assert.equal(job?.job_name, "online-books-for-you");
    assert.equal(job?.kubernetes_sd_configs[0]?.role, "pod");
    assert.ok(
      job?.relabel_configs.some((r) => r.regex === "metrics"),
      "keeps the container port named metrics",
    );
    assert.match(here("./online-books-dashboard.json"), /job=\\"online-books-for-you\\"/);
    const local = parse(here("../prometheus/prometheus-local.yml")) as {
      scrape_configs: { static_configs: { targets: string[] }[] }[];
    };
    const targets = local.scrape_configs[0]?.static_configs.flatMap((s) => s.targets);
    assert.deepEqual(targets, ["127.0.0.1:9464", "127.0.0.1:9465"]);
  });
});
