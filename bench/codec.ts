/**
 * Codec benchmark: the cost of encoding and decoding the Recommend messages with the code we
 * generate (ts-proto) against protobuf-es v2 (reflection-based `toBinary` / `fromBinary`), plus the
 * cost of the copy ts-proto's grpc-js serializers make (`Buffer.from(X.encode(v).finish())`).
 *
 * protobuf-es code is generated at run time into a temporary folder under node_modules/.cache
 * (so its `@bufbuild/protobuf` import resolves) with the installed protoc-gen-es and `buf
 * generate`, and deleted afterwards: it is never committed.
 *
 * Run alone: `node --conditions=source --import tsx bench/codec.ts` (BENCH_QUICK=1 for a short run).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { create, type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import { recommendationsV1 } from "@obfy/protos";
import { type MicroOptions, measureSuite } from "./lib/micro.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** One row of the codec comparison. */
export interface CodecRow {
  readonly message: "RecommendRequest" | "RecommendResponse (3 books)";
  readonly codec: string;
  readonly operation: string;
  readonly opsPerSec: number;
  readonly nsPerOp: number;
}

/** Everything the codec benchmark measured. */
export interface CodecResult {
  readonly rows: readonly CodecRow[];
  /** Encoded sizes (bytes), identical for both codecs (checked). */
  readonly sizes: { readonly request: number; readonly response: number };
  /** Round trip (encode + decode) ns per message, by codec. */
  readonly roundTripNs: Readonly<Record<"tsProto" | "protobufEs", { request: number; response: number }>>;
  /** ns one `Buffer.from(u8)` copy adds over a zero-copy view, per message. */
  readonly copyNs: { readonly request: number; readonly response: number };
  readonly options: MicroOptions;
}

const ENCODE = "encode (message → bytes)";
const COPY = "encode + Buffer.from copy (generated grpc-js serializer)";
const VIEW = "encode + zero-copy Buffer view";
const DECODE = "decode (bytes → message)";
const CREATE_ENCODE = "create + encode";

interface ProtobufEsModule {
  readonly RecommendRequestSchema: DescMessage;
  readonly RecommendResponseSchema: DescMessage;
}

/** Generates protobuf-es v2 code for the v1 Recommendations proto into a temp dir and imports it. */
async function generateProtobufEs(): Promise<{ module: ProtobufEsModule; cleanup: () => void }> {
  const cacheDir = join(repoRoot, "node_modules", ".cache");
  mkdirSync(cacheDir, { recursive: true });
  const outDir = mkdtempSync(join(cacheDir, "obfy-bench-es-"));
  const cleanup = () => rmSync(outDir, { recursive: true, force: true });
  try {
    const template = JSON.stringify({
      version: "v2",
      plugins: [
        {
          local: join(repoRoot, "node_modules", ".bin", "protoc-gen-es"),
          out: ".",
          opt: ["target=js", "import_extension=js"],
        },
      ],
    });
    const result = spawnSync(
      "npx",
      [
        "--no-install",
        "buf",
        "generate",
        "protos",
        "--template",
        template,
        "--path",
        "protos/bookstore/recommendations/v1/recommendations.proto",
        "--output",
        outDir,
      ],
      { cwd: repoRoot, encoding: "utf8", timeout: 60_000 },
    );
    if (result.status !== 0) {
      throw new Error(`buf generate (protoc-gen-es) failed: ${result.stderr || result.error?.message}`);
    }
    const file = join(outDir, "bookstore", "recommendations", "v1", "recommendations_pb.js");
    const module = (await import(pathToFileURL(file).href)) as ProtobufEsModule;
    return { module, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

/** Runs the codec comparison. */
export async function runCodecBench(options: MicroOptions): Promise<CodecResult> {
  const { RecommendRequest, RecommendResponse, BookCategory } = recommendationsV1;
  const requestValue: recommendationsV1.RecommendRequest = {
    userId: 1,
    category: BookCategory.BOOK_CATEGORY_SCIENCE_FICTION,
    maxResults: 3,
  };
  const responseValue: recommendationsV1.RecommendResponse = {
    recommendations: [
      { id: 4, title: "The Hitchhiker's Guide to the Galaxy", category: BookCategory.BOOK_CATEGORY_SCIENCE_FICTION },
      { id: 5, title: "Ender's Game", category: BookCategory.BOOK_CATEGORY_SCIENCE_FICTION },
      { id: 6, title: "The Dune Chronicles", category: BookCategory.BOOK_CATEGORY_SCIENCE_FICTION },
    ],
  };
  const requestBytes = RecommendRequest.encode(requestValue).finish();
  const responseBytes = RecommendResponse.encode(responseValue).finish();

  const { module: es, cleanup } = await generateProtobufEs();
  try {
    // protobuf-es takes init objects typed by its own schema; ours are structurally the same.
    const requestInit: Record<string, unknown> = { ...requestValue };
    const responseInit: Record<string, unknown> = { ...responseValue };
    const esRequest = create(es.RecommendRequestSchema, requestInit);
    const esResponse = create(es.RecommendResponseSchema, responseInit);
    const esRequestBytes = toBinary(es.RecommendRequestSchema, esRequest);
    const esResponseBytes = toBinary(es.RecommendResponseSchema, esResponse);
    // Same wire bytes, or the comparison would be meaningless.
    if (Buffer.compare(Buffer.from(esRequestBytes), Buffer.from(requestBytes)) !== 0) {
      throw new Error("protobuf-es and ts-proto encode RecommendRequest differently");
    }
    if (Buffer.compare(Buffer.from(esResponseBytes), Buffer.from(responseBytes)) !== 0) {
      throw new Error("protobuf-es and ts-proto encode RecommendResponse differently");
    }

    const view = (u8: Uint8Array) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
    const requestBuffer = Buffer.from(requestBytes);
    const responseBuffer = Buffer.from(responseBytes);
    const req = "RecommendRequest" as const;
    const res = "RecommendResponse (3 books)" as const;
    const cases: { message: CodecRow["message"]; codec: string; operation: string; fn: () => unknown }[] = [
      { message: req, codec: "ts-proto", operation: ENCODE, fn: () => RecommendRequest.encode(requestValue).finish() },
      {
        message: req,
        codec: "ts-proto",
        operation: COPY,
        fn: () => Buffer.from(RecommendRequest.encode(requestValue).finish()),
      },
      {
        message: req,
        codec: "ts-proto",
        operation: VIEW,
        fn: () => view(RecommendRequest.encode(requestValue).finish()),
      },
      { message: req, codec: "ts-proto", operation: DECODE, fn: () => RecommendRequest.decode(requestBuffer) },
      {
        message: req,
        codec: "protobuf-es v2",
        operation: ENCODE,
        fn: () => toBinary(es.RecommendRequestSchema, esRequest),
      },
      {
        message: req,
        codec: "protobuf-es v2",
        operation: CREATE_ENCODE,
        fn: () => toBinary(es.RecommendRequestSchema, create(es.RecommendRequestSchema, requestInit)),
      },
      {
        message: req,
        codec: "protobuf-es v2",
        operation: DECODE,
        fn: () => fromBinary(es.RecommendRequestSchema, requestBuffer),
      },
      {
        message: res,
        codec: "ts-proto",
        operation: ENCODE,
        fn: () => RecommendResponse.encode(responseValue).finish(),
      },
      {
        message: res,
        codec: "ts-proto",
        operation: COPY,
        fn: () => Buffer.from(RecommendResponse.encode(responseValue).finish()),
      },
      {
        message: res,
        codec: "ts-proto",
        operation: VIEW,
        fn: () => view(RecommendResponse.encode(responseValue).finish()),
      },
      { message: res, codec: "ts-proto", operation: DECODE, fn: () => RecommendResponse.decode(responseBuffer) },
      {
        message: res,
        codec: "protobuf-es v2",
        operation: ENCODE,
        fn: () => toBinary(es.RecommendResponseSchema, esResponse),
      },
      {
        message: res,
        codec: "protobuf-es v2",
        operation: CREATE_ENCODE,
        fn: () => toBinary(es.RecommendResponseSchema, create(es.RecommendResponseSchema, responseInit)),
      },
      {
        message: res,
        codec: "protobuf-es v2",
        operation: DECODE,
        fn: () => fromBinary(es.RecommendResponseSchema, responseBuffer),
      },
    ];
    const measured = measureSuite(
      cases.map((c) => ({ name: `${c.codec} ${c.operation} ${c.message}`, fn: c.fn })),
      options,
    );
    const rows: CodecRow[] = cases.map((c, i) => ({
      message: c.message,
      codec: c.codec,
      operation: c.operation,
      opsPerSec: measured[i]?.opsPerSec ?? Number.NaN,
      nsPerOp: measured[i]?.nsPerOp ?? Number.NaN,
    }));
    const ns = (message: CodecRow["message"], codec: string, operation: string): number =>
      rows.find((r) => r.message === message && r.codec === codec && r.operation === operation)?.nsPerOp ?? Number.NaN;
    const tp = "ts-proto";
    const pe = "protobuf-es v2";

    return {
      rows,
      sizes: { request: requestBytes.byteLength, response: responseBytes.byteLength },
      roundTripNs: {
        tsProto: {
          request: ns(req, tp, ENCODE) + ns(req, tp, DECODE),
          response: ns(res, tp, ENCODE) + ns(res, tp, DECODE),
        },
        protobufEs: {
          request: ns(req, pe, ENCODE) + ns(req, pe, DECODE),
          response: ns(res, pe, ENCODE) + ns(res, pe, DECODE),
        },
      },
      copyNs: { request: ns(req, tp, COPY) - ns(req, tp, VIEW), response: ns(res, tp, COPY) - ns(res, tp, VIEW) },
      options,
    };
  } finally {
    cleanup();
  }
}

/** Renders a {@link CodecResult} as a Markdown table plus a summary line. */
export function codecMarkdown(result: CodecResult): string {
  const lines = [
    `Encoded sizes: RecommendRequest ${result.sizes.request} B, RecommendResponse ${result.sizes.response} B (identical bytes from both codecs). Median of ${result.options.rounds} rounds × ${result.options.roundMs} ms.`,
    "",
    "| message | codec | operation | ops/s | ns/op |",
    "| --- | --- | --- | ---: | ---: |",
    ...result.rows.map(
      (r) =>
        `| ${r.message} | ${r.codec} | ${r.operation} | ${Math.round(r.opsPerSec).toLocaleString("en-US")} | ${r.nsPerOp.toFixed(0)} |`,
    ),
    "",
    `Round trip (encode + decode): ts-proto ${result.roundTripNs.tsProto.request.toFixed(0)} ns request / ${result.roundTripNs.tsProto.response.toFixed(0)} ns response; ` +
      `protobuf-es ${result.roundTripNs.protobufEs.request.toFixed(0)} ns / ${result.roundTripNs.protobufEs.response.toFixed(0)} ns. ` +
      `Buffer.from copy adds ${result.copyNs.request.toFixed(0)} ns (request) / ${result.copyNs.response.toFixed(0)} ns (response) per message.`,
  ];
  return lines.join("\n");
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const quick = process.env.BENCH_QUICK === "1";
  const options: MicroOptions = process.env.BENCH_CODEC_OPTIONS
    ? (JSON.parse(process.env.BENCH_CODEC_OPTIONS) as MicroOptions)
    : quick
      ? { rounds: 3, roundMs: 100, warmupMs: 100 }
      : { rounds: 7, roundMs: 300, warmupMs: 300 };
  const result = await runCodecBench(options);
  // --json-event: one protocol line for the suite that runs this file as a child process.
  if (process.argv.includes("--json-event")) process.stdout.write(`${JSON.stringify({ event: "codec", result })}\n`);
  else process.stdout.write(`${codecMarkdown(result)}\n`);
}
