/**
 * `/flexvdi register-host --all`: every inventory Host the Manager does not list yet, in one plan and one
 * confirmation. `register-host` (register-host.ts) hands its job here when `--all` is given.
 *
 * The plan (register-all-plan.ts → decide-all.ts) lists the Hosts to register with their host keys (first
 * contact shown for confirmation), the ones left out with why (see decide-all.ts for why they are left out
 * rather than the whole plan refused), and the registered ones as skipped. After Confirm, the steps of
 * `register-host <host>`, each for all of the Hosts at once: pin the host keys, register each with the
 * Manager, update the SSH keys on every registered Host once, check Host↔Host SSH, check the Manager lists
 * each. Each is idempotent; per-Host sub-checkpoints let a resumed or retried job skip the Hosts done.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../../config.js';
import { settleHosts } from '../../../core/partial.js';
import {
  defineCommand,
  findHost,
  type NoDeps,
  type Section,
  type Step,
  type StepContext,
} from '../../../core/plugin.js';
import { joinMd, md, mdSchema, plural } from '../../../core/text.js';
import { AppError, asAppError, ErrorCode } from '../../../errors.js';
import { targetOf } from '../../../services.js';
import { fanout, pinHostKey } from '../../../ssh/index.js';
import { RegistrationErrorCode } from '../errors.js';
import { type PublicKey, publicKeySchema } from '../key-files.js';
import {
  checkListed,
  distributeKeys,
  distributeResultSchema,
  managerListingSchema,
  verifyMesh,
} from '../mesh.js';
import { planRegisterAll, type RegisterAllPinned } from '../register-all-plan.js';
import { checkUnchanged, pinNamesOf, registerWithManager, registrationSchema } from '../shared-steps.js';

/** What register-host passes when `--all` is given (its own schema says which combinations are valid). */
const args = z.object({ all: z.literal(true) }).strict();
type Args = z.output<typeof args>;

const pinnedSchema: z.ZodType<RegisterAllPinned, z.ZodTypeDef, unknown> = z.object({
  hosts: z.array(z.object({ name: z.string(), hostKey: publicKeySchema })).min(1),
  leftOut: z.array(z.object({ name: z.string(), reason: mdSchema })).default([]),
});

type Ctx = StepContext<Args, RegisterAllPinned, NoDeps>;
const step = <O>(s: Step<Args, RegisterAllPinned, NoDeps, O>) => s;

/** The Hosts the plan pinned, looked up again in the inventory (the job may run after a restart). */
function subjectsOf(ctx: Pick<Ctx, 'pinned' | 'services'>): { h: InventoryHost; key: PublicKey }[] {
  return ctx.pinned.hosts.map((p) => {
    const h = findHost(ctx.services.config, p.name);
    if (!h) {
      const why = `${p.name} is no longer in the inventory (${ctx.services.config.inventoryPath}). Run \`/flexvdi register-host --all\` again for a fresh plan.`;
      throw new AppError(ErrorCode.inventoryUnknownHost, why, { userMessage: why });
    }
    return { h, key: p.hostKey };
  });
}

const concurrencyOf = (ctx: Pick<Ctx, 'services'>) => ctx.services.config.inventory.ssh.concurrency;

const pinStep = step({
  id: 'pin-host-keys',
  title: 'Pin the host keys (first contact) or check they are unchanged',
  output: z.object({ hosts: z.record(z.object({ fingerprint: z.string(), pinnedNow: z.boolean() })) }),
  run: async (ctx) => {
    const subjects = subjectsOf(ctx);
    const probes = settleHosts(
      await fanout(
        subjects.map((s) => targetOf(s.h)),
        (t, signal) => ctx.services.ssh.probeHostKey(t, signal ? { signal } : {}),
        { concurrency: concurrencyOf(ctx), signal: ctx.signal },
      ),
      ctx,
      'Reading the host keys',
      'read',
    );
    // Every key is checked before any is pinned: one that changed since the plan pins none.
    for (const { h, key } of subjects) checkUnchanged(h, probes[h.name]!, key);
    const hosts: Record<string, { fingerprint: string; pinnedNow: boolean }> = {};
    for (const { h, key } of subjects) {
      const known = ctx.services.config.inventory.ssh.knownHostsPath;
      const pin = await pinHostKey(known, pinNamesOf(h), h.port, key.keyType, key.keyBase64);
      const fingerprint = probes[h.name]!.fingerprint;
      ctx.progress.host(h.name, 'ok', pin.changed ? `pinned ${fingerprint}` : 'host key unchanged');
      hosts[h.name] = { fingerprint, pinnedNow: pin.changed };
    }
    return { hosts };
  },
});

const registerStep = step({
  id: 'register-hosts',
  title: 'Register each Host with the Manager',
  output: z.object({ hosts: z.record(registrationSchema) }),
  run: async (ctx) => {
    const subjects = subjectsOf(ctx);
    const keys = new Map(subjects.map((s) => [s.h.name, s.key]));
    const results = await fanout(
      subjects.map((s) => targetOf(s.h)),
      async (t, signal) => {
        const done = await ctx.checkpoint.get(`registered:${t.name}`, registrationSchema);
        if (done) return done;
        ctx.progress.host(t.name, 'running', 'registering');
        const h = subjects.find((s) => s.h.name === t.name)!.h;
        const r = await registerWithManager(ctx.services, h, keys.get(t.name)!, signal);
        await ctx.checkpoint.set(`registered:${t.name}`, registrationSchema, r);
        ctx.progress.host(t.name, 'ok', 'registered');
        return r;
      },
      { concurrency: concurrencyOf(ctx), signal: ctx.signal },
    );
    return { hosts: settleHosts(results, ctx, 'Registering with the Manager', 'registered') };
  },
});

const distributeStep = step({
  id: 'distribute-keys',
  title: 'Update the SSH keys on every registered Host',
  output: distributeResultSchema,
  run: (ctx) =>
    distributeKeys(
      ctx,
      subjectsOf(ctx).map((s) => s.h),
    ),
});

const verifyStep = step({
  id: 'verify',
  title: 'Check Host↔Host SSH with strict host key checking',
  output: z.object({ checked: z.array(z.string()) }),
  run: async (ctx) => {
    const subjects = subjectsOf(ctx).map((s) => s.h);
    const checked: string[] = [];
    const problems: string[] = [];
    for (const [i, h] of subjects.entries()) {
      // Each pair once: the Hosts before this one were checked with it already, both ways.
      const except = subjects.slice(0, i).map((x) => x.name);
      try {
        checked.push(...(await verifyMesh(ctx, h, except)).checked);
      } catch (err) {
        const e = asAppError(err);
        if (e.code !== RegistrationErrorCode.verifyFailed) throw e;
        problems.push(e.userMessage);
      }
    }
    if (problems.length)
      throw new AppError(
        RegistrationErrorCode.verifyFailed,
        `Host→Host SSH check failed: ${problems.join(' ')}`,
        {
          userMessage: problems.join(' '),
        },
      );
    return { checked };
  },
});

const listedStep = step({
  id: 'manager-lists',
  title: 'Check that the Manager lists each Host',
  output: z.object({ hosts: z.record(managerListingSchema) }),
  run: async (ctx) => {
    const hosts: Record<string, z.output<typeof managerListingSchema>> = {};
    for (const { h } of subjectsOf(ctx)) hosts[h.name] = await checkListed(ctx, h);
    return { hosts };
  },
});

export const registerAllCommand = defineCommand<Args, RegisterAllPinned>({
  id: 'register-host',
  summary: 'Register every inventory Host not registered with the Manager yet, in one plan',
  examples: ['/flexvdi register-host --all'],
  args,
  positionals: [],
  mutates: true,
  access: 'admin',
  // The Hosts to register are only known from the plan, and locks are taken from the arguments: every
  // inventory Host (the registered ones' key files change too) and, as for one Host, `registration`.
  locks: (_a, config) => [...config.inventory.hosts, 'registration'],
  pinned: pinnedSchema,
  plan: (ctx) => planRegisterAll(ctx),
  steps: [pinStep, registerStep, distributeStep, verifyStep, listedStep],
  result: (ctx) => {
    const pins = ctx.result(pinStep).hosts;
    const reg = ctx.result(registerStep).hosts;
    const dist = ctx.result(distributeStep);
    const { checked } = ctx.result(verifyStep);
    const listed = ctx.result(listedStep).hosts;
    const names = ctx.pinned.hosts.map((p) => p.name);
    const { leftOut } = ctx.pinned;
    const perHost: Section = {
      title: md`Per Host`,
      lines: dist.members.map((n) => {
        const o = dist.hosts[n];
        const keys = o?.earlier ? md`keys done in an earlier run` : (o?.changes ?? md`keys already in sync`);
        const r = reg[n];
        if (!r) return md`• *${n}*: ${keys}`;
        const pin = pins[n];
        return md`• *${n}*: registered (Manager: ${listed[n]?.status ?? 'not listed'}); host key ${r.hostKey}${pin?.pinnedNow ? md` pinned (first contact)` : ''}; flexvdi key ${r.flexvdiKey}; ${keys}`;
      }),
    };
    return {
      summary: md`${plural(names.length, 'Host')} registered (${joinMd(names.map((n) => md`${n}`))}): the Manager lists ${names.length === 1 ? 'it' : 'them'}; SSH keys in sync on ${plural(dist.members.length, 'Host')}; ${plural(checked.length, 'Host↔Host SSH connection')} verified.${
        leftOut.length
          ? md` *Not registered* (left out by the plan): ${joinMd(leftOut.map((l) => md`${l.name}`))}.`
          : ''
      }`,
      sections: [
        perHost,
        ...(leftOut.length
          ? [
              {
                title: md`Left out by the plan — not registered`,
                lines: [
                  ...leftOut.map((l) => md`• *${l.name}*: ${l.reason}`),
                  md`Once fixed, \`/flexvdi register-host --all\` registers them.`,
                ],
              },
            ]
          : []),
      ],
    };
  },
});
