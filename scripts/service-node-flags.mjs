// The node flags every deployable runs with, wherever it runs: the images' CMD, each service's
// `npm start`, the root `npm start` (scripts/start.mjs) and the benchmarks (bench/lib/procs.ts).
// Dockerfiles and package.json cannot import this, so deploy/dockerfiles.test.ts and
// test/service-start.test.ts check that theirs are exactly these.
//
// --enable-source-maps: stack traces in logs point at the TypeScript sources, not the bundle.
// --no-allocation-site-pretenuring: V8 watches each allocation site and, once a few young-
//   generation collections in a row find ≈ 95 % of its objects alive, allocates that site's
//   objects straight in the old generation. A server under load meets that condition for per-call
//   objects (calls in flight during a collection, e.g. while warming up or after a stall), and
//   the decision then sticks: each call's objects are born old, die old, and keep what they point
//   to alive through the remembered set until the next full collection. Measured on the
//   Recommendations service at 2,000 calls/s (docs/performance.md): ≈ 2.2 MB surviving each
//   young collection and 9–11 ms pauses with it on, 0.3–0.5 MB and 3–4 ms with it off; p99 48–67
//   → 5–6 ms; CPU per call at saturation unchanged.
export const SERVICE_NODE_FLAGS = Object.freeze(["--enable-source-maps", "--no-allocation-site-pretenuring"]);
