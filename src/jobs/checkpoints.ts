/**
 * Checkpoints of one job in Redis (a hash per job): `step:<id>` once a step has finished, `sub:<key>` for a
 * step's own finer checkpoints (e.g. per Host). A resumed job (stalled after a crash, `/flexvdi retry`)
 * skips finished steps and reuses their saved results — validated again with the step's output schema, as
 * everything read back from Redis is.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { parseJson } from '../core/json.js';
import type { Schema, SubCheckpoints } from '../core/plugin.js';

const TTL_S = 30 * 86_400;

export class Checkpoints implements SubCheckpoints {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly log: Logger,
  ) {}

  /** Saved step results by step id (raw JSON; the caller validates each with its step's schema). */
  async steps(): Promise<Map<string, unknown>> {
    const saved = await this.redis.hgetall(this.key);
    const out = new Map<string, unknown>();
    for (const [field, value] of Object.entries(saved)) {
      if (!field.startsWith('step:')) continue;
      out.set(field.slice(5), parseJson(value));
    }
    return out;
  }

  async saveStep(id: string, value: unknown): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key, `step:${id}`, JSON.stringify(value ?? null))
      .expire(this.key, TTL_S)
      .exec();
  }

  async get<T>(key: string, schema: Schema<T>): Promise<T | undefined> {
    const v = await this.redis.hget(this.key, `sub:${key}`);
    if (v === null) return undefined;
    const parsed = schema.safeParse(parseJson(v));
    // Not trusted, so not there: the (idempotent) work it stood for is done again.
    if (!parsed.success) {
      this.log.warn(
        { checkpoint: key, err: parsed.error.issues[0]?.message },
        'checkpoint does not validate; ignored',
      );
      return undefined;
    }
    return parsed.data;
  }

  async set<T>(key: string, schema: Schema<T>, value: T): Promise<void> {
    const checked = schema.parse(value);
    await this.redis
      .multi()
      .hset(this.key, `sub:${key}`, JSON.stringify(checked ?? null))
      .expire(this.key, TTL_S)
      .exec();
  }
}
