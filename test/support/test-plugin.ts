/**
 * A plugin made for exercising the engine: its steps write a trace into Redis (the real one), so tests can
 * count exactly how many times each step ran, and can be told to be slow, fail, or fail N times first.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { defineCommand, definePlugin, type StepContext } from '../../src/core/plugin.js';
import { AppError } from '../../src/errors.js';

export const TRACE = 'trace';

function traceOf(extra: Readonly<Record<string, unknown>>): { redis: Redis; key: string } {
  return { redis: extra['redis'] as Redis, key: extra['traceKey'] as string };
}

const changeArgs = z
  .object({
    host: z.string().regex(/^[a-z0-9-]+$/, 'must be a host name'),
    slowMs: z.number().int().min(0).max(60_000).default(0),
    failStep: z.enum(['a', 'b', 'c']).optional(),
    failCode: z.string().default('test.boom'),
    failTimes: z.number().int().min(0).default(1000),
    progressBurst: z.number().int().min(0).max(500).default(0),
    refuse: z.boolean().default(false),
    noop: z.boolean().default(false),
  })
  .strict();

function step(id: 'a' | 'b' | 'c') {
  return {
    id,
    title: `Step ${id.toUpperCase()}`,
    run: async (ctx: StepContext<z.output<typeof changeArgs>>) => {
      const { redis, key } = traceOf(ctx.services.extra);
      await redis.rpush(key, `${ctx.jobId}:${id}:start`);
      if (id === 'b') {
        for (let i = 0; i < ctx.args.progressBurst; i++) ctx.progress.step(`burst ${i}`);
        const until = Date.now() + ctx.args.slowMs;
        while (Date.now() < until) {
          if (ctx.signal.aborted) {
            await redis.rpush(key, `${ctx.jobId}:${id}:aborted`);
            throw new AppError('job.cancelled', 'aborted');
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      if (ctx.args.failStep === id) {
        const n = await redis.incr(`${key}:fails:${ctx.jobId}:${id}`);
        if (n <= ctx.args.failTimes)
          throw new AppError(ctx.args.failCode, `step ${id} failed (${n})`, {
            userMessage: `Step ${id} failed on purpose (${n}).`,
          });
      }
      ctx.progress.host(ctx.args.host, 'ok', `step ${id}`);
      await redis.rpush(key, `${ctx.jobId}:${id}:done`);
      return { step: id, host: ctx.args.host };
    },
  };
}

export const changeCommand = defineCommand({
  id: 'test change',
  summary: 'Change a host (test)',
  examples: ['/flexvdi test change h1'],
  args: changeArgs,
  positionals: ['host'],
  mutates: true,
  access: 'admin',
  locks: (a) => [a.host],
  plan: async (ctx) => {
    const { redis, key } = traceOf(ctx.services.extra);
    await redis.rpush(key, `plan:${ctx.args.host}`);
    return {
      summary: `Change ${ctx.args.host} in three steps`,
      sections: [{ title: 'Steps', lines: ['A', 'B', 'C'] }],
      warnings: [],
      ...(ctx.args.refuse ? { refused: `${ctx.args.host} is not reachable` } : {}),
      ...(ctx.args.noop ? { noop: true } : {}),
      pinned: { fingerprint: `SHA256:pin-${ctx.args.host}` },
    };
  },
  steps: [step('a'), step('b'), step('c')],
  result: ({ results, pinned }) => ({
    summary: `changed (${Object.keys(results).join(',')}) with ${String(pinned['fingerprint'])}`,
    sections: [{ title: 'Per step', lines: Array.from({ length: 12 }, (_, i) => `line ${i + 1}: all good`) }],
  }),
});

export const probeCommand = defineCommand({
  id: 'test probe',
  summary: 'Read something (test)',
  examples: ['/flexvdi test probe'],
  args: z.object({ label: z.string().max(200).optional() }).strict(),
  positionals: ['label'],
  mutates: false,
  access: 'anyone',
  plan: () => ({ summary: 'probe', sections: [], warnings: [] }),
  steps: [
    {
      id: 'read',
      title: 'Read',
      run: async (ctx) => {
        const { redis, key } = traceOf(ctx.services.extra);
        await redis.rpush(key, `${ctx.jobId}:read:done`);
        return { label: ctx.args.label ?? null };
      },
    },
  ],
  result: ({ results }) => ({ summary: `probed ${JSON.stringify(results['read'])}`, sections: [] }),
});

export const testPlugin = definePlugin({ name: 'test', commands: [changeCommand, probeCommand] });
