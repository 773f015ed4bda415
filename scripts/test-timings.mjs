// A node:test reporter that adds up the time of each file's top-level tests and, at the end,
// writes one JSON object { file: milliseconds }. scripts/run-tests.mjs runs it beside the spec
// reporter and prints the slowest files, so a run that grows shows where its time went.
export default async function* timings(source) {
  const perFile = {};
  for await (const event of source) {
    if ((event.type === "test:pass" || event.type === "test:fail") && event.data.nesting === 0 && event.data.file) {
      const ms = event.data.details?.duration_ms ?? 0;
      perFile[event.data.file] = (perFile[event.data.file] ?? 0) + ms;
    }
  }
  yield `${JSON.stringify(perFile)}\n`;
}
