// The node flags each deployable runs with, wherever it runs: the images' CMD, each service's
// `npm start`, the root `npm start` (scripts/start.mjs) and the benchmarks (bench/lib/procs.ts).
// Dockerfiles and package.json cannot import this, so deploy/dockerfiles.test.ts and
// test/service-start.test.ts check that theirs are exactly these. docs/performance.md, "Garbage
// collection under load", has the measurements behind the GC flags.
//
// Every service:
// --enable-source-maps: stack traces in logs point at the TypeScript sources, not the bundle.
// --no-allocation-site-pretenuring: V8 watches each allocation site and, once a few young-
//   generation collections in a row find ≈ 95 % of its objects alive, allocates that site's
//   objects straight in the old generation. A server under load meets that condition for per-call
//   objects (calls in flight during a collection, e.g. while warming up or after a stall), and
//   the decision then sticks: each call's objects are born old, die old, and keep what they point
//   to alive through the remembered set until the next full collection. Recommendations at 2,000
//   calls/s: ≈ 2.2 MB surviving each young collection and 9–11 ms pauses with it on, 0.3–0.5 MB
//   and 3–4 ms with it off; p99 48–67 → 5–6 ms; CPU per call at saturation unchanged.
//
// Marketplace only:
// --max-semi-space-size=1: Node 20's HTTP/2 client keeps every gRPC stream, and what hangs off it,
//   alive until a full collection, so each young collection copies the streams opened since the
//   last one. A 1 MB semi-space collects after fewer of them: pauses of ≈ 1 ms instead of 7–9 ms,
//   homepage p99 lower in 5 of 5 paired runs, for about twice the GC time and a lower RSS under
//   load (170 vs 230 MB).

/** Flags every service runs with. */
export const COMMON_NODE_FLAGS = Object.freeze(["--enable-source-maps", "--no-allocation-site-pretenuring"]);

const EXTRA = Object.freeze({
  recommendations: Object.freeze([]),
  marketplace: Object.freeze(["--max-semi-space-size=1"]),
});

/** The node flags of `services/<name>`, in the order its CMD and start script list them. */
export function serviceNodeFlags(name) {
  const extra = EXTRA[name];
  if (extra === undefined) throw new Error(`no node flags defined for service "${name}"`);
  return [...COMMON_NODE_FLAGS, ...extra];
}
