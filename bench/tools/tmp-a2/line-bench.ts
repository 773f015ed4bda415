import { performance } from "node:perf_hooks";
import { createLogger, traceLogMixin, setupTracing } from "@obfy/kit";
import { context, trace } from "@opentelemetry/api";
const variant = process.env.V ?? "mixin";
const tracing = setupTracing({ serviceName: "x", env: {} });
const tracer = tracing.provider.getTracer("t");
const logger = createLogger({ name: "recommendations", level: "info", ...(variant === "nomixin" ? {} : { mixin: traceLogMixin }) });
const span = tracer.startSpan("s");
const N = 300000;
const child = logger.child({ method: "/bookstore.recommendations.v1.RecommendationsService/Recommend", kind: "unary" });
function one(i: number) {
  if (variant === "child") { child.info({ request_id: "3f1b2c4d-1111-2222-3333-444455556666", grpc_code: "OK", duration_ms: Math.round(i % 1000) / 1000, peer: "127.0.0.1:50000" }, "gRPC call finished"); return; }
  logger.info({ method: "/bookstore.recommendations.v1.RecommendationsService/Recommend", request_id: "3f1b2c4d-1111-2222-3333-444455556666", grpc_code: "OK", duration_ms: Math.round(i % 1000) / 1000, peer: "127.0.0.1:50000", kind: "unary" }, "gRPC call finished");
}
import { setImmediate as tick } from "node:timers/promises";
const ctx = trace.setSpan(context.active(), span);
{
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now(); const c0 = process.cpuUsage();
    for (let i = 0; i < N; i += 400) { context.with(ctx, () => { for (let j = 0; j < 400; j++) one(i + j); }); await tick(); }
    const c = process.cpuUsage(c0);
    process.stderr.write(`${variant}: ${(((c.user + c.system)) / N).toFixed(2)} µs cpu/line, ${((performance.now() - t0) * 1000 / N).toFixed(2)} wall\n`);
  }
}
