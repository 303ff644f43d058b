/**
 * The steps register-host and replace-host share after the Manager knows the Host: bring every registered
 * Host's key files in line with the cluster (key-files.ts), check Host→Host SSH both ways, and check that the
 * Manager lists the Host.
 *
 * Resumable: each Host's flexvdi key, once read, and each Host's "done for this exact set of keys" are
 * per-Host checkpoints. A run that is killed, or that fails on a Host that is down, is finished by the next
 * run (stalled-job recovery or `/flexvdi retry`) without touching the Hosts that are already done; a Host
 * whose files were written just before a crash is re-read and, already holding every key, left unchanged.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { InventoryHost } from '../../config.js';
import { incomplete } from '../../core/partial.js';
import type { StepContext } from '../../core/plugin.js';
import { mdSchema } from '../../core/text.js';
import { AppError, asAppError } from '../../errors.js';
import { hostStatuses } from '../../manager/index.js';
import { targetOf } from '../../services.js';
import { fanout } from '../../ssh/index.js';
import { hostIdOf } from './args.js';
import { RegistrationErrorCode } from './errors.js';
import {
  ensureAuthorizedKeysFile,
  type HostState,
  inspectHost,
  probeFrom,
  requireFlexvdiKey,
  requireNoSymlinks,
  SYSTEM_KNOWN_HOSTS,
} from './host-state.js';
import { type PublicKey, publicKeySchema } from './key-files.js';
import { describeDrift, driftOf, memberOf, productPins } from './members.js';
import { registeredHosts } from './registry-api.js';

/** What the mesh steps use of a step's context (whatever the command's args and pinned values). */
export type MeshContext = Pick<
  StepContext<unknown, unknown, unknown>,
  'services' | 'signal' | 'progress' | 'checkpoint' | 'jobId'
>;

const hostKeysOutcomeSchema = z.object({
  /** What was changed on the Host; absent when nothing was (or it was done earlier). */
  changes: mdSchema.optional(),
  /** Done by an earlier run of this job for the same set of keys: nothing was read or written now. */
  earlier: z.boolean(),
});
type HostKeysOutcome = z.output<typeof hostKeysOutcomeSchema>;

export const distributeResultSchema = z.object({
  members: z.array(z.string()),
  hosts: z.record(hostKeysOutcomeSchema),
});
export type DistributeResult = z.output<typeof distributeResultSchema>;

/** Hosts of the key exchange: the registered ones plus the `subjects` (in inventory order). */
async function membersWith(ctx: MeshContext, subjects: readonly InventoryHost[]): Promise<InventoryHost[]> {
  const reg = await registeredHosts(ctx.services, { signal: ctx.signal });
  const names = new Set([...reg.hosts.map((h) => h.name), ...subjects.map((h) => h.name)]);
  return ctx.services.config.inventory.hosts.filter((h) => names.has(h.name));
}

/** Brings every member's key files in line; `subjects`: the Hosts just registered (one, or --all's). */
export async function distributeKeys(
  ctx: MeshContext,
  subjects: readonly InventoryHost[],
): Promise<DistributeResult> {
  const { ssh } = ctx.services;
  const concurrency = ctx.services.config.inventory.ssh.concurrency;
  const hosts = await membersWith(ctx, subjects);
  const pins = await productPins(ctx.services.config, hosts);
  const states = new Map<string, HostState>();
  const failed = new Map<string, AppError>();
  const flexvdiKeys = new Map<string, PublicKey>();

  // 1. Every member's flexvdi public key (read once per job).
  const read = await fanout(
    hosts.map(targetOf),
    async (t, signal) => {
      const saved = await ctx.checkpoint.get(`flexvdi-key:${t.name}`, publicKeySchema);
      if (saved) return saved;
      ctx.progress.host(t.name, 'running', 'reading keys');
      const s = await inspectHost(ssh, t, signal);
      states.set(t.name, s);
      const key = requireFlexvdiKey(t.name, s).key;
      await ctx.checkpoint.set(`flexvdi-key:${t.name}`, publicKeySchema, key);
      return key;
    },
    { concurrency, signal: ctx.signal },
  );
  for (const r of read) {
    if (r.ok) flexvdiKeys.set(r.target.name, r.value);
    else failed.set(r.target.name, r.error);
  }
  const members = hosts.map((h) => memberOf(h, flexvdiKeys.get(h.name) ?? null, pins.get(h.name) ?? []));
  const digest = createHash('sha256').update(JSON.stringify(members)).digest('hex').slice(0, 32);

  // 2. Each member's files brought in line with all the keys known (lines for unreadable Hosts untouched).
  const outcome: Record<string, HostKeysOutcome> = {};
  const write = await fanout(
    hosts.filter((h) => !failed.has(h.name)).map(targetOf),
    async (t, signal): Promise<HostKeysOutcome> => {
      if ((await ctx.checkpoint.get(`keys:${t.name}`, z.string())) === digest) {
        ctx.progress.host(t.name, 'ok', 'keys in sync (earlier run)');
        return { earlier: true };
      }
      ctx.progress.host(t.name, 'running', 'updating keys');
      const s = states.get(t.name) ?? (await inspectHost(ssh, t, signal));
      requireFlexvdiKey(t.name, s);
      requireNoSymlinks(t.name, s);
      const d = driftOf(s, members);
      const opts = { backup: true, ...(signal ? { signal } : {}) };
      const ak = `${s.home}/.ssh/authorized_keys`;
      if (d.authorizedKeys.added + d.authorizedKeys.removed > 0) {
        if (s.authorizedKeys === null) await ensureAuthorizedKeysFile(ssh, t, s.home, signal);
        await ssh.writeFileAtomic(t, ak, d.authorizedKeys.text, opts);
      }
      if (d.knownHosts.added + d.knownHosts.removed > 0)
        await ssh.writeFileAtomic(t, SYSTEM_KNOWN_HOSTS, d.knownHosts.text, opts);
      if (d.userKnownHosts && d.userKnownHosts.removed > 0)
        await ssh.writeFileAtomic(t, `${s.home}/.ssh/known_hosts`, d.userKnownHosts.text, opts);
      await ctx.checkpoint.set(`keys:${t.name}`, z.string(), digest);
      if (d.inSync) {
        ctx.progress.host(t.name, 'ok', 'keys already in sync');
        return { earlier: false };
      }
      const changes = describeDrift(d);
      // Only our words and counts (nothing from a Host): its text reads the same as plain text.
      ctx.progress.host(t.name, 'ok', changes.plain());
      return { changes, earlier: false };
    },
    { concurrency, signal: ctx.signal },
  );
  for (const r of write) {
    if (r.ok) outcome[r.target.name] = r.value;
    else failed.set(r.target.name, r.error);
  }
  for (const [name, e] of failed) ctx.progress.host(name, 'failed', e.userMessage.slice(0, 120));
  if (failed.size)
    throw incomplete({ what: 'Updating the SSH keys', jobId: ctx.jobId, done: Object.keys(outcome), failed });
  return { members: hosts.map((h) => h.name), hosts: outcome };
}

/**
 * How many Hosts connect to the subject at once. sshd's MaxStartups (default 10:30:100) starts dropping
 * unauthenticated connections at random beyond 10 ("kex_exchange_identification: Connection reset"), so
 * the checks towards one Host stay below it whatever the configured fan-out.
 */
const INBOUND_CHECKS = 8;

export const verifyResultSchema = z.object({
  /** "from→to" for every connection checked, all successful. */
  checked: z.array(z.string()),
});
export type VerifyResult = z.output<typeof verifyResultSchema>;

/**
 * `ssh -o StrictHostKeyChecking=yes` as flexvdi from every other member to `subject`, and back; members
 * named in `except` are left out (--all: the pairs an earlier subject's check already covered).
 */
export async function verifyMesh(
  ctx: MeshContext,
  subject: InventoryHost,
  except: readonly string[] = [],
): Promise<VerifyResult> {
  const { ssh } = ctx.services;
  const others = (await membersWith(ctx, [subject])).filter(
    (h) => h.name !== subject.name && !except.includes(h.name),
  );
  const failed = new Map<string, AppError>();
  const checked: string[] = [];
  const problems: string[] = [];
  const to = [{ ip: subject.ip, port: subject.port }];
  const [inbound, outbound] = await Promise.all([
    fanout(others.map(targetOf), (t, signal) => probeFrom(ssh, t, to, signal), {
      concurrency: Math.min(INBOUND_CHECKS, ctx.services.config.inventory.ssh.concurrency),
      signal: ctx.signal,
    }),
    probeFrom(ssh, targetOf(subject), others, ctx.signal).then(
      (v) => ({ ok: true as const, value: v }),
      (err: unknown) => ({ ok: false as const, error: asAppError(err) }),
    ),
  ]);
  if (!outbound.ok) failed.set(subject.name, outbound.error);
  for (const [i, o] of others.entries()) {
    const inb = inbound[i]!;
    const out = outbound.ok ? outbound.value[i]! : undefined;
    const marks: string[] = [];
    if (!inb.ok) failed.set(o.name, inb.error);
    else if (inb.value[0]?.ok) {
      checked.push(`${o.name}→${subject.name}`);
      marks.push(`→ ${subject.name} ✓`);
    } else problems.push(`${o.name} → ${subject.name}: ${inb.value[0]?.error ?? 'failed'}`);
    if (out?.ok) {
      checked.push(`${subject.name}→${o.name}`);
      marks.push(`← ${subject.name} ✓`);
    } else if (out) problems.push(`${subject.name} → ${o.name}: ${out.error ?? 'failed'}`);
    const bad = !inb.ok || !inb.value[0]?.ok || !out?.ok;
    ctx.progress.host(o.name, bad ? 'failed' : 'ok', marks.join(' ') || 'SSH check failed');
  }
  ctx.progress.host(
    subject.name,
    failed.has(subject.name) || problems.length ? 'failed' : 'ok',
    'SSH checked',
  );
  for (const [n, e] of failed) problems.push(`${n}: ${e.userMessage}`);
  if (problems.length) {
    throw new AppError(
      RegistrationErrorCode.verifyFailed,
      `Host→Host SSH check failed: ${problems.join('; ')}`,
      {
        userMessage:
          `Host→Host SSH with strict host key checking failed: ${problems.slice(0, 8).join('; ')}` +
          `${problems.length > 8 ? ` (and ${problems.length - 8} more)` : ''}. ` +
          `After fixing it, \`/flexvdi retry ${ctx.jobId}\` checks again.`,
      },
    );
  }
  return { checked };
}

export const managerListingSchema = z.object({
  status: z.enum(hostStatuses),
  lastHeartbeat: z.string().nullable(),
});
export type ManagerListing = z.output<typeof managerListingSchema>;

/** The Manager must list the Host once it is registered. */
export async function checkListed(ctx: MeshContext, subject: InventoryHost): Promise<ManagerListing> {
  const found = (await ctx.services.manager.listHosts()).find(
    (h) => h.hostId.toLowerCase() === hostIdOf(subject),
  );
  if (!found) {
    throw new AppError(RegistrationErrorCode.notListed, `the Manager does not list ${hostIdOf(subject)}`, {
      userMessage: `The Manager accepted the registration of ${subject.fqdn} but does not list it. Check the Manager, then \`/flexvdi retry ${ctx.jobId}\`.`,
    });
  }
  return { status: found.status, lastHeartbeat: found.lastHeartbeat };
}
