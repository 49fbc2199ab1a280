import Redis from 'ioredis';
import type { LoopbackTopology } from '../../support/loopback';

/** Decoded JSON of a response: tests index into it freely and assert on the values. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** One HTTP exchange, JSON-decoded when the response is JSON. */
export interface Reply<T = Json> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export interface CallOptions {
  readonly body?: unknown;
  /** sent as-is instead of JSON.stringify(body) */
  readonly raw?: string;
  readonly headers?: Record<string, string>;
  /** @default true: send the topology's bearer token */
  readonly auth?: boolean;
  /** client-side bound: a request that has no answer by then fails the test (the API must never hang) @default 15000 */
  readonly timeoutMs?: number;
}

/** A small fetch-based client for one API base URL. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async call<T = Json>(method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.auth !== false) headers.Authorization = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (options.raw !== undefined) payload = options.raw;
    else if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: payload,
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const body = /json/.test(type) && text.length > 0 ? (JSON.parse(text) as T) : (text as T);
    return { status: res.status, headers: res.headers, body, text };
  }

  get<T = Json>(path: string, options?: CallOptions) {
    return this.call<T>('GET', path, options);
  }
  post<T = Json>(path: string, body: unknown, options?: CallOptions) {
    return this.call<T>('POST', path, { ...options, body });
  }
  patch<T = Json>(path: string, body: unknown, options?: CallOptions) {
    return this.call<T>('PATCH', path, { ...options, body });
  }
  delete<T = Json>(path: string, options?: CallOptions) {
    return this.call<T>('DELETE', path, options);
  }
}

export function clients(topology: LoopbackTopology): ApiClient[] {
  return topology.apiUrls.map((url) => new ApiClient(url, topology.apiToken));
}

/** A direct connection to the current master as the `admin` ACL user, to inspect what the API wrote. */
export async function adminRedis(topology: LoopbackTopology): Promise<Redis> {
  const master = await topology.currentMaster();
  const client = new Redis({
    host: master.host,
    port: master.port,
    username: 'admin',
    password: topology.secrets.redisPasswords.admin,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  await client.connect();
  return client;
}

/** Every key with its serialized value (DUMP) and whether it expires: equal snapshots ⇔ nothing was written. */
export async function snapshot(redis: Redis): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const dump = await redis.dumpBuffer(key);
      const ttl = await redis.pttl(key);
      out[key] = `${dump?.toString('hex') ?? 'gone'} ttl:${ttl > 0 ? 'yes' : String(ttl)}`;
    }
  } while (cursor !== '0');
  return out;
}

let counter = 0;
/** A unique email for this test run (mixed case, to exercise case-insensitive uniqueness). */
export function uniqueEmail(tag = 'user'): string {
  counter += 1;
  return `${tag}.${process.pid}.${Date.now()}.${counter}@Example.COM`;
}
