/**
 * CPU profiles of a running service: {@link profileWindow} takes one over the inspector protocol
 * (the process runs with `--inspect`), {@link summariseProfile} says where the time went: self
 * time per function and, per area (a package, a part of Node, our kit, the service itself), self
 * time and time on the stack. Functions in a bundle are mapped back to their sources through the
 * bundle's source map (node:module's SourceMap).
 */
import { existsSync, readFileSync } from "node:fs";
import { SourceMap, type SourceMapping } from "node:module";
import { fileURLToPath } from "node:url";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
/** A V8 CPU profile, as `Profiler.stop` returns it. */
export interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Where a profile's time went. */
export interface ProfileSummary {
  /** Sampled time that was not idle, ms. */
  readonly busyMs: number;
  /** Per area: self time and time with the area anywhere on the stack, ms; largest self first. */
  readonly areas: readonly { area: string; selfMs: number; onStackMs: number }[];
  /** The functions with the most self time. */
  readonly functions: readonly { area: string; name: string; source: string; selfMs: number }[];
}

/** The area a source path belongs to. */
function areaOf(source: string, functionName: string): string {
  if (functionName === "(garbage collector)") return "V8 garbage collection";
  if (functionName === "(program)" || source === "") return "V8 and native code";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(source);
  if (pkg) return pkg[1] as string;
  if (source.startsWith("node:")) {
    // node:internal/streams/readable → "node streams"; node:_http_server → "node _http_server".
    const module = source.replace(/^node:(internal\/)?/, "").split(/[/:]/)[0];
    return `node ${module}`;
  }
  if (source.includes("packages/kit/")) return "@obfy/kit";
  if (source.includes("packages/protos/")) return "@obfy/protos";
  const service = /services\/([^/]+)\//.exec(source);
  if (service) return `service: ${service[1]}`;
  return "other";
}

const root = new URL("../..", import.meta.url).href;

/** Summarises `profile`; the `top` functions by self time are listed. */
export function summariseProfile(profile: Profile, top = 15): ProfileSummary {
  const maps = new Map<string, SourceMap | undefined>();
  const mapFor = (url: string): SourceMap | undefined => {
    if (!maps.has(url)) {
      const file = url.startsWith("file://") ? fileURLToPath(url) : "";
      maps.set(
        url,
        file !== "" && existsSync(`${file}.map`)
          ? new SourceMap(JSON.parse(readFileSync(`${file}.map`, "utf8")))
          : undefined,
      );
    }
    return maps.get(url);
  };
  const parent = new Map<number, number>();
  const where = new Map<number, { area: string; name: string; source: string }>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    const entry = url === "" ? undefined : mapFor(url)?.findEntry(lineNumber, columnNumber);
    const original = entry !== undefined && "originalSource" in entry ? (entry as SourceMapping) : undefined;
    // Sources in a bundle's map are relative to it; report them relative to the repository.
    const absolute = original ? new URL(original.originalSource, url).href : url;
    const source = absolute.startsWith(root) ? absolute.slice(root.length) : absolute;
    const line = original ? original.originalLine + 1 : lineNumber + 1;
    where.set(node.id, {
      area: areaOf(source, functionName),
      name: functionName || "(anonymous)",
      source: source === "" ? "" : `${source}:${line}`,
    });
  }
  const stackAreas = new Map<number, Set<string>>();
  const areasOnStack = (id: number): Set<string> => {
    let areas = stackAreas.get(id);
    if (areas === undefined) {
      const up = parent.get(id);
      areas = new Set(up === undefined ? [] : areasOnStack(up));
      const frame = where.get(id);
      if (frame !== undefined && frame.name !== "(root)") areas.add(frame.area);
      stackAreas.set(id, areas);
    }
    return areas;
  };
  const self = new Map<string, number>();
  const fnSelf = new Map<string, { area: string; name: string; source: string; selfMs: number }>();
  const onStack = new Map<string, number>();
  let busyMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const frame = where.get(id);
    if (frame === undefined || frame.name === "(idle)") return;
    busyMs += ms;
    self.set(frame.area, (self.get(frame.area) ?? 0) + ms);
    const key = `${frame.name} ${frame.source}`;
    const fn = fnSelf.get(key) ?? { ...frame, selfMs: 0 };
    fn.selfMs += ms;
    fnSelf.set(key, fn);
    for (const area of areasOnStack(id)) onStack.set(area, (onStack.get(area) ?? 0) + ms);
  });
  return {
    busyMs,
    areas: [...onStack.keys()]
      .map((area) => ({ area, selfMs: self.get(area) ?? 0, onStackMs: onStack.get(area) ?? 0 }))
      .sort((a, b) => b.selfMs - a.selfMs),
    functions: [...fnSelf.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top),
  };
}

/**
 * Profiles the process whose inspector listens at `webSocketUrl` while `body` runs (V8's sampling
 * profiler, one sample every `intervalUs`), so start-up and warm-up stay out of the profile.
 */
export async function profileWindow(
  webSocketUrl: string,
  body: () => Promise<void>,
  intervalUs = 250,
): Promise<Profile> {
  const socket = new WebSocket(webSocketUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(`cannot open the inspector at ${webSocketUrl}`));
  });
  let nextId = 1;
  const pending = new Map<number, (result: unknown) => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  };
  const send = (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    await send("Profiler.enable");
    await send("Profiler.setSamplingInterval", { interval: intervalUs });
    await send("Profiler.start");
    await body();
    return ((await send("Profiler.stop")) as { profile: Profile }).profile;
  } finally {
    socket.close();
  }
}
