/**
 * nginx.conf for the gateway: the only public entry of the stack. Holds no secret.
 *
 * - Round-robin (or least-connections) over every API instance with upstream keep-alive; an idempotent request that fails on
 *   one instance (connection error, timeout, 502/504) is retried on the next; a POST or PATCH is only
 *   retried when it never reached an instance (nginx's default for non-idempotent methods).
 * - Per-client rate limit (429), 64 KiB body limit (413), upstream failure (503) and hidden internals
 *   (404) answered by nginx itself as application/problem+json, in the API's problem format.
 * - X-Request-Id: a sane incoming id is passed through, otherwise nginx's $request_id; the same id
 *   goes to the API, into the access log and back to the client.
 * - stub_status on a separate listener that only the nginx exporter may reach.
 * - Runs unprivileged: pid file and temp paths under `gateway.runDir`, logs to stdout/stderr, no `user`.
 */
import type { StackSpec } from '../model';

/** Base of the problem `type` URIs (the API's, api/src/errors.ts). */
export const PROBLEM_TYPE_BASE = 'https://evergreen-stores.example/problems/';

function problemJson(status: number, slug: string, title: string, detail: string): string {
  // nginx expands `$` in the string; the bodies hold none.
  return JSON.stringify({ type: PROBLEM_TYPE_BASE + slug, title, status, detail });
}

/** '64k' → '64 KiB' for people. */
export function humanSize(size: string): string {
  const m = /^(\d+)([kKmMgG]?)$/.exec(size);
  if (!m) return size;
  const unit = { '': ' bytes', k: ' KiB', m: ' MiB', g: ' GiB' }[(m[2] ?? '').toLowerCase()] ?? '';
  return `${m[1]}${unit}`;
}

function q(value: string): string {
  return `"${value}"`;
}

/**
 * Kubernetes: the one upstream is the API Service's address, behind which kube-proxy picks a pod for each new
 * connection. Listed `retries` times, it gives `proxy_next_upstream` that many "servers" to try: a retry is then a
 * connection of its own, which kube-proxy most likely sends to another pod (an idle keep-alive connection the retry
 * may take instead belongs to a pod that was alive when it was last used; a dead pod's are closed). max_fails=0:
 * nginx never takes the Service out — it is every instance at once; its endpoints leave out pods that fail.
 */
function kubernetesUpstream(upstreams: StackSpec['gateway']['upstreams'], retries: number): string[] {
  const [service] = upstreams;
  if (service === undefined || upstreams.length !== 1) throw new Error('a Kubernetes gateway has one upstream: the API Service');
  return Array.from({ length: Math.max(1, retries) }, () => `    server ${service.host}:${service.port} max_fails=0;`);
}

export function renderNginxConf(spec: StackSpec): string {
  const g = spec.gateway;
  const loopbackOnly = spec.target === 'loopback';
  const listen = loopbackOnly ? `127.0.0.1:${g.instance.port}` : String(g.instance.port);
  // Docker: the exporter is its own container; Kubernetes: a sidecar in the pod, so loopback is enough.
  const statusListen = spec.target === 'docker' ? String(g.status.port) : `127.0.0.1:${g.status.port}`;
  const upstreamServers =
    spec.target === 'kubernetes'
      ? kubernetesUpstream(g.upstreams, g.retries)
      : g.upstreams.map((u) => `    server ${u.host}:${u.port} max_fails=1 fail_timeout=5s;`);
  const tmp = (name: string) => q(`${g.tempDir}/${name}`);
  const problemLocation = (name: string, status: number, body: string, extra: string[] = []) => [
    `    location ${name} {`,
    '      internal;',
    '      default_type application/problem+json;',
    '      add_header X-Request-Id $evergreen_request_id always;',
    ...extra.map((line) => `      ${line}`),
    `      return ${status} '${body}';`,
    '    }',
  ];

  const lines = [
    `# nginx.conf of stack ${spec.name} (target ${spec.target}); rendered by config/render/nginx.ts. Holds no secret.`,
    `worker_processes ${g.workerProcesses};`,
    `pid ${q(g.pidFile)};`,
    'error_log stderr warn;',
    '',
    'events {',
    `  worker_connections ${g.workerConnections};`,
    '}',
    '',
    'http {',
    '  server_tokens off;',
    '  default_type application/octet-stream;',
    '  # Temp paths under the run directory, so nginx runs as any user with a writable run directory.',
    `  client_body_temp_path ${tmp('client_body')};`,
    `  proxy_temp_path ${tmp('proxy')};`,
    `  fastcgi_temp_path ${tmp('fastcgi')};`,
    `  uwsgi_temp_path ${tmp('uwsgi')};`,
    `  scgi_temp_path ${tmp('scgi')};`,
    '',
    '  # The request id: a sane incoming X-Request-Id (the API keeps the same ones: 1..128 printable ASCII)',
    "  # is passed through; otherwise nginx's own random $request_id.",
    '  map $http_x_request_id $evergreen_request_id {',
    '    "~^[!-~]{1,128}$" $http_x_request_id;',
    '    default $request_id;',
    '  }',
    '',
    "  log_format evergreen escape=json '{\"time\":\"$time_iso8601\",\"requestId\":\"$evergreen_request_id\",'",
    "    '\"remoteAddr\":\"$remote_addr\",\"method\":\"$request_method\",\"uri\":\"$request_uri\",\"status\":$status,'",
    "    '\"bytesSent\":$body_bytes_sent,\"requestTime\":$request_time,\"upstream\":\"$upstream_addr\",'",
    "    '\"upstreamStatus\":\"$upstream_status\",\"upstreamTime\":\"$upstream_response_time\"}';",
    '  # Buffered: one write per 4 KiB of lines (about ten) or 250 ms instead of one per request: each write to a',
    "  # container's log pipe wakes the runtime's log copier. 4 KiB is PIPE_BUF, the most a write to a pipe keeps",
    "  # whole, so the workers' lines never interleave. A graceful stop or reload flushes; SIGKILL loses ≤ 250 ms.",
    '  access_log /dev/stdout evergreen buffer=4k flush=250ms;',
    '',
    `  keepalive_timeout ${g.clientKeepaliveTimeout};`,
    '  # Bodies up to the limit stay in memory (and are kept for a retry on the other instance).',
    `  client_max_body_size ${g.clientMaxBodySize};`,
    `  client_body_buffer_size ${g.clientMaxBodySize};`,
    '',
    ...(g.trustedProxies.length > 0
      ? [
          '  # The client is the last X-Forwarded-For address that is not one of the proxies in front (gateway.trustedProxies),',
          '  # believed only on connections from them: the rate limit, the log and the API see clients, not the proxy.',
          ...g.trustedProxies.map((cidr) => `  set_real_ip_from ${cidr};`),
          '  real_ip_header X-Forwarded-For;',
          '  real_ip_recursive on;',
          '',
        ]
      : []),
    '  # Requests per client address; over the rate (plus burst) nginx answers 429 itself.',
    `  limit_req_zone $binary_remote_addr zone=evergreen_per_client:${g.rateLimit.zoneSize} rate=${g.rateLimit.rate};`,
    '  limit_req_status 429;',
    '  limit_req_log_level warn;',
    '',
    '  upstream evergreen_api {',
    ...(g.balancing === 'least-conn'
      ? ['    # To the instance with the fewest requests in flight (per worker; equals in turn): a slow one gets fewer.', '    least_conn;']
      : ['    # Round robin: each instance in turn.']),
    '    # An instance that fails (connection error or timeout) is skipped for 5 s. A 503 from',
    "    # the API (Redis failing over) does not count: it is the API's answer, and both instances give it.",
    ...upstreamServers,
    ...(g.upstreamKeepalive > 0
      ? [
          `    keepalive ${g.upstreamKeepalive};`,
          "    # Shorter than the API's 65 s keep-alive timeout (api/src/main.ts): nginx never reuses a connection the API closes.",
          '    keepalive_timeout 4s;',
        ]
      : ['    # upstreamKeepalive 0: a new connection per request.']),
    '  }',
    '',
    '  server {',
    `    listen ${listen};`,
    '',
    '    error_page 429 = @rate_limited;',
    '    error_page 413 = @too_large;',
    '    error_page 502 504 = @unavailable;',
    '',
    '    location / {',
    // nginx refuses `burst=0`; no burst is its default.
    `      limit_req zone=evergreen_per_client${g.rateLimit.burst > 0 ? ` burst=${g.rateLimit.burst} nodelay` : ''};`,
    '      proxy_pass http://evergreen_api;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '      proxy_set_header Host $host;',
    '      proxy_set_header X-Request-Id $evergreen_request_id;',
    '      proxy_set_header X-Forwarded-For $remote_addr;',
    '      proxy_set_header X-Forwarded-Proto $scheme;',
    "      # One X-Request-Id on every response, nginx's own answers included.",
    '      proxy_hide_header X-Request-Id;',
    '      add_header X-Request-Id $evergreen_request_id always;',
    `      proxy_connect_timeout ${g.connectTimeout};`,
    `      proxy_send_timeout ${g.sendTimeout};`,
    `      proxy_read_timeout ${g.readTimeout};`,
    '      # Retry on the next instance. Without `non_idempotent`, nginx retries a POST/PATCH only when it',
    '      # was never sent (connection refused): a purchase is never run twice by the gateway.',
    '      proxy_next_upstream error timeout http_502 http_504;',
    `      proxy_next_upstream_tries ${g.retries};`,
    `      proxy_next_upstream_timeout ${g.retryTimeout};`,
    '    }',
    '',
    '    # Internals of the API instances are not public: Prometheus scrapes /metrics of each instance',
    '    # directly, and readiness is for the orchestrator. Express matches case-insensitively and ignores',
    '    # a trailing slash, so this does too.',
    '    location ~* ^/(metrics|readyz)(/|$) {',
    '      default_type application/problem+json;',
    '      add_header X-Request-Id $evergreen_request_id always;',
    `      return 404 '${problemJson(404, 'not-found', 'Not found', 'No such resource.')}';`,
    '    }',
    '',
    ...problemLocation(
      '@rate_limited',
      429,
      problemJson(429, 'too-many-requests', 'Too many requests', 'Request rate limit exceeded; retry later.'),
      ['add_header Retry-After 1 always;'],
    ),
    ...problemLocation(
      '@too_large',
      413,
      problemJson(413, 'payload-too-large', 'Payload too large', `The request body exceeds ${humanSize(g.clientMaxBodySize)}.`),
    ),
    ...problemLocation(
      '@unavailable',
      503,
      problemJson(503, 'service-unavailable', 'Service unavailable', 'No API instance could answer; retry shortly.'),
      ['add_header Retry-After 1 always;'],
    ),
    '  }',
    '',
    '  # stub_status for the nginx exporter only, on its own listener.',
    '  server {',
    `    listen ${statusListen};`,
    '    access_log off;',
    '    location = /stub_status {',
    '      stub_status;',
    ...g.statusAllowFrom.map((a) => `      allow ${a};`),
    '      deny all;',
    '    }',
    '    location / {',
    '      return 404;',
    '    }',
    '  }',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}
