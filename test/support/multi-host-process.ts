// A child process started by a system test, with its output kept line by line so the test can
// wait for a log line and count per-call log lines afterwards.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** How a {@link TestProcess} ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child process started by {@link startProcess}. */
export interface TestProcess {
  /** Label used in messages. */
  readonly label: string;
  /** The child's pid (with `ip netns exec`, the same process that then runs the command). */
  readonly pid: number;
  /** Every stdout and stderr line so far. */
  readonly lines: readonly string[];
  /** Lines that parse as JSON objects (the service's log records). */
  records(): Record<string, unknown>[];
  /** Resolves with the first record `match` accepts; rejects on timeout or if the process exits first. */
  waitForRecord(
    match: (record: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ProcessExit>;
  /** Whether it has exited. */
  readonly hasExited: boolean;
  /** Sends `signal` to this pid (only if it is still running). */
  kill(signal: NodeJS.Signals): void;
  /** SIGKILLs it if still running and waits for the exit. */
  stop(): Promise<ProcessExit>;
}

function parseRecord(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Starts `argv` with `env` in `cwd`, collecting its output. */
export function startProcess(
  label: string,
  argv: readonly [string, ...string[]],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): TestProcess {
  const [command, ...args] = argv;
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${label}: could not start ${command}`);
  const pid = child.pid;
  const lines: string[] = [];
  const parsed: Record<string, unknown>[] = [];
  const listeners = new Set<(record: Record<string, unknown>) => void>();
  let exitInfo: ProcessExit | undefined;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.once("error", () => {
      exitInfo = { code: null, signal: null };
      resolve(exitInfo);
    });
  });
  const onLine = (line: string): void => {
    lines.push(line);
    const record = parseRecord(line);
    if (record === undefined) return;
    parsed.push(record);
    for (const listener of listeners) listener(record);
  };
  if (child.stdout) createInterface({ input: child.stdout }).on("line", onLine);
  if (child.stderr) createInterface({ input: child.stderr }).on("line", onLine);

  const kill = (signal: NodeJS.Signals): void => {
    if (exitInfo === undefined) child.kill(signal);
  };

  return {
    label,
    pid,
    lines,
    records: () => [...parsed],
    waitForRecord(match, timeoutMs) {
      const already = parsed.find(match);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const done = (): void => {
          listeners.delete(listener);
          clearTimeout(timer);
        };
        const listener = (record: Record<string, unknown>): void => {
          if (!match(record)) return;
          done();
          resolve(record);
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `${label}: expected log line not seen within ${timeoutMs} ms; output:\n${lines.slice(-20).join("\n")}`,
            ),
          );
        }, timeoutMs);
        listeners.add(listener);
        void exited.then((exit) => {
          if (!listeners.has(listener)) return;
          done();
          reject(
            new Error(
              `${label} exited (${exit.code ?? exit.signal}) before the expected log line; output:\n${lines.slice(-20).join("\n")}`,
            ),
          );
        });
      });
    },
    exited,
    get hasExited() {
      return exitInfo !== undefined;
    },
    kill,
    async stop() {
      kill("SIGKILL");
      return exited;
    },
  };
}
