import { traceLogMixin, setupTracing } from "@obfy/kit";
import { context, trace } from "@opentelemetry/api";
const tracing = setupTracing({ serviceName: "x", env: {} });
const span = tracing.provider.getTracer("t").startSpan("s");
const N = 1_000_000;
let sink: unknown;
function line(i: number) { return { method: "/x", request_id: "abc", grpc_code: "OK", duration_ms: i / 1000, peer: "p", kind: "unary" }; }
context.with(trace.setSpan(context.active(), span), () => {
  for (let r = 0; r < 3; r++) {
    let t = process.cpuUsage();
    for (let i = 0; i < N; i++) sink = traceLogMixin({}, 30, undefined);
    let c = process.cpuUsage(t); console.error("mixin", ((c.user + c.system) / N).toFixed(3));
    t = process.cpuUsage();
    for (let i = 0; i < N; i++) sink = Object.assign(traceLogMixin({}, 30, undefined), line(i));
    c = process.cpuUsage(t); console.error("mixin+assign", ((c.user + c.system) / N).toFixed(3));
    t = process.cpuUsage();
    for (let i = 0; i < N; i++) sink = trace.getSpan(context.active())?.spanContext();
    c = process.cpuUsage(t); console.error("getSpan", ((c.user + c.system) / N).toFixed(3));
  }
});
