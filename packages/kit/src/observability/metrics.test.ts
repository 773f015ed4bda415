import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import { dummyClient, raises } from "@obfy/kit/testing";
import { dummyV1 } from "@obfy/protos";
import Fastify from "fastify";
import pino from "pino";
import { createClient } from "../client/create-client.js";
import { NotFound } from "../errors.js";
import { createMetrics } from "./metrics.js";
import { readMetricsConfig, startMetricsServer } from "./metrics-server.js";
import { findSamples, type PromExposition, parsePrometheusText, sumSamples } from "./prometheus-text.js";

const silent = pino({ level: "silent" });

function hasFamily(exposition: PromExposition, name: string): void {
  assert.ok(exposition.types.has(name), `metric family ${name} is exposed`);
}

/** The value of the one sample matching `labels` (0 when there is none, as for a counter never incremented). */
function value(exposition: PromExposition, name: string, labels: Record<string, string>): number {
  const found = findSamples(exposition, name, labels);
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches one series at most`);
  return found[0]?.value ?? 0;
}

async function scrape(url: string): Promise<{ exposition: PromExposition; contentType: string | null }> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  return { exposition: parsePrometheusText(await response.text()), contentType: response.headers.get("content-type") };
}

const EXECUTE = { grpc_type: "unary", grpc_service: "kit.testing.v1.DummyService", grpc_method: "Execute" };

describe("gRPC server metrics", () => {
  it("count calls, status names, messages and latency from real traffic, served over HTTP", async (t) => {
    const metrics = createMetrics();
    const client = await dummyClient({
      outerInterceptors: [metrics.grpcServerInterceptor],
      specialCases: { missing: raises(new NotFound("No such book")), boom: raises(new Error("secret")) },
    });
    t.after(() => client.close());
    const server = await startMetricsServer({ host: "127.0.0.1", port: 0, registry: metrics.registry });
    t.after(() => server.close());

    for (const input of ["a", "b", "c"]) assert.equal((await client.execute(input)).output, input);
    for (let i = 0; i < 2; i++) await assert.rejects(client.execute("missing"), { code: status.NOT_FOUND });
    await assert.rejects(client.execute("boom"), { code: status.INTERNAL });
    assert.equal((await client.executeServerStream("xyz")).length, 3);
    assert.equal((await client.executeClientStream(["p", "q", "r", "s"])).output, "pqrs");
    assert.equal((await client.executeClientServerStream(["1", "2"])).length, 2);

    const { exposition: metricsText, contentType } = await scrape(server.url);
    assert.equal(contentType, metrics.registry.contentType);
    assert.equal(value(metricsText, "grpc_server_started_total", EXECUTE), 6);
    assert.equal(value(metricsText, "grpc_server_handled_total", { ...EXECUTE, grpc_code: "OK" }), 3);
    assert.equal(value(metricsText, "grpc_server_handled_total", { ...EXECUTE, grpc_code: "NOT_FOUND" }), 2);
    assert.equal(value(metricsText, "grpc_server_handled_total", { ...EXECUTE, grpc_code: "INTERNAL" }), 1);
    assert.equal(value(metricsText, "grpc_server_msg_received_total", EXECUTE), 6);
    assert.equal(value(metricsText, "grpc_server_msg_sent_total", EXECUTE), 3, "only successful unary calls send");
    assert.equal(value(metricsText, "grpc_server_handling_seconds_count", EXECUTE), 6);
    const buckets = findSamples(metricsText, "grpc_server_handling_seconds_bucket", EXECUTE);
    assert.deepEqual(
      buckets.map((b) => b.labels.le),
      ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"],
    );
    assert.equal(value(metricsText, "grpc_server_handling_seconds_bucket", { ...EXECUTE, le: "+Inf" }), 6);

    const serverStream = { grpc_service: "kit.testing.v1.DummyService", grpc_method: "ExecuteServerStream" };
    assert.equal(
      value(metricsText, "grpc_server_handled_total", { ...serverStream, grpc_type: "server_stream", grpc_code: "OK" }),
      1,
    );
    assert.equal(value(metricsText, "grpc_server_msg_sent_total", serverStream), 3);
    assert.equal(value(metricsText, "grpc_server_msg_received_total", serverStream), 1);
    const clientStream = { grpc_type: "client_stream", grpc_method: "ExecuteClientStream" };
    assert.equal(value(metricsText, "grpc_server_msg_received_total", clientStream), 4);
    assert.equal(value(metricsText, "grpc_server_msg_sent_total", clientStream), 1);
    const bidi = { grpc_type: "bidi_stream", grpc_method: "ExecuteClientServerStream" };
    assert.equal(value(metricsText, "grpc_server_msg_received_total", bidi), 2);
    assert.equal(value(metricsText, "grpc_server_msg_sent_total", bidi), 2);

    // Process metrics from collectDefaultMetrics are there too.
    for (const name of [
      "process_cpu_user_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_p99_seconds",
    ]) {
      hasFamily(metricsText, name);
    }
  });

  it("record the code the caller got when the deadline passes", async (t) => {
    const metrics = createMetrics({ defaultMetrics: false });
    const client = await dummyClient({
      outerInterceptors: [metrics.grpcServerInterceptor],
      specialCases: {
        slow: (_request, context) =>
          new Promise((resolve) => {
            // Finishes "successfully" only after the caller has given up.
            context.signal.addEventListener("abort", () => setTimeout(() => resolve({ output: "late" }), 10));
          }),
      },
    });
    t.after(() => client.close());
    await assert.rejects(client.execute("slow", { deadline: Date.now() + 100 }), { code: status.DEADLINE_EXCEEDED });
    // The handler resolves after the abort, so the call is recorded a moment after the client's error.
    let metricsText = parsePrometheusText(await metrics.registry.metrics());
    for (let i = 0; i < 200 && findSamples(metricsText, "grpc_server_handled_total").length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      metricsText = parsePrometheusText(await metrics.registry.metrics());
    }
    assert.equal(value(metricsText, "grpc_server_handled_total", { ...EXECUTE, grpc_code: "DEADLINE_EXCEEDED" }), 1);
    assert.equal(findSamples(metricsText, "grpc_server_handled_total", { grpc_code: "OK" }).length, 0);
  });
});

describe("gRPC client metrics", () => {
  it("count calls by status name, messages and latency through createClient", async (t) => {
    const metrics = createMetrics({ defaultMetrics: false });
    const server = await dummyClient({ specialCases: { missing: raises(new NotFound("No such book")) } });
    t.after(() => server.close());
    const client = createClient(dummyV1.DummyServiceService, server.address, {
      interceptors: [metrics.grpcClientInterceptor],
      retry: false,
      logger: silent,
    });
    t.after(() => client.close());

    for (const input of ["a", "b", "c"]) assert.equal((await client.execute({ input })).output, input);
    for (let i = 0; i < 2; i++) await assert.rejects(client.execute({ input: "missing" }), { code: status.NOT_FOUND });
    const streamed: string[] = [];
    for await (const response of client.executeServerStream({ input: "hey" })) streamed.push(response.output);
    assert.deepEqual(streamed, ["h", "e", "y"]);

    const metricsText = parsePrometheusText(await metrics.registry.metrics());
    assert.equal(value(metricsText, "grpc_client_started_total", EXECUTE), 5);
    assert.equal(value(metricsText, "grpc_client_handled_total", { ...EXECUTE, grpc_code: "OK" }), 3);
    assert.equal(value(metricsText, "grpc_client_handled_total", { ...EXECUTE, grpc_code: "NOT_FOUND" }), 2);
    assert.equal(value(metricsText, "grpc_client_msg_sent_total", EXECUTE), 5);
    assert.equal(value(metricsText, "grpc_client_msg_received_total", EXECUTE), 3);
    assert.equal(value(metricsText, "grpc_client_handling_seconds_count", EXECUTE), 5);
    const stream = { grpc_type: "server_stream", grpc_method: "ExecuteServerStream" };
    assert.equal(value(metricsText, "grpc_client_msg_received_total", stream), 3);
    assert.equal(value(metricsText, "grpc_client_handled_total", { ...stream, grpc_code: "OK" }), 1);
  });
});

describe("HTTP server metrics (fastify)", () => {
  it("label requests by route template, method and status, never by raw URL", async (t) => {
    const metrics = createMetrics({ defaultMetrics: false });
    const app = Fastify();
    t.after(() => app.close());
    await app.register(metrics.httpPlugin);
    app.get<{ Params: { id: string } }>("/books/:id", async (request, reply) => {
      if (request.params.id === "0") return reply.code(404).send({ error: "no such book" });
      return { id: request.params.id };
    });
    const base = await app.listen({ host: "127.0.0.1", port: 0 });
    for (const path of ["/books/1", "/books/2", "/books/0", "/no/such/page-123", "/no/such/page-456"]) {
      await (await fetch(`${base}${path}`)).arrayBuffer();
    }
    await (await fetch(`${base}/books/3`, { method: "PURGE" })).arrayBuffer();

    const metricsText = parsePrometheusText(await metrics.registry.metrics());
    const count = (labels: Record<string, string>): number =>
      sumSamples(metricsText, "http_server_request_duration_seconds_count", labels);
    const route = { http_request_method: "GET", http_route: "/books/:id" };
    assert.equal(count({ ...route, http_response_status_code: "200" }), 2);
    assert.equal(count({ ...route, http_response_status_code: "404" }), 1);
    assert.equal(count({ http_request_method: "GET", http_route: "unmatched", http_response_status_code: "404" }), 2);
    assert.equal(count({ http_request_method: "_OTHER", http_route: "unmatched" }), 1);
    const routes = new Set(
      findSamples(metricsText, "http_server_request_duration_seconds_count").map((m) => m.labels.http_route),
    );
    assert.deepEqual([...routes].sort(), ["/books/:id", "unmatched"], "no raw URL is a label value");
    assert.equal(
      findSamples(metricsText, "http_server_request_duration_seconds_bucket", { le: "0.075" }).length,
      4,
      "OTel semconv buckets",
    );
  });
});

describe("metrics server", () => {
  it("serves /metrics, answers 404 and 405 elsewhere, and closes", async () => {
    const metrics = createMetrics();
    const server = await startMetricsServer({ host: "127.0.0.1", port: 0, registry: metrics.registry });
    try {
      assert.ok(server.port > 0);
      const { exposition: metricsText } = await scrape(server.url);
      assert.ok(metricsText.types.size > 5);
      assert.equal((await fetch(`${server.url}/nope`)).status, 404);
      const post = await fetch(`${server.url}/metrics`, { method: "POST" });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get("allow"), "GET, HEAD");
    } finally {
      await server.close();
    }
    await assert.rejects(fetch(`${server.url}/metrics`));
  });

  it("reads METRICS_PORT: default, a port, 0, off, and rejects garbage", () => {
    assert.deepEqual(readMetricsConfig({}, 9464), { host: "0.0.0.0", port: 9464 });
    assert.deepEqual(readMetricsConfig({ METRICS_PORT: "9999", METRICS_HOST: "::1" }, 9464), {
      host: "::1",
      port: 9999,
    });
    assert.equal(readMetricsConfig({ METRICS_PORT: "0" }, 9465).port, 0);
    assert.equal(readMetricsConfig({ METRICS_PORT: "off" }, 9465).port, undefined);
    assert.throws(
      () => readMetricsConfig({ METRICS_PORT: "abc" }, 9465),
      /METRICS_PORT must be an integer between 0 and 65535 or "off", got "abc"/,
    );
    assert.throws(() => readMetricsConfig({ METRICS_PORT: "70000" }, 9465), /METRICS_PORT/);
  });
});
