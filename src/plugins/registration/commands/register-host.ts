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
 */
import { z } from 'zod';
import {
  defineCommand,
  type NoDeps,
  type Plan,
  type PlanContext,
  type Unresolved,
} from '../../../core/plugin.js';
import { type Md, md, prose } from '../../../core/text.js';
import { ErrorCode, readOf } from '../../../errors.js';
import { targetOf } from '../../../services.js';
import { pinHostKey } from '../../../ssh/index.js';
import { hostArg, hostIdOf, ipArg, resolveHost } from '../args.js';
import { bridgesRefused } from '../cluster-preview.js';
import { decideRegister, type RegisterDecision, type RegisterFacts, registerSoFar } from '../decide.js';
import { RegistrationErrorCode } from '../errors.js';
import { describeHostname } from '../host-state.js';
import { gatherCluster, inspectSubject, refuse } from '../preflight.js';
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

export const registerHostCommand = defineCommand<Args, SubjectPinned>({
  id: 'register-host',
  summary: 'Register a new Host with the Manager and exchange SSH keys with every registered Host',
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
    return refuse(what, refusal(d, f));
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

/** Why the plan refuses (the bridges' refusal, with its differences, is rendered apart). */
function refusal(
  d: Exclude<Extract<RegisterDecision, { kind: 'refuse' }>, { code: 'registration.bridges_differ' }>,
  { host: h, id }: RegisterFacts,
): Md {
  switch (d.code) {
    case ErrorCode.inventoryUnknownHost:
      return prose(d.reason);
    case RegistrationErrorCode.unreachable:
      return md`${h.name} is not reachable over SSH: ${prose(d.error)}`;
    case RegistrationErrorCode.hostkeyMismatch:
      return md`The SSH host key of ${h.name} (${h.ip}) is not the pinned one: it presents ${d.fingerprint}. This can be an attack, or a reinstalled or replaced machine. If the Host was replaced on purpose, use \`/flexvdi replace-host ${h.fqdn}\`.`;
    case RegistrationErrorCode.managerKeyDiffers:
      return md`The Manager knows ${id} with another host key than the one ${h.name} presents (${d.fingerprint}): it is another machine. If it replaces a failed Host, use \`/flexvdi replace-host ${h.fqdn}\`.`;
    case RegistrationErrorCode.unreadable:
      return md`Cannot read ${h.name}: ${prose(d.error)}`;
    case RegistrationErrorCode.hostnameMismatch:
      return md`${h.ip} answers as ${describeHostname(d.state)}, not \`${h.fqdn}\`. Set the Host's name (or fix the address), then try again.`;
    case RegistrationErrorCode.noFlexvdiKey:
      return md`On ${h.name}, the user \`flexvdi\` ${d.userExists ? md`has no SSH key pair (~flexvdi/.ssh/id_*.pub)` : md`does not exist`}. Install the Host as flexVDI requires, then try again.`;
  }
}
