/**
 * `/flexvdi replace-host <fqdn> [<ip>] [--force]`: a failed Host is replaced by a new machine with the same
 * domain name and IP ("otherwise the Manager will not know how to replace the previous Host"). The plan
 * checks that the old Host is gone (the Manager hears no heartbeat, and the address no longer presents the
 * pinned key; `--force` by an admin overrides), that the machine answering is the replacement (same FQDN and
 * IP, the flexvdi key pair, the cluster's bridges) and shows its new host key for confirmation, with what
 * the old Host did for the other plugins (an OCFS2 node…) and how to restore it. After Confirm: swap the
 * pin, register again (the Manager records a replacement), swap the keys on every Host (the old machine's
 * lines go), check Host↔Host SSH, check the Manager lists it.
 *
 * Plan = gather → decide → render: `gather` reads the Manager, the machine and the cluster (stopping once the
 * facts decide), `decideReplace` (decide.ts, pure) refuses with a code or pins the new host key and the old
 * Host's roles, and `render` writes it for Slack.
 */
import { z } from 'zod';
import {
  defineCommand,
  hostRoleSchema,
  type NoDeps,
  type Plan,
  type PlanContext,
  type Unresolved,
} from '../../../core/plugin.js';
import { joinMd, type Md, md, prose } from '../../../core/text.js';
import { ErrorCode, readOf } from '../../../errors.js';
import type { HostInfo } from '../../../manager/index.js';
import { targetOf } from '../../../services.js';
import { type HostKeyProbe, replacePin } from '../../../ssh/index.js';
import { hostArg, hostIdOf, ipArg, resolveHost } from '../args.js';
import { bridgesRefused } from '../cluster-preview.js';
import {
  type Alive,
  decideReplace,
  type ReplaceDecision,
  type ReplaceFacts,
  replaceSoFar,
} from '../decide.js';
import { RegistrationErrorCode } from '../errors.js';
import { describeHostname } from '../host-state.js';
import { fingerprintOf } from '../key-files.js';
import { productPins } from '../members.js';
import { gatherCluster, inspectSubject, refuse } from '../preflight.js';
import { registeredHosts } from '../registry-api.js';
import {
  afterPinSteps,
  ago,
  pinNamesOf,
  probeUnchanged,
  sharedResults,
  subjectCommand,
  subjectPinnedSchema,
  subjectStep,
} from '../shared-steps.js';

const args = z.object({ host: hostArg, ip: ipArg.optional(), force: z.boolean().default(false) }).strict();
type Args = z.output<typeof args>;

/** The host key, and what the old Host did for each plugin (restored by hand after the replacement). */
const pinnedSchema = subjectPinnedSchema.extend({ roles: z.array(hostRoleSchema).default([]) });
type ReplacePinned = z.output<typeof pinnedSchema>;

const repinStep = subjectStep({
  id: 'repin-host-key',
  title: 'Replace the pinned host key',
  output: z.object({ fingerprint: z.string(), removed: z.number(), backup: z.string().nullable() }),
  run: async (ctx) => {
    const { h, key, probe } = await probeUnchanged(ctx);
    const r = await replacePin(ctx.services.config.inventory.ssh.knownHostsPath, pinNamesOf(h), h.port, key);
    ctx.progress.host(h.name, 'ok', r.changed ? `pinned ${probe.fingerprint}` : 'pin already replaced');
    return { fingerprint: probe.fingerprint, removed: r.removed, backup: r.backupPath ?? null };
  },
});

export const replaceHostCommand = defineCommand<Args, ReplacePinned>({
  id: 'replace-host',
  summary:
    'Replace a failed Host by a new machine with the same FQDN and IP: re-pin, re-register, swap SSH keys',
  examples: ['/flexvdi replace-host host2.example.com', '/flexvdi replace-host host2.example.com --force'],
  args,
  ...subjectCommand,
  pinned: pinnedSchema,
  // gather (I/O) → decide (pure, decide.ts) → render
  plan: async (ctx) => {
    const facts = await gather(ctx);
    return render(decideReplace(facts, { force: ctx.args.force, isAdmin: ctx.isAdmin }), facts);
  },
  steps: [
    repinStep,
    ...afterPinSteps({
      register: 'Register the replacement with the Manager',
      distributeKeys: 'Swap the SSH keys on every registered Host',
    }),
  ],
  result: (ctx) => {
    const pin = ctx.result(repinStep);
    const { h, reg, dist, listed, connections, perHost } = sharedResults(ctx);
    const { roles } = ctx.pinned;
    return {
      summary: md`*${h.name}* (\`${reg.hostId}\`) is replaced: host key ${pin.fingerprint} pinned, registered again (Manager: ${listed.status}), SSH keys swapped on ${dist.members.length} Hosts, ${connections} verified.`,
      sections: [
        perHost,
        ...(roles.length
          ? [
              {
                title: md`What ${h.name} was (the replacement starts without it)`,
                lines: roles.map((r) => md`• ${r.role}${r.afterReplace ? md` — ${r.afterReplace}` : ''}`),
              },
            ]
          : []),
      ],
    };
  },
});

/**
 * The facts the decision needs, read in stages: once the facts so far decide, nothing more is read. An IP
 * given with the command is checked against the inventory's by `decideReplace` (an IP other than the
 * inventory's is the replacement's mistake, said as such), so the Host is looked up by name alone.
 */
async function gather(ctx: PlanContext<Args, NoDeps>): Promise<ReplaceFacts | Unresolved> {
  const { ssh, manager, config } = ctx.services;
  const o = { force: ctx.args.force, isAdmin: ctx.isAdmin };
  const r = resolveHost(config, ctx.args.host);
  if (!r.ok) return { kind: 'unresolved', asked: ctx.args.host, reason: r.reason };
  const h = r.host;
  const id = hostIdOf(h);
  const f: ReplaceFacts = { kind: 'host', asked: ctx.args.host, host: h, id, givenIp: ctx.args.ip };
  if (replaceSoFar(f, o)) return f;
  f.known = await manager.getHost(id);
  if (replaceSoFar(f, o)) return f;
  const probe = await readOf(ssh.probeHostKey(targetOf(h), { signal: ctx.signal }));
  f.probe = probe;
  if (!probe.ok) return f;
  f.oldKeys = (await productPins(config, [h])).get(h.name) ?? [];
  if (replaceSoFar(f, o)) return f;
  f.subject = await readOf(inspectSubject(ctx, h, probe.value));
  if (replaceSoFar(f, o)) return f;
  const reg = await registeredHosts(ctx.services, { signal: ctx.signal });
  f.cluster = await gatherCluster(ctx, h.name, reg.hosts);
  if (replaceSoFar(f, o)) return f;
  f.roles = await ctx.services.hostRoles(h, ctx.signal);
  return f;
}

/** Why the old Host looks alive, one clause per reason. */
function aliveClauses(a: Alive, h: { ip: string }, id: string, probe: HostKeyProbe, known: HostInfo): Md[] {
  return [
    ...(a.pinnedKey
      ? [md`${h.ip} still presents the pinned host key ${probe.fingerprint}: this looks like the old machine`]
      : []),
    ...(a.heartbeat
      ? [md`the Manager still hears from \`${id}\` (status ${known.status}, ${ago(known.lastHeartbeat)})`]
      : []),
  ];
}

function render(d: ReplaceDecision, f: ReplaceFacts | Unresolved): Plan<ReplacePinned> {
  if (f.kind === 'unresolved') return refuse(md`Replace \`${f.asked}\``, prose(f.reason));
  const { host: h, id } = f;
  const what = md`Replace *${h.name}* (\`${h.fqdn}\`, ${h.ip})`;
  if (d.kind === 'refuse') {
    if (d.code === RegistrationErrorCode.ipDiffers)
      return refuse(
        md`Replace \`${f.asked}\``,
        prose(
          `The replacement must have the same IP as the failed Host: expected ${d.expected} (inventory and Manager), found ${d.given}. Give the replacement ${d.expected}, then try again.`,
        ),
      );
    if (d.code === RegistrationErrorCode.bridgesDiffer)
      return bridgesRefused(what, md`the replacement`, d.reference, d.differences);
    return refuse(what, refusal(d, f));
  }
  const { probe, known, alive, oldKeys, state, preview } = d;
  const { others } = preview;
  const clauses = aliveClauses(alive, h, id, probe, known);
  const { roles } = d.pinned;
  return {
    summary: md`${what}: pin its new host key, register it again with the Manager, and swap its SSH keys on ${others.length} Host${others.length === 1 ? '' : 's'}`,
    sections: [
      {
        title: md`Preflight`,
        lines: [
          md`• Old Host: known to the Manager (${known.status}, ${ago(known.lastHeartbeat)})${clauses.length ? md` — *still answering; --force given*` : md`, not answering`}`,
          md`• Replacement: answers on ${h.ip} as ${describeHostname(state)} ✓`,
          md`• Host key: ${probe.fingerprint}${oldKeys.length ? md` replaces the pinned ${oldKeys.map(fingerprintOf).join(', ')}` : ''}`,
          preview.bridgeLine,
          preview.keyLine,
        ],
      },
      preview.keysSection,
    ],
    warnings: [
      md`Check that ${probe.fingerprint} is the replacement's host key (on its console). Confirming pins it and removes the old one everywhere.`,
      ...(clauses.length ? [md`--force: ${joinMd(clauses, '; ')}.`] : []),
      ...roles.map(
        (r) =>
          md`${h.name} was ${r.role}: the replacement starts without it.${r.afterReplace ? md` Afterwards, ${r.afterReplace}.` : ''}`,
      ),
      ...preview.unreachable,
    ],
    pinned: d.pinned,
  };
}

type Refused = Exclude<
  Extract<ReplaceDecision, { kind: 'refuse' }>,
  { code: 'registration.ip_differs' | 'registration.bridges_differ' }
>;

/** Why the plan refuses (the IP given and the bridges' refusals are rendered apart). */
function refusal(d: Refused, { host: h, id }: ReplaceFacts): Md {
  switch (d.code) {
    case ErrorCode.inventoryUnknownHost:
      return prose(d.reason);
    case RegistrationErrorCode.notRegistered:
      return md`The Manager does not know \`${id}\`: there is nothing to replace. To add it, use \`/flexvdi register-host ${h.fqdn}\`.`;
    case RegistrationErrorCode.unreachable:
      return md`Nothing answers SSH on ${h.ip}:${h.port} (${prose(d.error)}). The replacement must be up with the same FQDN and IP as the failed Host: expected \`${h.fqdn}\` on ${h.ip}.`;
    case RegistrationErrorCode.hostAlive:
      return md`${h.name} does not look failed: ${joinMd(aliveClauses(d.alive, h, id, d.probe, d.known), '; ')}. Replace only a failed Host. If you are sure, an admin can run \`/flexvdi replace-host ${h.fqdn} --force\`.`;
    case RegistrationErrorCode.forceNeedsAdmin:
      return md`Only a flexVDI admin can use \`--force\`.`;
    case RegistrationErrorCode.unreadable:
      return md`Cannot read the machine on ${h.ip}: ${prose(d.error)}`;
    case RegistrationErrorCode.hostnameMismatch:
      return md`The replacement must have the same FQDN as the failed Host: expected \`${h.fqdn}\`, found ${describeHostname(d.state)} on ${h.ip}.`;
    case RegistrationErrorCode.ipNotCarried:
      return md`The replacement must have the same IP as the failed Host: expected ${h.ip}, found ${d.addresses.join(', ') || 'no IPv4 address'} on the machine answering there.`;
    case RegistrationErrorCode.noFlexvdiKey:
      return md`On the replacement, the user \`flexvdi\` has no SSH key pair (~flexvdi/.ssh/id_*.pub). Install it as flexVDI requires, then try again.`;
  }
}
