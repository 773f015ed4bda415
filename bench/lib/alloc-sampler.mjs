// Preload (`node --import <this file>`) for the allocation-per-call measurement in bench/suite.ts.
// Plain JavaScript so it loads into compiled servers without tsx. V8's sampling heap profiler,
// driven over the in-process inspector session, is switched by SIGUSR2: the first signal starts a
// session, the next stops it and writes `${ALLOC_SAMPLER_OUT}.<n>.heapprofile`, and so on.
// Sessions alternate between two modes:
//   n even: every allocation, including objects a young or a full collection later freed
//           ("allocated": what the garbage collector has to deal with per call);
//   n odd:  objects that survived a young collection: copied or promoted, whether a full
//           collection freed them later or not (what makes young pauses long). A young
//           collection is forced before the session stops, so the window's youngest objects
//           count only if they survive it.
// Sampling costs time, so only the allocation figures of a sampled window mean anything.
// When the file is written it prints `{"event":"alloc-profile","file":…}` on stderr.
import { renameSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

const out = process.env.ALLOC_SAMPLER_OUT;
if (!out) throw new Error("alloc-sampler: set ALLOC_SAMPLER_OUT to the profile path prefix");
// A young collection on demand (the `gc` function a fresh context gets once --expose-gc is set),
// without adding flags to the server's command line.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");
const session = new Session();
session.connect();
const post = (method, params = {}) =>
  new Promise((resolve, reject) =>
    session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
  );

let n = 0;
let sampling = false;
let busy = Promise.resolve();
process.on("SIGUSR2", () => {
  busy = busy.then(async () => {
    if (!sampling) {
      await post("HeapProfiler.enable");
      await post("HeapProfiler.startSampling", {
        samplingInterval: 1024,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: n % 2 === 0,
      });
      sampling = true;
      return;
    }
    // Survivors: young objects still unscavenged at the end of the window have not survived
    // anything yet; a young collection first sorts them into dead and copied.
    if (n % 2 === 1) gc({ type: "minor" });
    const { profile } = await post("HeapProfiler.stopSampling");
    sampling = false;
    const file = `${out}.${n}.heapprofile`;
    n++;
    // Renamed into place, so a reader polling for the file never sees half of it.
    writeFileSync(`${file}.partial`, JSON.stringify(profile));
    renameSync(`${file}.partial`, file);
    process.stderr.write(`${JSON.stringify({ event: "alloc-profile", file })}\n`);
  });
});
