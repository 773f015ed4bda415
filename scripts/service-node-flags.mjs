// The node flags each deployable runs with, wherever it runs: the images' CMD, each service's
// `npm start`, the root `npm start` (scripts/start.mjs) and the benchmarks (bench/lib/procs.ts).
// Dockerfiles and package.json cannot import this, so deploy/dockerfiles.test.ts and
// test/service-start.test.ts check that theirs are exactly these.
//
// Every service: --enable-source-maps, so stack traces in logs point at the TypeScript sources,
// not the bundle. That is all: the garbage-collection flags of the Node 20 days
// (--no-allocation-site-pretenuring for both services, --max-semi-space-size=1 for the
// Marketplace) were re-measured on Node 26 and did not pay; docs/performance.md, "Garbage
// collection under load", has the figures and the commands.

/** Flags every service runs with. */
export const COMMON_NODE_FLAGS = Object.freeze(["--enable-source-maps"]);

/** Flags only some services run with, by name (none today; one with a measurement beside it). */
const EXTRA = Object.freeze({});

/** The node flags of `services/<name>`, in the order its CMD and start script list them. */
export function serviceNodeFlags(name) {
  return [...COMMON_NODE_FLAGS, ...(EXTRA[name] ?? [])];
}
