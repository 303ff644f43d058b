/**
 * `/flexvdi register-host <fqdn> [<ip>]` (or an inventory name): the seed's first procedure. The plan checks
 * SSH, the host key (first contact shown for confirmation; a changed key refuses), the Host's name, its
 * bridges against a registered Host, and whether there is anything to do. After Confirm: pin the key,
 * register with the Manager, update the SSH keys on every registered Host, check Host↔Host SSH, check the
 * Manager lists the Host.
 *
 * Plan = gather → decide → render: `gather` reads the Host and the cluster (stopping once the facts decide),
 * `decideRegister` (decide.ts, pure) refuses with a code, finds nothing to do, or pins the host key, and
 * `render` writes it for Slack.
 *
 * `/flexvdi register-host --all` is the same command id with its own plan and steps (register-all.ts): the
 * command here parses either form with one schema and binds the job to the one it names.
 */
import { z } from 'zod';
import {
  type Command,
  commandInfo,
  defineCommand,
  invalidData,
  type NoDeps,
  type Plan,
  type PlanContext,
  type Unresolved,
} from '../../../core/plugin.js';
import { md, prose } from '../../../core/text.js';
import { readOf } from '../../../errors.js';
import { targetOf } from '../../../services.js';
import { pinHostKey } from '../../../ssh/index.js';
import { hostArg, hostIdOf, ipArg, resolveHost } from '../args.js';
import { bridgesRefused } from '../cluster-preview.js';
import { decideRegister, type RegisterDecision, type RegisterFacts, registerSoFar } from '../decide.js';
import { RegistrationErrorCode } from '../errors.js';
import { describeHostname } from '../host-state.js';
import { gatherCluster, inspectSubject, refuse } from '../preflight.js';
import { registerRefusal } from '../register-refusal.js';
import { registeredHosts } from '../registry-api.js';
import {
  afterPinSteps,
  ago,
  pinNamesOf,
  probeUnchanged,
  type SubjectPinned,
  sharedResults,
  subjectCommand,
  subjectPinnedSchema,
  subjectStep,
} from '../shared-steps.js';
import { registerAllCommand } from './register-all.js';

const args = z.object({ host: hostArg, ip: ipArg.optional() }).strict();
type Args = z.output<typeof args>;

const pinHostKeyStep = subjectStep({
  id: 'pin-host-key',
  title: 'Pin the host key (first contact) or check it is unchanged',
  output: z.object({ fingerprint: z.string(), pinnedNow: z.boolean() }),
  run: async (ctx) => {
    const { h, key, probe } = await probeUnchanged(ctx);
    const pin = await pinHostKey(
      ctx.services.config.inventory.ssh.knownHostsPath,
      pinNamesOf(h),
      h.port,
      key.keyType,
      key.keyBase64,
    );
    ctx.progress.host(h.name, 'ok', pin.changed ? `pinned ${probe.fingerprint}` : 'host key unchanged');
    return { fingerprint: probe.fingerprint, pinnedNow: pin.changed };
  },
});

const SUMMARY = 'Register a new Host with the Manager and exchange SSH keys with every registered Host';

/** `register-host <host> [<ip>]`: one Host. */
const registerOneCommand = defineCommand<Args, SubjectPinned>({
  id: 'register-host',
  summary: SUMMARY,
  examples: ['/flexvdi register-host host4.example.com 10.0.0.14', '/flexvdi register-host host4'],
  args,
  ...subjectCommand,
  pinned: subjectPinnedSchema,
  // gather (I/O) → decide (pure, decide.ts) → render
  plan: async (ctx) => {
    const facts = await gather(ctx);
    return render(decideRegister(facts), facts);
  },
  steps: [pinHostKeyStep, ...afterPinSteps()],
  result: (ctx) => {
    const pin = ctx.result(pinHostKeyStep);
    const { h, reg, dist, listed, connections, perHost } = sharedResults(ctx);
    return {
      summary: md`*${h.name}* (\`${reg.hostId}\`) is registered: the Manager lists it (${listed.status}); SSH keys in sync on ${dist.members.length} Host${dist.members.length === 1 ? '' : 's'}; ${connections} verified.`,
      sections: [
        perHost,
        {
          lines: [
            md`Host key ${pin.fingerprint}${pin.pinnedNow ? md` pinned (first contact)` : ''}; flexvdi key ${reg.flexvdiKey}.`,
          ],
        },
      ],
    };
  },
});

/** The facts the decision needs, read in stages: once the facts so far decide, nothing more is read. */
async function gather(ctx: PlanContext<Args, NoDeps>): Promise<RegisterFacts | Unresolved> {
  const { ssh, manager } = ctx.services;
  const r = resolveHost(ctx.services.config, ctx.args.host, ctx.args.ip);
  if (!r.ok) return { kind: 'unresolved', asked: ctx.args.host, reason: r.reason };
  const h = r.host;
  const id = hostIdOf(h);
  const [probe, reg] = await Promise.all([
    readOf(ssh.probeHostKey(targetOf(h), { signal: ctx.signal })),
    registeredHosts(ctx.services, { signal: ctx.signal }),
  ]);
  const f: RegisterFacts = {
    kind: 'host',
    host: h,
    id,
    probe,
    registered: reg.hosts,
    outsideInventory: reg.outsideInventory,
  };
  if (!probe.ok || registerSoFar(f)) return f;
  f.known = reg.manager.has(id) ? await manager.getHost(id) : null;
  if (registerSoFar(f)) return f;
  f.subject = await readOf(inspectSubject(ctx, h, probe.value));
  if (registerSoFar(f)) return f;
  f.cluster = await gatherCluster(ctx, h.name, reg.hosts);
  return f;
}

function render(d: RegisterDecision, f: RegisterFacts | Unresolved): Plan<SubjectPinned> {
  if (f.kind === 'unresolved') return refuse(md`Register \`${f.asked}\``, prose(f.reason));
  const { host: h, id } = f;
  const what = md`Register *${h.name}* (\`${h.fqdn}\`, ${h.ip})`;
  if (d.kind === 'refuse') {
    if (d.code === RegistrationErrorCode.bridgesDiffer)
      return bridgesRefused(what, md`${h.name}`, d.reference, d.differences);
    return refuse(what, registerRefusal(d, f));
  }
  const { probe, state, known, preview } = d;
  const { others } = preview;
  const sections = [
    {
      title: md`Preflight`,
      lines: [
        md`• SSH: reachable; host key ${probe.fingerprint} (${probe.keyType}) ${
          probe.pinned === 'match' ? md`matches the pinned one` : md`— *first contact*`
        }`,
        md`• Name: the Host answers as ${describeHostname(state)} ✓`,
        preview.bridgeLine,
        preview.keyLine,
        md`• Manager: ${known ? md`already registered (${known.status}, ${ago(known.lastHeartbeat)})` : md`not registered yet`}`,
      ],
    },
    preview.keysSection,
  ];
  const warnings = [
    ...(probe.pinned === 'unknown'
      ? [
          md`First contact: check that ${probe.fingerprint} is ${h.name}'s host key (\`ssh-keygen -lf /etc/ssh/ssh_host_${probe.keyType.replace(/^ssh-|-.*$/g, '')}_key.pub\` on its console). Confirming pins it.`,
        ]
      : []),
    ...preview.unreachable,
    ...f.outsideInventory.map(
      (x) => md`The Manager also lists ${x}, which is not in the inventory: left alone.`,
    ),
  ];
  if (d.kind === 'noop') {
    return {
      summary: md`${h.name} (\`${h.fqdn}\`) is already registered and its SSH keys are in sync on all ${others.length + 1} Hosts: nothing to do.`,
      sections,
      warnings,
      noop: true,
    };
  }
  return {
    summary: known
      ? md`${h.name} is already registered with the Manager: refresh its registration and bring the SSH keys back in sync`
      : md`${what} with the Manager (id \`${id}\`) and exchange SSH keys with ${others.length} registered Host${others.length === 1 ? '' : 's'}`,
    sections,
    warnings,
    pinned: d.pinned,
  };
}

/**
 * What chat text and a job's data are parsed with: one Host (`<host> [<ip>]`) or `--all`, never both. A
 * missing Host and a Host given with `--all` are usage errors that say what each form does.
 */
const registerHostArgs = z
  .object({ host: hostArg.optional(), ip: ipArg.optional(), all: z.boolean().default(false) })
  .strict()
  .superRefine((a, ctx) => {
    if (a.all && (a.host !== undefined || a.ip !== undefined))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [],
        message: `\`--all\` takes no Host: \`/flexvdi register-host --all\` registers every inventory Host not registered yet, \`/flexvdi register-host <host>\` one Host. Give one or the other`,
      });
    else if (!a.all && a.host === undefined)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['host'],
        message:
          'is required: a Host (inventory name, FQDN or IPv4), or `--all` for every inventory Host not registered yet',
      });
  });

/**
 * `/flexvdi register-host`: one id, one schema, two plans and step lists. `bind` parses with the schema
 * above and binds the form given; the job's data is parsed the same way again in the worker.
 */
export const registerHostCommand: Command<NoDeps> = (() => {
  const info = commandInfo({
    id: 'register-host',
    summary: `${SUMMARY}; \`--all\`: every inventory Host not registered yet, in one plan`,
    examples: [...registerOneCommand.info.examples, ...registerAllCommand.info.examples],
    args: registerHostArgs,
    positionals: ['host', 'ip'],
    mutates: true,
    access: 'admin',
    // Both forms' steps, for the registry's checks; a job runs the steps of the form it was bound to.
    steps: [...registerOneCommand.info.steps, ...registerAllCommand.info.steps].filter(
      (s, i, all) => all.findIndex((x) => x.id === s.id) === i,
    ),
  });
  return {
    info,
    bind(raw, deps) {
      const a = registerHostArgs.safeParse(raw);
      if (!a.success) return { ok: false, error: invalidData('arguments', a.error) };
      const { all, host, ip } = a.data;
      const bound = all
        ? registerAllCommand.bind({ all: true }, deps)
        : registerOneCommand.bind({ host, ...(ip !== undefined ? { ip } : {}) }, deps);
      return bound.ok ? { ok: true, value: { ...bound.value, info } } : bound;
    },
  };
})();
