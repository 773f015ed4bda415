import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createLogger, readServerConfig } from "@obfy/kit";
import { protosRoot, recommendationsV1 } from "@obfy/protos";

import { createRecommendationsServer } from "./app.js";
import { loadCatalog } from "./catalog.js";
import type { StandInBook } from "./fixtures/catalog-server.js";
import { eventually, startRecommendationsHarness } from "./fixtures/recommendations-harness.js";

const run = promisify(execFile);
// The Debian python3 has grpcio and grpcio-tools; the pyenv one on PATH does not.
const PYTHON = "/usr/bin/python3";
const CLIENT = fileURLToPath(new URL("../scripts/recommendations_client.py", import.meta.url));
// The tutorial's Flask marketplace, as the bench runs it (its homepage asks for three mystery books).
const TUTORIAL_DIR = fileURLToPath(new URL("../../../bench/fixtures/tutorial", import.meta.url));

interface CallResult {
  call: string;
  ok: boolean;
  recommendations?: { id: number; title: string; category?: string }[];
  code?: string;
  details?: string;
}

describe("Python grpcio client", () => {
  it("calls both APIs with stubs generated from our protos and gets the right results and status codes", async (t) => {
    const stubs = mkdtempSync(join(tmpdir(), "recommendations-py-"));
    t.after(() => rmSync(stubs, { recursive: true, force: true }));
    await run(PYTHON, [
      "-m",
      "grpc_tools.protoc",
      `-I${protosRoot}`,
      `--python_out=${stubs}`,
      `--grpc_python_out=${stubs}`,
      "legacy/recommendations.proto",
      "bookstore/recommendations/v1/recommendations.proto",
      // Its imports, as a Python user generates them too.
      "bookstore/auth/v1/auth.proto",
      "bookstore/common/v1/money.proto",
      "google/api/annotations.proto",
      "google/api/http.proto",
    ]);

    const server = createRecommendationsServer({
      catalog: loadCatalog(),
      logger: createLogger({ name: "python-interop-test", level: "silent" }),
      config: readServerConfig({ HOST: "127.0.0.1", PORT: "0", SHUTDOWN_GRACE_SECONDS: "1" }),
    });
    t.after(() => server.shutdown());
    const { port } = await server.listen();

    const calls = [
      "v1:BOOK_CATEGORY_SCIENCE_FICTION:3",
      "v1:BOOK_CATEGORY_MYSTERY:0",
      "v1:BOOK_CATEGORY_UNSPECIFIED:3",
      "v1:9:3",
      "v1:BOOK_CATEGORY_SELF_HELP:-1",
      "legacy:MYSTERY:1",
      "legacy:SELF_HELP:0",
      "legacy:7:1",
      "legacy:SCIENCE_FICTION:-2",
    ];
    const { stdout } = await run(PYTHON, [CLIENT, "--stubs", stubs, "--target", `127.0.0.1:${port}`, ...calls], {
      timeout: 60_000,
    });
    const results = new Map(
      stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as CallResult)
        .map((result) => [result.call, result]),
    );
    assert.equal(results.size, calls.length, stdout);
    const get = (call: string): CallResult => {
      const result = results.get(call);
      assert.ok(result, `no result for ${call}`);
      return result;
    };
    const ids = (call: string) => (get(call).recommendations ?? []).map((b) => b.id).sort((a, b) => a - b);

    assert.deepEqual(ids("v1:BOOK_CATEGORY_SCIENCE_FICTION:3"), [4, 5, 6]);
    for (const book of get("v1:BOOK_CATEGORY_SCIENCE_FICTION:3").recommendations ?? []) {
      assert.equal(book.category, "BOOK_CATEGORY_SCIENCE_FICTION");
    }
    assert.deepEqual(ids("v1:BOOK_CATEGORY_MYSTERY:0"), [1, 2, 3], "v1: 0 means the default, 3");
    assert.deepEqual(get("v1:BOOK_CATEGORY_UNSPECIFIED:3"), {
      call: "v1:BOOK_CATEGORY_UNSPECIFIED:3",
      ok: false,
      code: "INVALID_ARGUMENT",
      details:
        "category is required: set it to one of BOOK_CATEGORY_MYSTERY, BOOK_CATEGORY_SCIENCE_FICTION, BOOK_CATEGORY_SELF_HELP",
    });
    assert.deepEqual(get("v1:9:3"), { call: "v1:9:3", ok: false, code: "NOT_FOUND", details: "Category not found" });
    assert.deepEqual(get("v1:BOOK_CATEGORY_SELF_HELP:-1"), {
      call: "v1:BOOK_CATEGORY_SELF_HELP:-1",
      ok: false,
      code: "INVALID_ARGUMENT",
      details: "max_results must be >= 0, got -1",
    });

    const mystery = get("legacy:MYSTERY:1").recommendations ?? [];
    assert.equal(mystery.length, 1);
    assert.ok([1, 2, 3].includes(mystery[0]?.id ?? 0));
    assert.deepEqual(get("legacy:SELF_HELP:0"), { call: "legacy:SELF_HELP:0", ok: true, recommendations: [] });
    assert.deepEqual(get("legacy:7:1"), {
      call: "legacy:7:1",
      ok: false,
      code: "NOT_FOUND",
      details: "Category not found",
    });
    assert.deepEqual(get("legacy:SCIENCE_FICTION:-2"), {
      call: "legacy:SCIENCE_FICTION:-2",
      ok: false,
      code: "INVALID_ARGUMENT",
      details: "max_results must be >= 0, got -2",
    });
  });
});

/** The catalogue's books in the tutorial's categories: more than three each, ids the file does not have. */
const CATALOGUE: StandInBook[] = [
  ...["1", "2", "3", "10", "11"].map((bookId) => ({ bookId, title: `Mystery ${bookId}`, categoryIds: ["mystery"] })),
  ...["4", "5", "6", "12", "13"].map((bookId) => ({
    bookId,
    title: `Science fiction ${bookId}`,
    categoryIds: ["fiction", "science-fiction"],
  })),
  ...["7", "8", "9", "14"].map((bookId) => ({ bookId, title: `Self-help ${bookId}`, categoryIds: ["self-help"] })),
];

describe("the tutorial's Python client and Flask marketplace against the catalogue's books", () => {
  it("get three books of the category they ask for, from the read model", async (t) => {
    const stubs = mkdtempSync(join(tmpdir(), "recommendations-py-"));
    t.after(() => rmSync(stubs, { recursive: true, force: true }));
    const protoc = (out: string, include: string, files: string[]) =>
      run(PYTHON, [
        "-m",
        "grpc_tools.protoc",
        `-I${include}`,
        `--python_out=${out}`,
        `--grpc_python_out=${out}`,
        ...files,
      ]);
    await protoc(stubs, protosRoot, [
      "legacy/recommendations.proto",
      "bookstore/recommendations/v1/recommendations.proto",
      "bookstore/auth/v1/auth.proto",
      "bookstore/common/v1/money.proto",
      "google/api/annotations.proto",
      "google/api/http.proto",
    ]);
    // The Flask app imports the tutorial's stubs at top level, as the tutorial generates them.
    const flaskStubs = join(stubs, "flask");
    await run("mkdir", ["-p", flaskStubs]);
    await protoc(flaskStubs, join(protosRoot, "legacy"), ["recommendations.proto"]);

    const h = await startRecommendationsHarness({ books: CATALOGUE });
    t.after(() => h.stop());
    const v1 = h.v1();
    await eventually("the backfilled catalogue", async () => {
      const response = await v1.recommend({
        userId: 1,
        category: recommendationsV1.BookCategory.BOOK_CATEGORY_SELF_HELP,
        maxResults: 10,
      });
      return response.recommendations.length === 4 ? true : undefined;
    });
    const target = `127.0.0.1:${h.service.port}`;

    const calls = [
      "v1:BOOK_CATEGORY_SCIENCE_FICTION:3",
      "v1:BOOK_CATEGORY_MYSTERY:0",
      "legacy:MYSTERY:3",
      "legacy:SELF_HELP:3",
    ];
    const { stdout } = await run(PYTHON, [CLIENT, "--stubs", stubs, "--target", target, ...calls], { timeout: 60_000 });
    const results = new Map(
      stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as CallResult)
        .map((result) => [result.call, result]),
    );
    const expected: Record<string, string[]> = {
      "v1:BOOK_CATEGORY_SCIENCE_FICTION:3": ["4", "5", "6", "12", "13"],
      "v1:BOOK_CATEGORY_MYSTERY:0": ["1", "2", "3", "10", "11"],
      "legacy:MYSTERY:3": ["1", "2", "3", "10", "11"],
      "legacy:SELF_HELP:3": ["7", "8", "9", "14"],
    };
    for (const [call, allowed] of Object.entries(expected)) {
      const books = results.get(call)?.recommendations ?? [];
      assert.equal(books.length, 3, `${call}: ${stdout}`);
      assert.equal(new Set(books.map((b) => b.id)).size, 3, `${call}: distinct`);
      for (const book of books) {
        assert.ok(allowed.includes(String(book.id)), `${call}: ${book.id} is of the category`);
        assert.equal(book.title, CATALOGUE.find((b) => b.bookId === String(book.id))?.title, "the catalogue's title");
      }
    }
    for (const book of results.get("v1:BOOK_CATEGORY_SCIENCE_FICTION:3")?.recommendations ?? []) {
      assert.equal(book.category, "BOOK_CATEGORY_SCIENCE_FICTION");
    }

    // The Flask marketplace, started as the tutorial's image runs it.
    const port = await freePortForFlask();
    const flask = spawn(
      PYTHON,
      ["-m", "flask", "--app", "marketplace", "run", "--host", "127.0.0.1", "--port", String(port)],
      {
        cwd: TUTORIAL_DIR,
        env: {
          ...process.env,
          PYTHONPATH: flaskStubs,
          RECOMMENDATIONS_HOST: "127.0.0.1",
          RECOMMENDATIONS_PORT: String(h.service.port),
        },
        stdio: "ignore",
      },
    );
    t.after(() => {
      flask.kill("SIGTERM");
    });
    const page = await eventually(
      "the Flask homepage",
      async () => {
        const response = await fetch(`http://127.0.0.1:${port}/`);
        return response.status === 200 ? response.text() : undefined;
      },
      60_000,
    );
    const titles = [...page.matchAll(/<li>([^<]*)<\/li>/g)].map((m) => m[1]);
    assert.equal(titles.length, 3, page);
    assert.equal(new Set(titles).size, 3);
    for (const title of titles) assert.match(String(title), /^Mystery (1|2|3|10|11)$/);
  });
});

async function freePortForFlask(): Promise<number> {
  const server = createNetServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
