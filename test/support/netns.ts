// Throw-away Linux network namespaces for system tests that need several "hosts" on one machine.
//
// Topology of a lab: one namespace holds a bridge (the "switch"); every host is a namespace with
// one veth whose other end is a port of that bridge; the root namespace gets one veth into the
// bridge too, so the test process itself can reach every host without `ip netns exec`. The subnet
// is a private /24 that no existing route overlaps, and no namespace has a default route, so
// traffic cannot leave the lab. Everything created is recorded and removed by destroy().
import { execFile } from "node:child_process";
import { mkdir, readdir, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Where `ip netns exec` looks for per-namespace files that it bind-mounts over `/etc/<file>`. */
const NETNS_ETC = "/etc/netns";

/** Runs `ip` with `args`; rejects with ip's own error text. */
async function ip(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run("ip", [...args], { timeout: 10_000 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(" ")} failed: ${(e.stderr ?? "").trim() || e.message}`, { cause: error });
  }
}

/**
 * Why this machine cannot run namespace tests, or `undefined` when it can: not Linux, not root,
 * no `ip` command, or the kernel/container refuses `ip netns add` (e.g. no CAP_SYS_ADMIN).
 */
export async function netnsUnavailableReason(): Promise<string | undefined> {
  if (process.platform !== "linux") return `network namespaces are Linux-only (platform is ${process.platform})`;
  const uid = process.getuid?.();
  if (uid !== 0) return `creating network namespaces needs root (uid is ${uid})`;
  try {
    await run("ip", ["-V"], { timeout: 5000 });
  } catch {
    return "the `ip` command (iproute2) is not installed";
  }
  const probe = `obfy-${process.pid}-probe`;
  try {
    await ip(["netns", "add", probe]);
  } catch (error) {
    return `\`ip netns add\` is not permitted here: ${(error as Error).message}`;
  }
  await ip(["netns", "del", probe]).catch(() => {});
  return undefined;
}

/** One host of a lab: a namespace with one address on the lab's subnet. */
export interface LabHost {
  /** Short name given to {@link createNetnsLab} (e.g. `r1`). */
  readonly name: string;
  /** The network namespace's name (unique per run, e.g. `obfy-1234-r1`). */
  readonly namespace: string;
  /** Its IPv4 address on the lab subnet. */
  readonly address: string;
}

/** A running lab; see {@link createNetnsLab}. */
export interface NetnsLab {
  /** The lab's subnet, e.g. `10.203.17.0/24`. */
  readonly subnet: string;
  /** The root namespace's own address on the subnet (where the test process's packets come from). */
  readonly rootAddress: string;
  /** The hosts, by short name. */
  readonly hosts: ReadonlyMap<string, LabHost>;
  /** The host called `name`; throws if there is none. */
  host(name: string): LabHost;
  /**
   * Writes `/etc/netns/<namespace>/hosts`, which `ip netns exec` bind-mounts over `/etc/hosts`
   * for processes it starts in that namespace (name resolution per "host", no DNS server).
   */
  writeHostsFile(name: string, content: string): Promise<void>;
  /** The argv prefix that runs a command inside host `name`: `["ip", "netns", "exec", namespace]`. */
  execPrefix(name: string): readonly [string, ...string[]];
  /** Takes a host off the network ("pulls its cable") or puts it back, without touching its processes. */
  setLink(name: string, up: boolean): Promise<void>;
  /**
   * Removes every namespace, veth, bridge and /etc/netns entry this lab created. Idempotent; never
   * throws (failures are returned as messages). Stop the lab's processes first: a namespace with
   * processes in it lives on, nameless, until they exit.
   */
  destroy(): Promise<string[]>;
}

/** Options of {@link createNetnsLab}. */
export interface NetnsLabOptions {
  /** Short host names (letters and digits, at most 4 characters): one namespace each. */
  readonly hosts: readonly string[];
  /** Name prefix, unique per run; default `obfy-<pid>`. */
  readonly prefix?: string;
}

/** Parses `a.b.c.d/len` into a 32-bit number and prefix length. */
function parseCidr(cidr: string): { base: number; length: number } | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(cidr);
  if (!match) return undefined;
  const [a, b, c, d] = [match[1], match[2], match[3], match[4]].map(Number) as [number, number, number, number];
  const length = match[5] === undefined ? 32 : Number(match[5]);
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return { base: ((((a << 24) | (b << 16) | (c << 8) | d) >>> 0) & mask) >>> 0, length };
}

function overlaps(x: { base: number; length: number }, y: { base: number; length: number }): boolean {
  const length = Math.min(x.length, y.length);
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return (x.base & mask) >>> 0 === (y.base & mask) >>> 0;
}

/**
 * Picks `10.203.<x>.0/24` that overlaps no route or address the machine already has (the default
 * route aside), so the lab can never shadow a real network. Starts from the pid to keep
 * concurrent runs apart.
 */
async function pickSubnet(): Promise<string> {
  const routes = (await ip(["-4", "route", "show", "table", "all"])).split("\n");
  const taken = routes
    .map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter(
      (prefix) =>
        prefix !== "" && prefix !== "default" && !prefix.startsWith("broadcast") && !prefix.startsWith("local"),
    )
    .map((prefix) => parseCidr(prefix))
    .filter((cidr): cidr is { base: number; length: number } => cidr !== undefined);
  // Local/broadcast entries of the local table name the address in the second column.
  for (const line of routes) {
    const [kind, address] = line.trim().split(/\s+/);
    if ((kind === "local" || kind === "broadcast") && address !== undefined) {
      const cidr = parseCidr(address);
      if (cidr) taken.push(cidr);
    }
  }
  for (let i = 0; i < 250; i++) {
    const x = ((process.pid + i) % 250) + 1;
    const subnet = `10.203.${x}.0/24`;
    const candidate = parseCidr(subnet);
    if (candidate && !taken.some((cidr) => overlaps(cidr, candidate))) return subnet;
  }
  throw new Error("no free 10.203.x.0/24 subnet for the lab: every one overlaps an existing route");
}

/**
 * Creates a lab: a bridge namespace, one namespace per host (`.10`, `.11`, … in host order) and
 * a veth from the root namespace (`.1`). Loopback is up everywhere. On any failure, whatever was
 * already created is removed before the error is thrown.
 */
export async function createNetnsLab(options: NetnsLabOptions): Promise<NetnsLab> {
  for (const name of options.hosts) {
    if (!/^[a-z0-9]{1,4}$/.test(name))
      throw new Error(`lab host names are 1-4 lowercase letters/digits, got "${name}"`);
  }
  const prefix = options.prefix ?? `obfy-${process.pid}`;
  const subnet = await pickSubnet();
  const net = subnet.slice(0, subnet.lastIndexOf("."));
  const bridgeNs = `${prefix}-net`;
  // Interface names are limited to 15 characters; the pid keeps concurrent runs apart.
  const rootVeth = `obfy${process.pid}h`.slice(0, 15);
  const createdNamespaces: string[] = [];
  const createdEtcDirs: string[] = [];
  let etcCreated = false;
  let destroyed: Promise<string[]> | undefined;

  const destroy = (): Promise<string[]> => {
    destroyed ??= (async () => {
      const problems: string[] = [];
      // The root end of the root veth disappears with its peer in the bridge namespace; deleting
      // it first anyway covers a half-built lab whose bridge namespace was never created.
      await ip(["link", "del", rootVeth]).catch(() => {});
      for (const ns of createdNamespaces.reverse()) {
        await ip(["netns", "del", ns]).catch((error: Error) => problems.push(error.message));
      }
      for (const dir of createdEtcDirs) {
        await rm(dir, { recursive: true, force: true }).catch((error: Error) => problems.push(error.message));
      }
      if (etcCreated) {
        // Only if empty: a concurrent run may have its own entries there.
        await readdir(NETNS_ETC)
          .then((left) => (left.length === 0 ? rmdir(NETNS_ETC) : undefined))
          .catch(() => {});
      }
      const leftovers = (await ip(["netns", "list"]).catch(() => ""))
        .split("\n")
        .filter((line) => line.startsWith(`${prefix}-`));
      if (leftovers.length > 0) problems.push(`namespaces left behind: ${leftovers.join(", ")}`);
      return problems;
    })();
    return destroyed;
  };

  const hosts = new Map<string, LabHost>();
  try {
    await ip(["netns", "add", bridgeNs]);
    createdNamespaces.push(bridgeNs);
    await ip(["-n", bridgeNs, "link", "set", "lo", "up"]);
    await ip(["-n", bridgeNs, "link", "add", "br0", "type", "bridge"]);
    await ip(["-n", bridgeNs, "link", "set", "br0", "up"]);

    // Root namespace → bridge.
    await ip(["link", "add", rootVeth, "type", "veth", "peer", "name", "root", "netns", bridgeNs]);
    await ip(["-n", bridgeNs, "link", "set", "root", "master", "br0", "up"]);
    const rootAddress = `${net}.1`;
    await ip(["addr", "add", `${rootAddress}/24`, "dev", rootVeth]);
    await ip(["link", "set", rootVeth, "up"]);

    let index = 10;
    for (const name of options.hosts) {
      const namespace = `${prefix}-${name}`;
      const address = `${net}.${index++}`;
      await ip(["netns", "add", namespace]);
      createdNamespaces.push(namespace);
      await ip(["-n", namespace, "link", "set", "lo", "up"]);
      await ip(["-n", bridgeNs, "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", namespace]);
      await ip(["-n", bridgeNs, "link", "set", name, "master", "br0", "up"]);
      await ip(["-n", namespace, "addr", "add", `${address}/24`, "dev", "eth0"]);
      await ip(["-n", namespace, "link", "set", "eth0", "up"]);
      hosts.set(name, { name, namespace, address });
    }

    const host = (name: string): LabHost => {
      const found = hosts.get(name);
      if (!found) throw new Error(`no lab host "${name}"`);
      return found;
    };
    return {
      subnet,
      rootAddress,
      hosts,
      host,
      async writeHostsFile(name, content) {
        const dir = join(NETNS_ETC, host(name).namespace);
        try {
          await mkdir(NETNS_ETC);
          etcCreated = true;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        }
        await mkdir(dir, { recursive: true });
        if (!createdEtcDirs.includes(dir)) createdEtcDirs.push(dir);
        await writeFile(join(dir, "hosts"), content);
      },
      execPrefix(name) {
        return ["ip", "netns", "exec", host(name).namespace];
      },
      async setLink(name, up) {
        await ip(["-n", bridgeNs, "link", "set", host(name).name, up ? "up" : "down"]);
      },
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
