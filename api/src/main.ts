import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import pino from 'pino';
import { createApp } from './app';
import { ConfigError, parseConfig, withFileVariables, type ApiConfig } from './config';
import { ApiMetrics } from './ops/metrics';
import { RedisGateway, createRedisClients } from './redis/gateway';

/**
 * Entry point: `node build/api/src/main.js`. Reads the environment (one clear line and exit 1 if it is bad),
 * connects to Redis through Sentinel, serves HTTP; SIGTERM/SIGINT drain gracefully and exit 0.
 */
function loadConfigOrExit(): ApiConfig {
  try {
    return parseConfig(withFileVariables(process.env, (path) => readFileSync(path, 'utf8')));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`evergreen-api: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/**
 * JSON lines on stdout, buffered: a write(2) per 4 KiB of lines, at the latest every 250 ms, not one per line.
 * With a line per request, that write was a system call per request, among the costliest parts of a request
 * under load (docs/performance.md). pino flushes the buffer on exit and on an uncaught exception; SIGKILL or a
 * V8 abort lose what is buffered (at most 250 ms of lines).
 */
function createLogger(config: ApiConfig): pino.Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250 });
  return pino({ level: config.logLevel, base: { service: 'evergreen-api', pid: process.pid } }, destination);
}

function main(): void {
  const config = loadConfigOrExit();
  const logger = createLogger(config);
  const metrics = new ApiMetrics();
  const { master, writers, replica, watcher } = createRedisClients(config, logger);
  const redis = new RedisGateway(master, replica, metrics, logger, config, watcher, writers);
  redis.startProbe();
  let draining = false;
  const app = createApp({ config, redis, metrics, logger, draining: () => draining });
  // Express 5 also calls this back when listening failed (with the error, handled by 'error' below)
  const server: Server = app.listen(config.port, config.host, (err?: Error) => {
    if (err) return;
    logger.info({ host: config.host, port: config.port, sentinels: config.sentinels, masterName: config.masterName }, 'listening');
  });
  server.on('error', (err) => {
    logger.fatal({ err }, 'cannot listen');
    process.exit(1);
  });
  // Keep-alive sockets of a proxy must outlive its own idle timeout, or it sends onto closing sockets.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  const shutdown = (signal: string) => {
    if (draining) return;
    draining = true; // /readyz answers 503 from now on
    if (config.shutdownDelayMs > 0) {
      logger.info({ signal, delayMs: config.shutdownDelayMs }, 'stopping: still serving while the routers take this instance out');
      setTimeout(() => drain(signal), config.shutdownDelayMs);
    } else {
      drain(signal);
    }
  };
  const drain = (signal: string) => {
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'draining: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      logger.warn('drain timeout: closing remaining connections');
      server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    force.unref();
    // server.close() closes only the connections idle at that moment; keep-alive connections whose request
    // finishes later would hold the drain until the timeout, so close newly idle ones as they appear.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    sweep.unref();
    server.close(() => {
      clearTimeout(force);
      clearInterval(sweep);
      void redis.close().then(() => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main();
