/**
 * One-shot Redis / Sentinel queries for readiness checks and test assertions: connect, authenticate,
 * run one command, disconnect. No retries and no offline queue, so a check fails fast and `waitFor`
 * decides whether to try again.
 */
import Redis from 'ioredis';

export interface RedisCredentials {
  readonly username: string;
  readonly password: string;
}

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
}

/** Runs one command on a Redis server or Sentinel and returns its reply. */
export async function redisCall(
  endpoint: RedisEndpoint,
  credentials: RedisCredentials | undefined,
  command: string,
  ...args: (string | number)[]
): Promise<unknown> {
  const client = new Redis({
    host: endpoint.host,
    port: endpoint.port,
    username: credentials?.username,
    password: credentials?.password,
    lazyConnect: true,
    connectTimeout: 1_000,
    // disconnect() waits this long for the socket to close before destroying it, with a timer that is
    // never cleared when the socket had already failed: keep it short so no timer outlives a probe.
    disconnectTimeout: 100,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // the failed call below reports it
  // One bound for connecting and the command together.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${command} on ${endpoint.host}:${endpoint.port} timed out after 2000 ms`)), 2_000);
  });
  try {
    return await Promise.race([client.connect().then(() => client.call(command, ...args)), timeout]);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** `INFO <section>` parsed into key → value. */
export async function redisInfo(
  endpoint: RedisEndpoint,
  credentials: RedisCredentials | undefined,
  section: string,
): Promise<Record<string, string>> {
  const text = String(await redisCall(endpoint, credentials, 'INFO', section));
  return parseInfo(text);
}

export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** A flat `[k1, v1, k2, v2, …]` reply (SENTINEL MASTER, SENTINEL REPLICAS entries) as a record. */
export function pairsToRecord(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

/**
 * The lines of a Sentinel log that tell how roles were decided (down flags, elections, promotions, reconfigured
 * replicas, monitored masters): what a failing failover test prints next to the Redis nodes' own logs.
 */
export function sentinelRoleEvents(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => /[+-](sdown|odown|try-failover|elected-leader|selected-slave|promoted-slave|failover-|switch-master|convert-to-slave|slave-reconf|monitor)|no-good-slave/.test(l));
}
