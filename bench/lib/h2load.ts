/**
 * h2load (nghttp2) as a raw gRPC load generator: it replays one pre-encoded gRPC request (the
 * 5-byte length-prefixed frame of a RecommendRequest) as fast as HTTP/2 allows. It does no
 * protobuf work and no per-call JavaScript, so it finds the server's ceiling rather than the
 * client's. It cannot read gRPC trailers: a sanity call with node:http2 checks the same bytes
 * get `grpc-status: 0` first.
 */
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect } from "node:http2";
import { join } from "node:path";

/** True when the `h2load` binary runs. */
export function h2loadAvailable(): boolean {
  const probe = spawnSync("h2load", ["--version"], { stdio: "ignore" });
  return probe.error === undefined && probe.status === 0;
}

/** A gRPC length-prefixed message: compressed flag 0, 4-byte big-endian length, the bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.byteLength);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}

/** Writes `frame` to `dir/name` and returns the path (h2load reads the body from a file). */
export function writeFrameFile(dir: string, name: string, frame: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, frame);
  return path;
}

/** Sends `frame` once to `path` with node:http2 and returns the `grpc-status` trailer (or header, for trailers-only answers). */
export async function grpcStatusOf(port: number, path: string, frame: Buffer): Promise<string | undefined> {
  const session = connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise<string | undefined>((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
      });
      let status: string | undefined;
      stream.on("response", (headers) => {
        const value = headers["grpc-status"];
        if (typeof value === "string") status = value;
      });
      stream.on("trailers", (trailers) => {
        const value = trailers["grpc-status"];
        if (typeof value === "string") status = value;
      });
      stream.on("data", () => {});
      stream.on("end", () => resolve(status));
      stream.on("error", reject);
      stream.setTimeout(5000, () => stream.close());
      stream.end(frame);
    });
  } finally {
    session.close();
  }
}

/** Options for {@link runH2load}. */
export interface H2loadOptions {
  readonly port: number;
  readonly path: string;
  readonly bodyFile: string;
  /** Connections. */
  readonly clients: number;
  /** Concurrent streams per connection. */
  readonly streams: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  /** Command prefix (core pinning). */
  readonly prefix: readonly string[];
}

/** What h2load reported. */
export interface H2loadResult {
  readonly requestsPerSec: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  /** Mean time per request, ms, as h2load reports it (it gives no percentiles). */
  readonly meanMs: number | undefined;
  readonly raw: string;
}

/** Runs h2load for `warmupSeconds + durationSeconds` (killed after twice that plus 10 s at most). */
export async function runH2load(options: H2loadOptions): Promise<H2loadResult> {
  const args = [
    ...options.prefix,
    "h2load",
    "-c",
    String(options.clients),
    "-m",
    String(options.streams),
    "-t",
    "1",
    "-D",
    String(options.durationSeconds),
    // h2load takes whole seconds only.
    `--warm-up-time=${Math.max(1, Math.round(options.warmupSeconds))}`,
    "-d",
    options.bodyFile,
    "-H",
    "content-type: application/grpc",
    "-H",
    "te: trailers",
    `http://127.0.0.1:${options.port}${options.path}`,
  ];
  const child = spawn(args[0] as string, args.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const limitMs = (Math.max(1, options.warmupSeconds) + options.durationSeconds) * 2000 + 10_000;
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  await new Promise((resolve) => child.once("exit", resolve));
  clearTimeout(timer);
  const rps = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
  const requests = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(out);
  if (!rps || !requests) throw new Error(`cannot read h2load output:\n${out.slice(-2000)}`);
  return {
    requestsPerSec: Number(rps[1]),
    succeeded: Number(requests[1]),
    failed: Number(requests[2]),
    errored: Number(requests[3]),
    meanMs: mean ? parseDuration(mean[1] as string) : undefined,
    raw: out,
  };
}

function parseDuration(text: string): number | undefined {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]);
  return match[2] === "us" ? value / 1000 : match[2] === "s" ? value * 1000 : value;
}
