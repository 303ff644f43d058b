/**
 * `/flexvdi motd set <text>`: make <text> the message of the day on every registered Host.
 *
 * Plan = gather → decide → render: read every registered Host's /etc/motd (I/O), `decide` (pure, decide.ts:
 * refuse / no-op / the Hosts to change), render it with `md`. The plan pins the text and the target Hosts;
 * after Confirm the steps use exactly those. `write` writes each target atomically with a backup and records
 * a per-Host sub-checkpoint, so a resumed job (crash, automatic retry, `/flexvdi retry`) skips the Hosts
 * already done; `verify` reads every target back.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../../../src/config.js';
import { incomplete } from '../../../../src/core/partial.js';
import { findHost, type Plan, type StepContext } from '../../../../src/core/plugin.js';
import { md } from '../../../../src/core/text.js';
import { AppError } from '../../../../src/errors.js';
import { fanout } from '../../../../src/ssh/index.js';
import { decide, type MotdPin, motdPinSchema, motdTextSchema } from '../decide.js';
import { command, type MotdDeps, step } from '../define.js';
import { MotdErrorCode } from '../errors.js';
import { MOTD, motdFileOf, readMotd, readMotds, writeMotd, writtenSchema } from '../motd-file.js';
import { hostLine } from './show.js';

const args = z.object({ text: motdTextSchema }).strict();
type Args = z.output<typeof args>;
type Ctx = StepContext<Args, MotdPin, MotdDeps>;

/** The pinned Hosts, as inventory Hosts (a Host that left the inventory since the plan stops the job). */
function targetsOf(ctx: Ctx): InventoryHost[] {
  return ctx.pinned.targets.map((name) => {
    const h = findHost(ctx.services.config, name);
    if (!h)
      throw new AppError(MotdErrorCode.changedSincePlan, `${name} left the inventory after the plan`, {
        userMessage: `${name} is no longer in the inventory: run the command again for a fresh plan.`,
      });
    return h;
  });
}

/** Per-Host sub-checkpoint: this Host is written (and what the write did). */
const writtenKey = (h: InventoryHost) => `written:${h.name}`;

const write = step({
  id: 'write',
  title: `Write ${MOTD} on each target Host (backup kept)`,
  output: z.record(writtenSchema.extend({ earlier: z.boolean() })),
  run: async (ctx: Ctx) => {
    const { config, ssh } = ctx.services;
    const hosts = targetsOf(ctx);
    for (const h of hosts) ctx.progress.host(h.name, 'pending');
    const results = await fanout(
      hosts,
      async (h) => {
        const saved = await ctx.checkpoint.get(writtenKey(h), writtenSchema);
        if (saved) {
          ctx.progress.host(h.name, 'ok', 'written by an earlier attempt');
          return { ...saved, earlier: true };
        }
        ctx.progress.host(h.name, 'running', 'writing');
        const done = await writeMotd(ssh, h, ctx.pinned.text, ctx.signal);
        await ctx.checkpoint.set(writtenKey(h), writtenSchema, done);
        ctx.progress.host(h.name, 'ok', done.changed ? 'written' : 'already had it');
        return { ...done, earlier: false };
      },
      { concurrency: config.inventory.ssh.concurrency, signal: ctx.signal },
    );
    const out: Record<string, z.output<typeof writtenSchema> & { earlier: boolean }> = {};
    const failed = new Map<string, AppError>();
    for (const r of results) {
      if (r.ok) out[r.target.name] = r.value;
      else {
        failed.set(r.target.name, r.error);
        ctx.progress.host(r.target.name, 'failed', r.error.userMessage.slice(0, 200));
      }
    }
    // Some Hosts written, others not: the job ends "partly done" (the engine retries first when every
    // failure may go away by itself, e.g. `ssh.connect_failed`); `/flexvdi retry` writes only the rest.
    if (failed.size)
      throw incomplete({ what: `Writing ${MOTD}`, jobId: ctx.jobId, done: Object.keys(out), failed });
    return out;
  },
});

const verify = step({
  id: 'verify',
  title: `Read ${MOTD} back`,
  output: z.object({ hosts: z.array(z.string()) }),
  run: async (ctx: Ctx) => {
    const { ssh } = ctx.services;
    const want = motdFileOf(ctx.pinned.text);
    const hosts = targetsOf(ctx);
    const read = await Promise.all(hosts.map((h) => readMotd(ssh, h, ctx.signal)));
    const wrong = hosts.filter((_, i) => read[i] !== want).map((h) => h.name);
    if (wrong.length)
      throw new AppError(MotdErrorCode.verifyFailed, `motd differs after writing on ${wrong.join(', ')}`, {
        userMessage: `Reading ${MOTD} back on ${wrong.join(', ')} did not give the planned text (changed by someone else meanwhile?). Run the command again for a fresh plan.`,
      });
    return { hosts: hosts.map((h) => h.name) };
  },
});

export const motdSetCommand = command({
  id: 'motd set',
  summary: 'Set the message of the day (/etc/motd) on every registered Host',
  examples: ['/flexvdi motd set Maintenance on Sunday 02:00–04:00 UTC'],
  args,
  positionals: ['text'],
  restPositional: true,
  mutates: true,
  access: 'admin',
  pinned: motdPinSchema,
  // Locks are computed from the args and the inventory, before the pinned targets are known: every
  // inventory Host may be a target, so every one is locked (by its canonical id, whatever its spelling).
  locks: (_args, config) => config.inventory.hosts,
  plan: async (ctx): Promise<Plan<MotdPin>> => {
    // gather: which Hosts, and what each one's /etc/motd holds now
    const { config, ssh } = ctx.services;
    const reg = await ctx.deps.registration.registeredHosts({ fallback: 'inventory', signal: ctx.signal });
    const seen = await readMotds(
      { ssh, concurrency: config.inventory.ssh.concurrency },
      reg.hosts,
      ctx.signal,
    );
    // decide: pure
    const d = decide(ctx.args.text, seen);
    // render: every foreign string (the text, the files, errors) through md
    const what = md`Set the message of the day to “${ctx.args.text}”`;
    const hosts = { title: md`Now, on ${reg.note}`, lines: seen.map(hostLine) };
    if (d.kind === 'refuse')
      return { summary: what, sections: [hosts], warnings: [], refused: md`${d.reason}.` };
    if (d.kind === 'noop')
      return {
        summary: md`All ${seen.length} Host(s) already show “${ctx.args.text}”. Nothing to do.`,
        sections: [hosts],
        warnings: [],
        noop: true,
      };
    const changed = d.pinned.targets;
    const same = seen.map((s) => s.host).filter((h) => !changed.includes(h));
    return {
      summary: md`${what} on ${changed.length} Host(s): ${changed.join(', ')}`,
      sections: [
        hosts,
        {
          title: md`What changes`,
          lines: [
            md`• ${MOTD} becomes the one line “${ctx.args.text}” (written atomically; the old file is kept as \`${MOTD}.bak.${'<time>'}\`)`,
            ...(same.length ? [md`• Already showing it: ${same.join(', ')}`] : []),
          ],
        },
      ],
      warnings: [
        ...(reg.from === 'inventory' ? [md`Hosts come from ${reg.note}.`] : []),
        ...(d.unreachable.length
          ? [md`Unreachable now, tried when confirmed: ${d.unreachable.join(', ')}.`]
          : []),
      ],
      pinned: d.pinned,
    };
  },
  steps: [write, verify],
  result: (ctx) => {
    const written = ctx.result(write);
    const { text, targets } = ctx.pinned;
    return {
      summary: md`${targets.length} Host(s) now show “${text}”; ${MOTD} read back on each.`,
      sections: [
        {
          title: md`Per Host`,
          lines: targets.map((n) => {
            const w = written[n];
            const how = !w
              ? md`?`
              : w.earlier
                ? md`written by an earlier attempt`
                : !w.changed
                  ? md`already had it`
                  : w.backup
                    ? md`written; previous file kept as \`${w.backup}\``
                    : md`written (it had no ${MOTD})`;
            return md`• *${n}*: ${how}`;
          }),
        },
      ],
    };
  },
});
