/**
 * A plugin made for exercising the engine: its steps write a trace into Redis (the real one), so tests can
 * count exactly how many times each step ran, and can be told to be slow, fail, or fail N times first.
 * `createTestPlugin({ redis, traceKey })`: the plugin closes over the trace connection it is given.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { incomplete } from '../../src/core/partial.js';
import {
  defineCommand,
  definePlugin,
  findHost,
  NO_PINS,
  type Plugin,
  type StepContext,
} from '../../src/core/plugin.js';
import { md } from '../../src/core/text.js';
import { AppError } from '../../src/errors.js';

export interface TestPluginOptions {
  redis: Redis;
  traceKey: string;
}

const changeArgs = z
  .object({
    host: z.string().regex(/^[a-z0-9.-]+$/, 'must be a host name, FQDN or IP'),
    slowMs: z.number().int().min(0).max(60_000).default(0),
    failStep: z.enum(['a', 'b', 'c']).optional(),
    failCode: z.string().default('test.boom'),
    failTimes: z.number().int().min(0).default(1000),
    progressBurst: z.number().int().min(0).max(500).default(0),
    /** Step b waits for the test's go (a Redis key), ignoring its abort signal, then writes a file on the host. */
    write: z.boolean().default(false),
    refuse: z.boolean().default(false),
    noop: z.boolean().default(false),
  })
  .strict();
type ChangeArgs = z.output<typeof changeArgs>;
const changePins = z.object({ fingerprint: z.string() });
type ChangePins = z.output<typeof changePins>;
const stepOutput = z.object({ step: z.enum(['a', 'b', 'c']), host: z.string() });
const probeArgs = z
  .object({
    label: z.string().max(200).optional(),
    slowMs: z.number().int().min(0).max(10_000).default(0),
    finding: z.boolean().default(false),
  })
  .strict();
type ProbeArgs = z.output<typeof probeArgs>;

export function createTestPlugin(o: TestPluginOptions): Plugin<undefined> {
  const { redis, traceKey: key } = o;
  function step(id: 'a' | 'b' | 'c') {
    return {
      id,
      title: `Step ${id.toUpperCase()}`,
      output: stepOutput,
      run: async (ctx: StepContext<ChangeArgs, ChangePins, object>) => {
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
        if (id === 'b' && ctx.args.write) {
          const go = `${key}:go:${ctx.jobId}`;
          while (!(await redis.exists(go))) await new Promise((r) => setTimeout(r, 20));
          await redis.del(go);
          const t = { name: ctx.args.host, host: '127.0.0.1', port: 22 };
          await ctx.services.ssh.writeFileAtomic(t, '/etc/flexvdi-test', `written by ${ctx.jobId}`);
          await redis.rpush(key, `${ctx.jobId}:${id}:wrote`);
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
  const [a, b, c] = [step('a'), step('b'), step('c')];

  const changeCommand = defineCommand({
    id: 'test change',
    summary: 'Change a host (test)',
    examples: ['/flexvdi test change h1'],
    args: changeArgs,
    positionals: ['host'],
    mutates: true,
    access: 'admin',
    pinned: changePins,
    // An inventory Host is locked as itself (name, FQDN or IP: one lock); other test hosts by their name.
    locks: (args, config) => [findHost(config, args.host) ?? `host:${args.host}`],
    plan: async (ctx) => {
      await redis.rpush(key, `plan:${ctx.args.host}`);
      return {
        summary: md`Change ${ctx.args.host} in three steps`,
        sections: [{ title: md`Steps`, lines: [md`A`, md`B`, md`C`] }],
        warnings: [],
        ...(ctx.args.refuse ? { refused: md`${ctx.args.host} is not reachable` } : {}),
        ...(ctx.args.noop ? { noop: true } : {}),
        pinned: { fingerprint: `SHA256:pin-${ctx.args.host}` },
      };
    },
    steps: [a, b, c],
    result: (ctx) => ({
      summary: md`changed (${[a, b, c].map((s) => ctx.result(s).step).join(',')}) with ${ctx.pinned.fingerprint}`,
      sections: [
        { title: md`Per step`, lines: Array.from({ length: 12 }, (_, i) => md`line ${i + 1}: all good`) },
      ],
    }),
  });

  const read = {
    id: 'read',
    title: 'Read',
    output: z.object({ label: z.string().nullable() }),
    run: async (ctx: StepContext<ProbeArgs, null, object>) => {
      // A slow read shows progress on the way (several updates before and after the first post).
      for (let waited = 0; waited < ctx.args.slowMs; waited += 100) {
        ctx.progress.host(`p${Math.floor(waited / 100)}`, 'ok');
        await new Promise((r) => setTimeout(r, 100));
      }
      if (ctx.args.finding) ctx.finding('the <!channel> thing could not be read');
      if (ctx.args.label !== undefined) await redis.rpush(key, `${ctx.jobId}:label:${ctx.args.label}`);
      await redis.rpush(key, `${ctx.jobId}:read:done`);
      return { label: ctx.args.label ?? null };
    },
  };
  const probeCommand = defineCommand({
    id: 'test probe',
    summary: 'Read something (test)',
    examples: ['/flexvdi test probe'],
    args: probeArgs,
    positionals: ['label'],
    mutates: false,
    access: 'anyone',
    pinned: NO_PINS,
    plan: () => ({ summary: md`probe`, sections: [], warnings: [] }),
    steps: [read],
    result: (ctx) => ({
      summary: md`probed ${JSON.stringify({ label: ctx.result(read).label })}`,
      sections: [],
      outcome: ctx.args.finding ? 'findings' : 'completed',
    }),
  });

  // A fan-out over named "Hosts" with per-Host checkpoints; the Hosts in --fail fail the first time.
  const fanoutArgs = z
    .object({
      hosts: z.string().regex(/^[a-z0-9]+(,[a-z0-9]+)*$/),
      fail: z.string().default(''),
      failCode: z.string().default('test.host_broken'),
    })
    .strict();
  const doneSchema = z.literal(true);
  const each = {
    id: 'each',
    title: 'Each Host',
    output: z.object({ hosts: z.array(z.string()) }),
    run: async (ctx: StepContext<z.output<typeof fanoutArgs>, ChangePins, object>) => {
      const hosts = ctx.args.hosts.split(',');
      const failing = new Set(ctx.args.fail.split(',').filter(Boolean));
      const done: string[] = [];
      const failed = new Map<string, AppError>();
      for (const h of hosts) {
        if (await ctx.checkpoint.get(`done:${h}`, doneSchema)) {
          done.push(h);
          continue;
        }
        await redis.rpush(key, `${ctx.jobId}:each:${h}`);
        if (failing.has(h) && (await redis.incr(`${key}:fails:${ctx.jobId}:${h}`)) === 1) {
          failed.set(
            h,
            new AppError(ctx.args.failCode, `${h} broke`, { userMessage: `${h} broke on purpose` }),
          );
          ctx.progress.host(h, 'failed', 'broke on purpose');
          continue;
        }
        await ctx.checkpoint.set(`done:${h}`, doneSchema, true);
        ctx.progress.host(h, 'ok');
        done.push(h);
      }
      if (failed.size) throw incomplete({ what: 'Touching the Hosts', jobId: ctx.jobId, done, failed });
      return { hosts: done };
    },
  };
  const after = {
    id: 'after',
    title: 'After',
    output: z.null(),
    run: async (ctx: StepContext<z.output<typeof fanoutArgs>, ChangePins, object>) => {
      await redis.rpush(key, `${ctx.jobId}:after`);
      return null;
    },
  };
  const fanoutCommand = defineCommand({
    id: 'test fanout',
    summary: 'Touch several hosts (test)',
    examples: ['/flexvdi test fanout --hosts a,b,c --fail b'],
    args: fanoutArgs,
    positionals: [],
    mutates: true,
    access: 'admin',
    pinned: changePins,
    plan: (ctx) => ({
      summary: md`Touch ${ctx.args.hosts}`,
      sections: [],
      warnings: [],
      pinned: { fingerprint: 'SHA256:fanout' },
    }),
    steps: [each, after],
    result: (ctx) => ({ summary: md`touched ${ctx.result(each).hosts.join(',')}`, sections: [] }),
  });

  return definePlugin({
    name: 'test',
    deps: () => ({}),
    commands: [changeCommand, probeCommand, fanoutCommand],
  });
}
