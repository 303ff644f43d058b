/**
 * Redis connections. One URL (REDIS_URL) in three forms: redis://, rediss:// (TLS) and
 * redis+sentinel://host:port[,host:port…]/masterName[?db=N] for Sentinel. BullMQ workers need
 * `maxRetriesPerRequest: null` (blocking commands must wait across reconnects); the bot's connections fail
 * fast instead so a Slack user hears "Redis is unavailable" within Slack's 3 s rather than a hang.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { AppError, ErrorCode } from '../errors.js';

export type ConnectionRole = 'worker' | 'client';

export function redisOptionsFromUrl(url: string): RedisOptions {
  // Fix (core tests): the WHATWG URL parser rejects a host list ("s1:26379,s2:26380"), so every Sentinel URL
  // threw "Invalid URL". The list is taken out first and the rest (auth, master name, ?db) parsed as usual.
  const sentinel = /^redis\+sentinel:\/\/(?:([^@/?#]*)@)?([^/?#]*)(.*)$/.exec(url);
  const u = new URL(
    sentinel ? `redis+sentinel://${sentinel[1] ? `${sentinel[1]}@` : ''}sentinels${sentinel[3]}` : url,
  );
  const db = Number(
    u.searchParams.get('db') ??
      (u.pathname.length > 1 && u.protocol !== 'redis+sentinel:' ? u.pathname.slice(1) : 0),
  );
  const auth = {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
  if (u.protocol === 'redis+sentinel:') {
    const name = u.pathname.replace(/^\//, '') || 'mymaster';
    const sentinels = (sentinel?.[2] ?? '').split(',').map((hp) => {
      const [host, port] = hp.split(':');
      return { host: host ?? 'localhost', port: Number(port ?? 26379) };
    });
    return { sentinels, name, db, ...auth };
  }
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    db,
    ...auth,
    ...(u.protocol === 'rediss:' ? { tls: { servername: u.hostname } } : {}),
  };
}

export function createRedis(url: string, role: ConnectionRole, name = 'flexvdi'): Redis {
  const base = redisOptionsFromUrl(url);
  return new Redis({
    ...base,
    connectionName: `${name}-${role}`,
    ...(role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: false }
      : { maxRetriesPerRequest: 2, connectTimeout: 2000 }),
    retryStrategy: (times) => Math.min(200 * times, 2000),
    lazyConnect: false,
  });
}

/** Pings Redis with a deadline; a clear, coded error naming the URL (without its password) on failure. */
export async function assertRedisReachable(url: string, timeoutMs = 3000): Promise<void> {
  const r = new Redis({
    ...redisOptionsFromUrl(url),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  r.on('error', () => {});
  const safe = url.replace(/\/\/[^@/]*@/, '//***@');
  try {
    await Promise.race([
      r.connect().then(() => r.ping()),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs),
      ),
    ]);
  } catch (err) {
    throw new AppError(
      ErrorCode.redisUnavailable,
      `cannot reach Redis at ${safe}: ${(err as Error).message}. Start redis-server, fix REDIS_URL, or unset REDIS_URL to let flexvdi-chatops start a private Redis`,
    );
  } finally {
    r.disconnect();
  }
}

/**
 * True for the errors ioredis gives while Redis is unreachable (fail-fast client connections): handlers use it
 * to tell the Slack user "Redis is unavailable" instead of failing silently. Added with the core tests.
 */
export function isRedisUnavailableError(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string } | undefined;
  if (!e) return false;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (e.code === 'ECONNREFUSED' || e.code === 'ETIMEDOUT' || e.code === 'ECONNRESET') return true;
  return /Connection is closed|Stream isn't writeable|ECONNREFUSED/.test(e.message ?? '');
}
