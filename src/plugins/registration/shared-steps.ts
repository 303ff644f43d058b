/**
 * What register-host and replace-host share once the plan is confirmed: the subject Host from the job's
 * args, the values the plan pins (the host key the operator saw), the locks, the steps after the key is
 * pinned (register with the Manager, update the SSH keys everywhere, check Host↔Host SSH, check the Manager
 * lists the Host) and the per-Host lines of the result.
 */
import { z } from 'zod';
import type { Config, InventoryHost } from '../../config.js';
import {
  findHost,
  type NoDeps,
  type PluginServices,
  type ResultContext,
  type Section,
  type Step,
  type StepContext,
} from '../../core/plugin.js';
import { md } from '../../core/text.js';
import { AppError, ErrorCode } from '../../errors.js';
import { targetOf } from '../../services.js';
import type { HostKeyProbe } from '../../ssh/index.js';
import { hostIdOf, resolveHost } from './args.js';
import { RegistrationErrorCode } from './errors.js';
import { inspectHost, requireFlexvdiKey } from './host-state.js';
import { fingerprintOf, keyId, type PublicKey, publicKeySchema, sameKey } from './key-files.js';
import {
  checkListed,
  type DistributeResult,
  distributeKeys,
  distributeResultSchema,
  managerListingSchema,
  type VerifyResult,
  verifyMesh,
  verifyResultSchema,
} from './mesh.js';

/** The arguments both commands name their subject Host with. */
export interface SubjectArgs {
  host: string;
  ip?: string | undefined;
}

/** What both plans pin: the host key the operator confirmed. */
export const subjectPinnedSchema = z.object({ hostKey: publicKeySchema });
export type SubjectPinned = z.output<typeof subjectPinnedSchema>;

/** A step of either command (its result type from `output`). */
export const subjectStep = <O>(
  s: Step<SubjectArgs, SubjectPinned, NoDeps, O>,
): Step<SubjectArgs, SubjectPinned, NoDeps, O> => s;

/** Every registered Host's key files change: one registration or replacement at a time, and the Host itself. */
function subjectLocks(a: SubjectArgs, config: Config): (InventoryHost | string)[] {
  const h = findHost(config, a.host);
  return h ? [h, 'registration'] : ['registration'];
}

/** The spec fields both commands share: admin only, mutating, `<host> [<ip>]`, locked as above. */
export const subjectCommand = {
  positionals: ['host', 'ip'],
  mutates: true,
  access: 'admin',
  locks: subjectLocks,
} as const;

/** The inventory Host the job names (resolved again: the args come back from Redis). */
function subjectOf(ctx: { readonly args: SubjectArgs; readonly services: PluginServices }): InventoryHost {
  const r = resolveHost(ctx.services.config, ctx.args.host, ctx.args.ip);
  if (!r.ok) throw new AppError(ErrorCode.inventoryUnknownHost, r.reason, { userMessage: r.reason });
  return r.host;
}

/** The names a Host's key is pinned under in the product's known_hosts. */
export const pinNamesOf = (h: InventoryHost): string[] => [h.ip, h.fqdn.toLowerCase(), h.name.toLowerCase()];

/** The key the Host presents now must be the one the operator confirmed. */
export function checkUnchanged(h: InventoryHost, probe: HostKeyProbe, key: PublicKey): void {
  const now = { keyType: probe.keyType, keyBase64: probe.keyBase64 };
  if (sameKey(now, key)) return;
  throw new AppError(
    RegistrationErrorCode.hostkeyChanged,
    `host key of ${h.name} changed since the plan: ${probe.fingerprint}, confirmed ${fingerprintOf(key)}`,
    {
      userMessage:
        `The SSH host key of ${h.name} (${h.ip}) changed between the plan and now: it presents ${probe.fingerprint}, ` +
        `the plan showed ${fingerprintOf(key)}. Nothing was pinned. Find out why, then run the command again.`,
    },
  );
}

/** The subject, the key the plan pinned, and the Host's key now (checked to be that one). */
export async function probeUnchanged(
  ctx: StepContext<SubjectArgs, SubjectPinned, NoDeps>,
): Promise<{ h: InventoryHost; key: PublicKey; probe: HostKeyProbe }> {
  const h = subjectOf(ctx);
  const key = ctx.pinned.hostKey;
  const probe = await ctx.services.ssh.probeHostKey(targetOf(h), { signal: ctx.signal });
  checkUnchanged(h, probe, key);
  return { h, key, probe };
}

export const registrationSchema = z.object({
  hostId: z.string(),
  flexvdiKey: z.string(),
  hostKey: z.string(),
});
export type Registration = z.output<typeof registrationSchema>;

/**
 * `POST /authenticate` (the password comes from the inventory's secret reference, inside the client) then
 * `POST /host/register` for `h` with the host key the operator confirmed and the flexvdi key it has now. The
 * Manager's answer holds a secret for the Host's agent: it is neither stored nor logged here (what this
 * returns is saved in Redis). Registering again with the same keys is a refresh: safe to repeat.
 */
export async function registerWithManager(
  services: PluginServices,
  h: InventoryHost,
  key: PublicKey,
  signal: AbortSignal | undefined,
): Promise<Registration> {
  const state = await inspectHost(services.ssh, targetOf(h), signal);
  const pub = requireFlexvdiKey(h.name, state);
  await services.manager.registerHost({ hostId: hostIdOf(h), sshPubkey: pub.line, sshServerKey: keyId(key) });
  return { hostId: hostIdOf(h), flexvdiKey: fingerprintOf(pub.key), hostKey: fingerprintOf(key) };
}

const registerStep = subjectStep({
  id: 'register',
  title: 'Register the Host with the Manager',
  output: registrationSchema,
  run: (ctx) => registerWithManager(ctx.services, subjectOf(ctx), ctx.pinned.hostKey, ctx.signal),
});

const distributeKeysStep = subjectStep({
  id: 'distribute-keys',
  title: 'Update the SSH keys on every registered Host',
  output: distributeResultSchema,
  run: (ctx) => distributeKeys(ctx, [subjectOf(ctx)]),
});

const verifyStep = subjectStep({
  id: 'verify',
  title: 'Check Host↔Host SSH with strict host key checking',
  output: verifyResultSchema,
  run: (ctx) => verifyMesh(ctx, subjectOf(ctx)),
});

const managerListsStep = subjectStep({
  id: 'manager-lists',
  title: 'Check that the Manager lists the Host',
  output: managerListingSchema,
  run: (ctx) => checkListed(ctx, subjectOf(ctx)),
});

/** The steps after the host key is pinned, in order (a command may retitle register and distribute-keys). */
export const afterPinSteps = (titles: { register?: string; distributeKeys?: string } = {}) =>
  [
    { ...registerStep, title: titles.register ?? registerStep.title },
    { ...distributeKeysStep, title: titles.distributeKeys ?? distributeKeysStep.title },
    verifyStep,
    managerListsStep,
  ] as const;

/** What both results report: the subject, the shared steps' results, and one line per member. */
export function sharedResults(ctx: ResultContext<SubjectArgs, SubjectPinned, NoDeps>) {
  const h = subjectOf(ctx);
  const dist = ctx.result(distributeKeysStep);
  const ver = ctx.result(verifyStep);
  return {
    h,
    reg: ctx.result(registerStep),
    dist,
    ver,
    listed: ctx.result(managerListsStep),
    connections: md`${ver.checked.length} Host↔Host SSH connection${ver.checked.length === 1 ? '' : 's'}`,
    perHost: perHostSection(h.name, dist, ver),
  };
}

/** One line per member: what changed on it, and the SSH checks to and from the subject. */
function perHostSection(subject: string, dist: DistributeResult, ver: VerifyResult): Section {
  return {
    title: md`Per Host`,
    lines: dist.members.map((n) => {
      const o = dist.hosts[n];
      const done = o?.earlier ? md`done in an earlier run` : (o?.changes ?? md`already in sync`);
      if (n === subject) return md`• *${n}*: ${done}`;
      const to = ver.checked.includes(`${n}→${subject}`) ? md`→✓` : md``;
      const from = ver.checked.includes(`${subject}→${n}`) ? md`←✓` : md``;
      return md`• *${n}*: ${done} · ssh ${to}${from}`;
    }),
  };
}

export function ago(iso: string | null): string {
  if (!iso) return 'no heartbeat yet';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 90
    ? `last heartbeat ${s} s ago`
    : s < 5400
      ? `last heartbeat ${Math.round(s / 60)} min ago`
      : `last heartbeat ${Math.round(s / 3600)} h ago`;
}
