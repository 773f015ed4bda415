import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { Metadata } from "@grpc/grpc-js";
import { dummyClient } from "@obfy/kit/testing";
import { dummyV1 } from "@obfy/protos";
import { context, type SpanContext, SpanKind, SpanStatusCode, TraceFlags, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-node";
import Fastify from "fastify";
import pino from "pino";
import { createClient } from "../client/create-client.js";
import { NotFound } from "../errors.js";
import { createGrpcClientTracingInterceptor, createGrpcServerTracingInterceptor } from "./grpc-tracing.js";
import { createHttpTracingPlugin } from "./http-tracing-plugin.js";
import { traceLogMixin } from "./trace-log-mixin.js";
import { setupTracing } from "./tracing.js";

// Two "services" in one process: A registers the globals (context manager, propagator), B only
// builds its own provider; each exports to its own in-memory exporter.
const exporterA = new InMemorySpanExporter();
const exporterB = new InMemorySpanExporter();
const tracingA = setupTracing({ serviceName: "service-a", exporter: exporterA, env: {} });
const tracingB = setupTracing({ serviceName: "service-b", exporter: exporterB, env: {} });
after(() => Promise.all([tracingA.shutdown(), tracingB.shutdown()]));

const INCOMING_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const INCOMING_SPAN_ID = "00f067aa0ba902b7";
const TRACEPARENT = `00-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-01`;

interface LogLine {
  msg?: string;
  trace_id?: string;
  span_id?: string;
  request_id?: string;
}

function captureLogger(): { logger: pino.Logger; lines: () => LogLine[] } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  const logger = pino({ level: "info", mixin: traceLogMixin }, stream);
  return {
    logger,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as LogLine),
  };
}

function byKind(spans: readonly ReadableSpan[], kind: SpanKind): ReadableSpan {
  const found = spans.filter((span) => span.kind === kind);
  assert.equal(found.length, 1, `one ${SpanKind[kind]} span`);
  return found[0] as ReadableSpan;
}

/** Starts service B (Dummy, echo) with the server tracing interceptor. */
async function startB(t: { after: (fn: () => Promise<void>) => void }) {
  const b = await dummyClient({
    outerInterceptors: [createGrpcServerTracingInterceptor({ tracerProvider: tracingB.provider })],
    specialCases: {
      missing: () => {
        throw new NotFound("No such book");
      },
    },
  });
  t.after(() => b.close());
  const clientToB = createClient(dummyV1.DummyServiceService, b.address, {
    interceptors: [createGrpcClientTracingInterceptor({ tracerProvider: tracingA.provider })],
    retry: false,
    logger: pino({ level: "silent" }),
  });
  t.after(async () => clientToB.close());
  return { b, clientToB };
}

describe("gRPC tracing", () => {
  it("one trace spans two services, honours an incoming traceparent, and logs carry its ids", async (t) => {
    exporterA.reset();
    exporterB.reset();
    const { clientToB } = await startB(t);
    const { logger, lines } = captureLogger();
    const a = await dummyClient({
      logger,
      outerInterceptors: [createGrpcServerTracingInterceptor({ tracerProvider: tracingA.provider })],
      specialCases: {
        "call-b": async (_request, context) => {
          context.log.info("calling B");
          const response = await clientToB.execute({ input: "from A" });
          return { output: `B said ${response.output}` };
        },
      },
    });
    t.after(() => a.close());

    const metadata = new Metadata();
    metadata.set("traceparent", TRACEPARENT);
    metadata.set("x-request-id", "req-trace-1");
    assert.equal((await a.execute("call-b", { metadata })).output, "B said from A");

    const spansA = exporterA.getFinishedSpans();
    const spansB = exporterB.getFinishedSpans();
    const serverA = byKind(spansA, SpanKind.SERVER);
    const clientA = byKind(spansA, SpanKind.CLIENT);
    const serverB = byKind(spansB, SpanKind.SERVER);

    for (const span of [serverA, clientA, serverB]) {
      assert.equal(span.spanContext().traceId, INCOMING_TRACE_ID, `${span.name} is in the caller's trace`);
      assert.equal(span.name, "kit.testing.v1.DummyService/Execute");
      assert.equal(span.attributes["rpc.system"], "grpc");
      assert.equal(span.attributes["rpc.service"], "kit.testing.v1.DummyService");
      assert.equal(span.attributes["rpc.method"], "Execute");
      assert.equal(span.attributes["rpc.grpc.status_code"], 0);
    }
    assert.equal(
      serverA.parentSpanContext?.spanId,
      INCOMING_SPAN_ID,
      "A's server span continues the incoming traceparent",
    );
    assert.equal(
      clientA.parentSpanContext?.spanId,
      serverA.spanContext().spanId,
      "A's client span is a child of its server span",
    );
    assert.equal(
      serverB.parentSpanContext?.spanId,
      clientA.spanContext().spanId,
      "B's server span is a child of A's client span",
    );
    assert.equal(serverA.resource.attributes["service.name"], "service-a");
    assert.equal(serverB.resource.attributes["service.name"], "service-b");

    const handlerLine = lines().find((line) => line.msg === "calling B");
    assert.ok(handlerLine, "the handler's line was written");
    assert.equal(handlerLine.trace_id, INCOMING_TRACE_ID);
    assert.equal(handlerLine.span_id, serverA.spanContext().spanId);
    assert.equal(handlerLine.request_id, "req-trace-1");
    const finishedLine = lines().find((line) => line.msg === "gRPC call finished");
    assert.equal(finishedLine?.trace_id, INCOMING_TRACE_ID, "the kit's call log line carries the trace too");
  });

  it("starts a new trace without traceparent and marks errors by status", async (t) => {
    exporterA.reset();
    exporterB.reset();
    const { clientToB } = await startB(t);
    await assert.rejects(clientToB.execute({ input: "missing" }), { code: 5 });
    const client = byKind(exporterA.getFinishedSpans(), SpanKind.CLIENT);
    const server = byKind(exporterB.getFinishedSpans(), SpanKind.SERVER);
    assert.equal(client.parentSpanContext, undefined, "a root span");
    assert.equal(server.spanContext().traceId, client.spanContext().traceId);
    assert.equal(client.attributes["rpc.grpc.status_code"], 5);
    assert.equal(server.attributes["rpc.grpc.status_code"], 5);
    assert.equal(client.status.code, SpanStatusCode.ERROR, "any non-OK status is a client error");
    assert.equal(server.status.code, SpanStatusCode.UNSET, "NOT_FOUND is not a server fault");
  });
});

describe("gRPC tracing with a provider that exports nothing", () => {
  it("builds no span, yet gives every call trace ids for its logs and carries incoming traces on", async (t) => {
    const quiet = setupTracing({ serviceName: "quiet", env: {} });
    t.after(() => quiet.shutdown());
    exporterB.reset();
    const b = await dummyClient({
      outerInterceptors: [createGrpcServerTracingInterceptor({ tracerProvider: tracingB.provider })],
    });
    t.after(() => b.close());
    const clientToB = createClient(dummyV1.DummyServiceService, b.address, {
      interceptors: [createGrpcClientTracingInterceptor({ tracerProvider: quiet.provider })],
      retry: false,
      logger: pino({ level: "silent" }),
    });
    t.after(async () => clientToB.close());
    const { logger, lines } = captureLogger();
    const seen: { spanContext: SpanContext | undefined; recording: boolean | undefined }[] = [];
    const a = await dummyClient({
      logger,
      outerInterceptors: [createGrpcServerTracingInterceptor({ tracerProvider: quiet.provider })],
      specialCases: {
        "call-b": async (_request, callContext) => {
          const span = trace.getSpan(context.active());
          seen.push({ spanContext: span?.spanContext(), recording: span?.isRecording() });
          callContext.log.info("calling B");
          await clientToB.execute({ input: "from A" });
          return { output: "done" };
        },
      },
    });
    t.after(() => a.close());
    const call = (traceparent?: string) => {
      const metadata = new Metadata();
      if (traceparent !== undefined) metadata.set("traceparent", traceparent);
      return a.execute("call-b", { metadata });
    };

    await call(TRACEPARENT);
    const sampled = seen[0]?.spanContext;
    assert.equal(sampled?.traceId, INCOMING_TRACE_ID, "the caller's trace continues");
    assert.notEqual(sampled?.spanId, INCOMING_SPAN_ID, "under a span id of its own");
    assert.equal(sampled?.traceFlags, 1, "still sampled, so downstream services record it");
    assert.equal(seen[0]?.recording, false, "nothing is recorded");
    const intoB = byKind(exporterB.getFinishedSpans(), SpanKind.SERVER);
    assert.equal(intoB.spanContext().traceId, INCOMING_TRACE_ID, "the outgoing call carried the trace");
    assert.equal(intoB.parentSpanContext?.spanId, sampled?.spanId);
    const logged = lines().find((line) => line.msg === "calling B");
    assert.equal(logged?.trace_id, INCOMING_TRACE_ID);
    assert.equal(logged?.span_id, sampled?.spanId);

    // An unsampled traceparent is carried on (W3C Trace Context), still unsampled, so B records nothing.
    exporterB.reset();
    await call(`00-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-00`);
    const unsampled = seen.at(-1)?.spanContext;
    assert.equal(unsampled?.traceId, INCOMING_TRACE_ID, "the unsampled trace continues");
    assert.equal(unsampled?.traceFlags, 0, "and stays unsampled");
    assert.equal(exporterB.getFinishedSpans().length, 0, "B honours the caller's decision not to sample");

    // No traceparent: a new unsampled trace, so log lines still carry trace ids.
    exporterB.reset();
    await call(undefined);
    const fresh = seen.at(-1)?.spanContext;
    assert.ok(fresh !== undefined && /^[0-9a-f]{32}$/.test(fresh.traceId) && fresh.traceId !== INCOMING_TRACE_ID);
    assert.equal(fresh.traceFlags, 0);
    assert.equal(exporterB.getFinishedSpans().length, 0);

    const logged3 = lines().filter((line) => line.msg === "calling B");
    assert.equal(logged3.length, 3);
    assert.deepEqual(
      logged3.map((line) => line.trace_id),
      [INCOMING_TRACE_ID, INCOMING_TRACE_ID, fresh.traceId],
      "every line written while handling a call carries its trace id",
    );
    assert.ok(logged3.every((line) => typeof line.span_id === "string"));
  });
});

describe("HTTP tracing (fastify)", () => {
  it("an HTTP traceparent carries through the Marketplace's gRPC call into the next service", async (t) => {
    exporterA.reset();
    exporterB.reset();
    const { clientToB } = await startB(t);
    const app = Fastify();
    t.after(() => app.close());
    await app.register(createHttpTracingPlugin({ tracerProvider: tracingA.provider }));
    app.get<{ Params: { id: string } }>("/books/:id", async (request) => {
      const response = await clientToB.execute({ input: request.params.id });
      return { echoed: response.output };
    });
    app.get("/boom", async () => {
      throw new Error("boom");
    });
    const base = await app.listen({ host: "127.0.0.1", port: 0 });

    const response = await fetch(`${base}/books/42`, { headers: { traceparent: TRACEPARENT } });
    assert.deepEqual(await response.json(), { echoed: "42" });
    assert.equal((await fetch(`${base}/boom`)).status, 500);

    const httpSpans = exporterA.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
    const books = httpSpans.find((span) => span.name === "GET /books/:id");
    assert.ok(books, `an HTTP span named after the route (got ${httpSpans.map((s) => s.name).join(", ")})`);
    assert.equal(books.spanContext().traceId, INCOMING_TRACE_ID);
    assert.equal(books.parentSpanContext?.spanId, INCOMING_SPAN_ID);
    assert.equal(books.attributes["http.route"], "/books/:id");
    assert.equal(books.attributes["http.request.method"], "GET");
    assert.equal(books.attributes["http.response.status_code"], 200);
    const grpcClient = byKind(exporterA.getFinishedSpans(), SpanKind.CLIENT);
    assert.equal(
      grpcClient.parentSpanContext?.spanId,
      books.spanContext().spanId,
      "the gRPC call is a child of the request",
    );
    const serverB = byKind(exporterB.getFinishedSpans(), SpanKind.SERVER);
    assert.equal(serverB.spanContext().traceId, INCOMING_TRACE_ID);
    assert.equal(serverB.parentSpanContext?.spanId, grpcClient.spanContext().spanId);

    const boom = httpSpans.find((span) => span.name === "GET /boom");
    assert.equal(boom?.status.code, SpanStatusCode.ERROR);
    assert.equal(boom?.attributes["http.response.status_code"], 500);
    assert.ok(
      boom?.events.some((event) => event.name === "exception"),
      "the error is recorded on the span",
    );
  });
});

describe("setupTracing", () => {
  it("exports nothing and records nothing new without an exporter or OTLP endpoint", () => {
    const tracing = setupTracing({ serviceName: "quiet", env: {} });
    try {
      assert.equal(tracing.exporting, false);
      const span = tracing.provider.getTracer("t").startSpan("root");
      assert.equal(span.isRecording(), false, "no new traces are started");
      assert.match(span.spanContext().traceId, /^[0-9a-f]{32}$/, "but a trace id exists for logs and propagation");
      span.end();
    } finally {
      void tracing.shutdown();
    }
  });

  it("a quiet provider continues an upstream trace, keeps its sampled flag, and honours root", () => {
    const tracing = setupTracing({ serviceName: "quiet", env: {} });
    try {
      const tracer = tracing.provider.getTracer("t");
      const upstream = trace.setSpanContext(context.active(), {
        traceId: INCOMING_TRACE_ID,
        spanId: INCOMING_SPAN_ID,
        traceFlags: TraceFlags.SAMPLED,
        isRemote: true,
      });
      const seen = tracer.startActiveSpan("child", {}, upstream, (span) => {
        assert.equal(trace.getSpan(context.active()), span, "the span is active inside the callback");
        return span.spanContext();
      });
      assert.equal(seen.traceId, INCOMING_TRACE_ID);
      assert.notEqual(seen.spanId, INCOMING_SPAN_ID);
      assert.match(seen.spanId, /^[0-9a-f]{16}$/);
      assert.equal(seen.traceFlags, TraceFlags.SAMPLED, "a sampled trace stays sampled downstream");
      const root = tracer.startSpan("root", { root: true }, upstream);
      assert.notEqual(root.spanContext().traceId, INCOMING_TRACE_ID);
      assert.equal(root.spanContext().traceFlags, TraceFlags.NONE);
      assert.equal(root.isRecording(), false);
      const ids = new Set(Array.from({ length: 500 }, () => tracer.startSpan("s").spanContext().spanId));
      assert.equal(ids.size, 500, "span ids do not repeat");
    } finally {
      void tracing.shutdown();
    }
  });

  it("loads the OpenTelemetry SDK only when spans are exported", async () => {
    // A fresh process: this test file itself loads the SDK. require.cache lists the CommonJS
    // modules loaded so far, which is what the OpenTelemetry packages are.
    const script = `
      import { createRequire } from "node:module";
      const require = createRequire(import.meta.url);
      const { setupTracing } = await import("@obfy/kit/observability");
      const loaded = (path) => Object.keys(require.cache).some((f) => f.includes(path));
      const state = () => ({ sdk: loaded("sdk-trace-base") });
      const quiet = setupTracing({ serviceName: "q", env: {} });
      const before = state();
      const exporting = setupTracing({ serviceName: "e", env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1" } });
      console.log(JSON.stringify({ before, after: state() }));
      await exporting.shutdown();
      await quiet.shutdown();`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--conditions=source", "--import", "tsx", "--input-type=module", "-e", script],
      { timeout: 30_000 },
    );
    assert.deepEqual(JSON.parse(stdout), { before: { sdk: false }, after: { sdk: true } });
  });

  it("loads the OTLP exporter only when an endpoint is set, and spans reach it", async (t) => {
    const received: { path: string | undefined; type: string | undefined }[] = [];
    const collector = createHttpServer((request, response) => {
      received.push({ path: request.url, type: request.headers["content-type"] });
      request.resume().on("end", () => response.writeHead(200, { "content-type": "application/x-protobuf" }).end());
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise<void>((resolve) => collector.close(() => resolve())));
    const { port } = collector.address() as AddressInfo;
    const tracing = setupTracing({
      serviceName: "otlp",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}/` },
    });
    try {
      const span = tracing.provider.getTracer("t").startSpan("exported");
      assert.equal(span.isRecording(), true);
      span.end();
      await tracing.forceFlush();
      assert.deepEqual(received, [{ path: "/v1/traces", type: "application/x-protobuf" }]);
    } finally {
      await tracing.shutdown();
    }
  });

  it("exports over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, and OTEL_SERVICE_NAME wins", async () => {
    const tracing = setupTracing({
      serviceName: "code-name",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1", OTEL_SERVICE_NAME: "env-name" },
    });
    assert.equal(tracing.exporting, true);
    assert.equal(tracing.serviceName, "env-name");
    await tracing.shutdown();
  });
});
