import { Channel, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";

/** A reference to a pooled channel. Release it exactly once when the client is done. */
export interface ChannelLease {
  readonly channel: Channel;
  /** Drops this reference; the channel closes when the last one goes. Calling it again does nothing. */
  release(): void;
}

interface PoolEntry {
  readonly channel: Channel;
  refs: number;
}

/**
 * One long-lived channel per (target, credentials, options), shared by every client of the
 * process. A channel is an HTTP/2 connection (or one per address under round_robin) with its own
 * keepalive, reconnect backoff and retry throttle; opening one per client or per call would pay a
 * TCP + HTTP/2 (+TLS) handshake per call and defeat load balancing and throttling.
 */
const pool = new Map<string, PoolEntry>();

/**
 * Credentials have no serializable identity, so each distinct value gets a number. grpc-js's
 * `_equals` makes two `createInsecure()` results (or two SSL credentials built from the same
 * certificates) count as the same credentials, so they share a channel.
 */
const knownCredentials: ChannelCredentials[] = [];

function credentialsId(credentials: ChannelCredentials): number {
  const index = knownCredentials.findIndex((known) => known === credentials || known._equals(credentials));
  if (index !== -1) return index;
  knownCredentials.push(credentials);
  return knownCredentials.length - 1;
}

function poolKey(target: string, credentials: ChannelCredentials, options: ChannelOptions): string {
  const sortedOptions = Object.keys(options)
    .sort()
    .map((key) => [key, options[key]]);
  return JSON.stringify([target, credentialsId(credentials), sortedOptions]);
}

/** Takes a reference to the pooled channel for these arguments, creating it on first use. */
export function acquireChannel(target: string, credentials: ChannelCredentials, options: ChannelOptions): ChannelLease {
  const key = poolKey(target, credentials, options);
  let entry = pool.get(key);
  if (entry === undefined) {
    entry = { channel: new Channel(target, credentials, options), refs: 0 };
    pool.set(key, entry);
  }
  entry.refs += 1;
  const leased = entry;
  let released = false;
  return {
    channel: leased.channel,
    release() {
      if (released) return;
      released = true;
      leased.refs -= 1;
      if (leased.refs === 0) {
        pool.delete(key);
        leased.channel.close();
      }
    },
  };
}

/** Number of open pooled channels (diagnostics and tests). */
export function pooledChannelCount(): number {
  return pool.size;
}
