/**
 * Test helpers for data code (`@obfy/kit/db/testing`): a fresh PostgreSQL database per test
 * file, and SQL injection strings to send through every text field a client can set.
 * @packageDocumentation
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { redactDatabaseUrl } from "./config.js";

/** The server tests use when TEST_DATABASE_URL is unset: this machine's, with trust auth. */
export const DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** A database of one's own on the test server; see {@link createTestDatabase}. */
export interface TestDatabase {
  /** Its name on the server, `test_` and 12 random hex digits. */
  readonly name: string;
  /** Its URL, with the server URL's credentials. */
  readonly url: string;
  /** `{ DATABASE_URL: url }`, for `readDatabaseConfig` or a child process's environment. */
  readonly env: Readonly<Record<"DATABASE_URL", string>>;
  /** Drops it, ending any connection still open; safe to call more than once. */
  drop(): Promise<void>;
}

/** Options for {@link createTestDatabase}. */
export interface CreateTestDatabaseOptions {
  /** A URL of the server whose user may create databases; default TEST_DATABASE_URL, else {@link DEFAULT_TEST_DATABASE_URL}. */
  readonly serverUrl?: string;
  /** Drop it once the test file's process is done (default true); `drop()` also does it sooner. */
  readonly dropAfter?: boolean;
}

async function withAdmin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `No PostgreSQL for tests at ${redactDatabaseUrl(serverUrl)} (${(error as Error).message}). ` +
        "Run tests through scripts/run-tests.mjs (npm test), which starts an embedded PostgreSQL when none answers, " +
        "or set TEST_DATABASE_URL.",
      { cause: error },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Databases to drop when this process is done. */
const pendingDrops = new Set<() => Promise<void>>();

function dropAllBeforeExit(): void {
  // `beforeExit` rather than node:test's `after`: that one, called inside a hook or a test,
  // runs as soon as the hook or test ends. Once node:test is done with the file, the event
  // loop empties and this runs (a test that leaves a server or pool open hangs anyway).
  process.once("beforeExit", async () => {
    await Promise.allSettled([...pendingDrops].map((drop) => drop()));
  });
}

/**
 * Creates an empty database with a random name on the test server (TEST_DATABASE_URL, which
 * `scripts/run-tests.mjs` points at an embedded PostgreSQL when no server answers at the
 * default) and, unless `dropAfter: false`, drops it once the test file's process is done
 * (close your pools in `after` hooks). Each test file gets its own database, so files run in
 * parallel. Call it anywhere: at the top level, in a `before` hook or in a test.
 */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = options.serverUrl ?? process.env.TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL;
  const name = `test_${randomBytes(6).toString("hex")}`;
  // The name is ours and [a-z0-9_]: safe as an identifier without quoting rules.
  await withAdmin(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let dropping: Promise<void> | undefined;
  const drop = (): Promise<void> => {
    pendingDrops.delete(drop);
    dropping ??= withAdmin(serverUrl, async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    });
    return dropping;
  };
  if (options.dropAfter ?? true) {
    if (pendingDrops.size === 0) dropAllBeforeExit();
    pendingDrops.add(drop);
  }
  return { name, url: url.href, env: { DATABASE_URL: url.href }, drop };
}

/**
 * Strings that break code which builds SQL from text: quotes that end a literal, comments,
 * stacked statements, UNION and boolean tricks, time delays, LIKE wildcards, dollar quoting,
 * backslashes, placeholders, a NUL byte (PostgreSQL text cannot hold it), look-alike quotes,
 * control and bidirectional characters, and one very long string. A service whose every
 * query is parameterized stores and returns each exactly, or rejects it with
 * INVALID_ARGUMENT; it never answers INTERNAL, never runs what is inside, and its tables stay
 * as they were.
 */
export const INJECTION_STRINGS: readonly string[] = Object.freeze([
  "' OR '1'='1",
  "' OR 1=1 --",
  "' OR ''='",
  "') OR ('a'='a",
  "admin'--",
  "'; DROP TABLE users; --",
  '"; DROP TABLE users; --',
  "Robert'); DROP TABLE students;--",
  "1; SELECT pg_sleep(5) --",
  "' || pg_sleep(5) || '",
  "' UNION SELECT NULL, current_user, version() --",
  "' AND 1=CAST((SELECT current_user) AS int) --",
  "1' ORDER BY 1--",
  "x' AND (SELECT count(*) FROM pg_catalog.pg_tables) > 0 --",
  "'; COPY (SELECT '') TO PROGRAM 'touch /tmp/pwned'; --",
  "'; SET statement_timeout = 1; --",
  "$$; DROP TABLE users; $$",
  "$1",
  "E'\\x27' OR 1=1 --",
  "\\'; DROP TABLE users; --",
  "\\",
  "%",
  "_",
  "%' OR '%'='",
  "--",
  "/*",
  ";",
  "'",
  '"',
  "\0",
  "a\0'; DROP TABLE users; --",
  "\u02bc OR \u02bc1\u02bc=\u02bc1",
  "\uff07 OR \uff071\uff07=\uff071",
  "\u202e' OR 1=1 --",
  "\n'; DROP TABLE users; --\r\n",
  "😀'; DROP TABLE users; --",
  "'".repeat(10_000),
]);

/** One request of {@link injectionCases}: `sample` with the text at `path` replaced by `value`. */
export interface InjectionCase<T> {
  /** Where the string went, e.g. `title`, `author.name`, `tags[0]`. */
  readonly path: string;
  readonly value: string;
  readonly request: T;
}

type Json = unknown;

function textPaths(value: Json, path: string, out: string[]): string[] {
  if (typeof value === "string") {
    out.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => {
      textPaths(item, `${path}[${index}]`, out);
    });
  } else if (
    value !== null &&
    typeof value === "object" &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Date)
  ) {
    for (const [key, item] of Object.entries(value)) textPaths(item, path === "" ? key : `${path}.${key}`, out);
  }
  return out;
}

function replaced(value: Json, steps: readonly (string | number)[], text: string): Json {
  const [step, ...rest] = steps;
  if (step === undefined) return text;
  if (Array.isArray(value)) return value.map((item, index) => (index === step ? replaced(item, rest, text) : item));
  const object = value as Record<string, Json>;
  return { ...object, [step]: replaced(object[step as string], rest, text) };
}

function steps(path: string): (string | number)[] {
  return path
    .split(/\.|(?=\[)/)
    .map((part) => (part.startsWith("[") ? Number(part.slice(1, -1)) : part))
    .filter((part) => part !== "");
}

/**
 * Every text field of `sample` (each string value, in nested messages and arrays too) with
 * each of `strings` in turn, the other fields left as they are: `fields × strings` requests.
 * Give a sample whose every text field a client can set is present (a ts-proto
 * `fromPartial({...})` has them all; fill nested messages and one element of each repeated
 * field). Map keys are not reached: add those cases by hand.
 *
 * ```ts
 * for (const { path, value, request } of injectionCases(sampleCreateBookRequest)) {
 *   // call the service with `request`: it must store `value` exactly or answer INVALID_ARGUMENT
 * }
 * ```
 */
export function injectionCases<T>(sample: T, strings: readonly string[] = INJECTION_STRINGS): InjectionCase<T>[] {
  const paths = textPaths(sample, "", []);
  if (paths.length === 0) throw new Error("injectionCases: the sample has no text field");
  return paths.flatMap((path) =>
    strings.map((value) => ({ path, value, request: replaced(sample, steps(path), value) as T })),
  );
}
