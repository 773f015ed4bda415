// A child process whose output is kept line by line, so a system test can wait for a line
// (a readiness message, an exit report) instead of sleeping.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** How a {@link LoggedProcess} ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child started by {@link spawnLogged}. */
export interface LoggedProcess {
  readonly pid: number;
  /** Every stdout and stderr line so far, in arrival order. */
  readonly lines: readonly string[];
  /** Resolves with the first line (past or future) that matches; rejects on timeout or exit. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<Exit>;
  readonly hasExited: boolean;
  /** Sends `signal` if the process is still running. */
  kill(signal: NodeJS.Signals): void;
  /**
   * Sends `signal` to the child's whole process group, as a terminal's Ctrl-C does (every
   * process of the group at once, the grandchildren too); needs `detached: true`.
   */
  killGroup(signal: NodeJS.Signals): void;
  /** For cleanup: SIGKILL if still running, then wait for the exit. */
  stop(): Promise<Exit>;
}

/** Starts `command` with `args` (no shell), keeping its output. */
export function spawnLogged(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; detached?: boolean },
): LoggedProcess {
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
    // A process group of its own (its PID is the group's id), for killGroup.
    detached: options.detached ?? false,
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = child.pid;
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  const onLine = (line: string): void => {
    lines.push(line);
    for (const listener of listeners) listener(line);
  };
  if (child.stdout) createInterface({ input: child.stdout }).on("line", onLine);
  if (child.stderr) createInterface({ input: child.stderr }).on("line", onLine);
  const tail = () => lines.slice(-30).join("\n");

  return {
    pid,
    lines,
    waitForLine(pattern, timeoutMs) {
      for (const line of lines) {
        const match = line.match(pattern);
        if (match) return Promise.resolve(match);
      }
      return new Promise((resolve, reject) => {
        const done = (): void => {
          listeners.delete(listener);
          clearTimeout(timer);
        };
        const listener = (line: string): void => {
          const match = line.match(pattern);
          if (!match) return;
          done();
          resolve(match);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${tail()}`));
        }, timeoutMs);
        listeners.add(listener);
        void exited.then((e) => {
          if (!listeners.has(listener)) return;
          done();
          reject(new Error(`exited (${e.code ?? e.signal}) before a line matching ${pattern}; output:\n${tail()}`));
        });
      });
    },
    exited,
    get hasExited() {
      return exit !== undefined;
    },
    kill(signal) {
      if (exit === undefined) child.kill(signal);
    },
    killGroup(signal) {
      if (options.detached !== true) throw new Error("killGroup needs a child spawned with detached: true");
      try {
        process.kill(-pid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
      }
    },
    async stop() {
      if (exit === undefined) child.kill("SIGKILL");
      return exited;
    },
  };
}
