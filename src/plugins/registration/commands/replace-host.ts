/**
 * `/flexvdi replace-host <fqdn> [<ip>] [--force]`: a failed Host is replaced by a new machine with the same
 * domain name and IP ("otherwise the Manager will not know how to replace the previous Host"). The plan
 * checks that the old Host is gone (the Manager hears no heartbeat, and the address no longer presents the
 * pinned key; `--force` by an admin overrides), that the machine answering is the replacement (same FQDN and
 * IP, the flexvdi key pair, the cluster's bridges) and shows its new host key for confirmation. After
 * Confirm: swap the pin, register again (the Manager records a replacement), swap the keys on every Host
 * (the old machine's lines go), check Host↔Host SSH, check the Manager lists it.
 */
import { z } from 'zod';
import { defineCommand, type Plan } from '../../../core/plugin.js';
import { asAppError } from '../../../errors.js';
import { servicesOf, targetOf } from '../../../services.js';
import { replacePin } from '../../../ssh/index.js';
import { hostArg, hostIdOf, ipArg, resolveHost } from '../args.js';
import { describeHostname, hostnameMatches } from '../host-state.js';
import { fingerprintOf } from '../key-files.js';
import { productPins, registeredHosts } from '../members.js';
import {
  checkListed,
  type DistributeResult,
  distributeKeys,
  type ManagerListing,
  type VerifyResult,
  verifyMesh,
} from '../mesh.js';
import { CLUSTER_CONF, type Ocfs2Membership, ocfs2NodeOf } from '../ocfs2-membership.js';
import {
  bridgeCheck,
  inspectOthers,
  inspectSubject,
  keyOfProbe,
  keyPreview,
  unreachableWarnings,
} from '../preflight.js';
import {
  ago,
  checkUnchanged,
  pinNamesOf,
  pinnedKey,
  type Registration,
  registerWithManager,
  subjectOf,
} from '../shared-steps.js';

const args = z.object({ host: hostArg, ip: ipArg.optional(), force: z.boolean().default(false) }).strict();

/** Manager states that mean a recent heartbeat: the old Host (or its agent) is still alive. */
const ALIVE = new Set(['running', 'stopped', 'incompatible']);

const refuse = (summary: string, refused: string): Plan => ({ summary, sections: [], warnings: [], refused });

export const replaceHostCommand = defineCommand({
  id: 'replace-host',
  summary:
    'Replace a failed Host by a new machine with the same FQDN and IP: re-pin, re-register, swap SSH keys',
  examples: ['/flexvdi replace-host host2.example.com', '/flexvdi replace-host host2.example.com --force'],
  args,
  positionals: ['host', 'ip'],
  mutates: true,
  access: 'admin',
  locks: (a) => ['registration', a.host.toLowerCase()],
  plan: async (ctx): Promise<Plan> => {
    const { ssh, manager } = servicesOf(ctx.services.extra);
    const config = ctx.services.config;
    const found = findReplaced(ctx.services.config, ctx.args.host, ctx.args.ip);
    if (!found.ok) return refuse(`Replace \`${ctx.args.host}\``, found.reason);
    const h = found.host;
    const id = hostIdOf(h);
    const what = `Replace *${h.name}* (\`${h.fqdn}\`, ${h.ip})`;
    const known = await manager.getHost(id);
    if (!known) {
      return refuse(
        what,
        `The Manager does not know \`${id}\`: there is nothing to replace. To add it, use \`/flexvdi register-host ${h.fqdn}\`.`,
      );
    }
    const probe = await ssh.probeHostKey(targetOf(h), { signal: ctx.signal }).catch(asAppError);
    if (probe instanceof Error) {
      return refuse(
        what,
        `Nothing answers SSH on ${h.ip}:${h.port} (${probe.userMessage}). The replacement must be up with the same FQDN and IP as the failed Host: expected \`${h.fqdn}\` on ${h.ip}.`,
      );
    }
    const oldKeys = (await productPins(config, [h])).get(h.name) ?? [];
    const alive: string[] = [];
    if (probe.pinned === 'match')
      alive.push(
        `${h.ip} still presents the pinned host key ${probe.fingerprint}: this looks like the old machine`,
      );
    if (ALIVE.has(known.status))
      alive.push(
        `the Manager still hears from \`${id}\` (status ${known.status}, ${ago(known.lastHeartbeat)})`,
      );
    if (alive.length && !ctx.args.force) {
      return refuse(
        what,
        `${h.name} does not look failed: ${alive.join('; ')}. Replace only a failed Host. If you are sure, an admin can run \`/flexvdi replace-host ${h.fqdn} --force\`.`,
      );
    }
    if (alive.length && !ctx.isAdmin) return refuse(what, 'Only a flexVDI admin can use `--force`.');
    const state = await inspectSubject(ctx, h, probe).catch(asAppError);
    if (state instanceof Error)
      return refuse(what, `Cannot read the machine on ${h.ip}: ${state.userMessage}`);
    if (!hostnameMatches(state, h.fqdn)) {
      return refuse(
        what,
        `The replacement must have the same FQDN as the failed Host: expected \`${h.fqdn}\`, found ${describeHostname(state)} on ${h.ip}.`,
      );
    }
    if (!state.addresses.some((a) => a.address === h.ip)) {
      const ips = state.addresses.filter((a) => a.ifname !== 'lo').map((a) => a.address);
      return refuse(
        what,
        `The replacement must have the same IP as the failed Host: expected ${h.ip}, found ${ips.join(', ') || 'no IPv4 address'} on the machine answering there.`,
      );
    }
    if (!state.flexvdiPub) {
      return refuse(
        what,
        `On the replacement, the user \`flexvdi\` has no SSH key pair (~flexvdi/.ssh/id_*.pub). Install it as flexVDI requires, then try again.`,
      );
    }
    const reg = await registeredHosts(config, manager);
    const others = reg.hosts.filter((o) => o.name !== h.name);
    const o = await inspectOthers(ctx, others);
    const bridges = bridgeCheck(h.name, state.bridges, others, o);
    if (bridges.differences.length) {
      return {
        ...refuse(what, `The virtual bridges of the replacement differ from ${bridges.reference}'s.`),
        sections: [{ title: 'Bridge differences', lines: bridges.differences.map((d) => `• ${d}`) }],
      };
    }
    const key = keyOfProbe(probe);
    const keys = await keyPreview(config, h, state, key, others, o);
    const ocfs2 = await ocfs2Of(ctx, others, h);
    return {
      summary: `${what}: pin its new host key, register it again with the Manager, and swap its SSH keys on ${others.length} Host${others.length === 1 ? '' : 's'}`,
      sections: [
        {
          title: 'Preflight',
          lines: [
            `• Old Host: known to the Manager (${known.status}, ${ago(known.lastHeartbeat)})${alive.length ? ' — *still answering; --force given*' : ', not answering'}`,
            `• Replacement: answers on ${h.ip} as ${describeHostname(state)} ✓`,
            `• Host key: ${probe.fingerprint}${oldKeys.length ? ` replaces the pinned ${oldKeys.map(fingerprintOf).join(', ')}` : ''}`,
            `• Bridges: ${bridges.summary}`,
            `• flexvdi user key: ${fingerprintOf(state.flexvdiPub.key)}`,
          ],
        },
        { title: `SSH keys (${others.length + 1} Hosts)`, lines: keys.lines },
      ],
      warnings: [
        `Check that ${probe.fingerprint} is the replacement's host key (on its console). Confirming pins it and removes the old one everywhere.`,
        ...(alive.length ? [`--force: ${alive.join('; ')}.`] : []),
        ...(ocfs2
          ? [
              `${h.name} was node ${ocfs2.number} of OCFS2 cluster \`${ocfs2.cluster}\`: the replacement must rejoin it afterwards.`,
            ]
          : []),
        ...unreachableWarnings(o),
      ],
      pinned: { hostKey: key, ocfs2: ocfs2 ?? null },
    };
  },
  steps: [
    {
      id: 'repin-host-key',
      title: 'Replace the pinned host key',
      run: async (ctx) => {
        const { ssh } = servicesOf(ctx.services.extra);
        const h = subjectOf(ctx);
        const key = pinnedKey(ctx);
        const probe = await ssh.probeHostKey(targetOf(h), { signal: ctx.signal });
        checkUnchanged(h, probe, key);
        const r = await replacePin(
          ctx.services.config.inventory.ssh.knownHostsPath,
          pinNamesOf(h),
          h.port,
          key,
        );
        ctx.progress.host(h.name, 'ok', r.changed ? `pinned ${probe.fingerprint}` : 'pin already replaced');
        return { fingerprint: probe.fingerprint, removed: r.removed, backup: r.backupPath ?? null };
      },
    },
    {
      id: 'register',
      title: 'Register the replacement with the Manager',
      run: (ctx) => registerWithManager(ctx, subjectOf(ctx)),
    },
    {
      id: 'distribute-keys',
      title: 'Swap the SSH keys on every registered Host',
      run: (ctx) => distributeKeys(ctx, subjectOf(ctx)),
    },
    {
      id: 'verify',
      title: 'Check Host↔Host SSH with strict host key checking',
      run: (ctx) => verifyMesh(ctx, subjectOf(ctx)),
    },
    {
      id: 'manager-lists',
      title: 'Check that the Manager lists the Host',
      run: (ctx) => checkListed(ctx, subjectOf(ctx)),
    },
  ],
  result: (ctx) => {
    const h = subjectOf(ctx);
    const pin = ctx.results['repin-host-key'] as { fingerprint: string; removed: number };
    const reg = ctx.results['register'] as Registration;
    const dist = ctx.results['distribute-keys'] as DistributeResult;
    const ver = ctx.results['verify'] as VerifyResult;
    const listed = ctx.results['manager-lists'] as ManagerListing;
    const ocfs2 = ctx.pinned['ocfs2'] as Ocfs2Membership | null | undefined;
    return {
      summary:
        `*${h.name}* (\`${reg.hostId}\`) is replaced: host key ${pin.fingerprint} pinned, registered again (Manager: ${listed.status}), ` +
        `SSH keys swapped on ${dist.members.length} Hosts, ${ver.checked.length} Host↔Host SSH connections verified.`,
      sections: [
        {
          title: 'Per Host',
          lines: dist.members.map((n) => {
            const o = dist.hosts[n];
            return `• *${n}*: ${o?.earlier ? 'done in an earlier run' : o?.changes || 'already in sync'}`;
          }),
        },
        ...(ocfs2
          ? [
              {
                title: 'OCFS2',
                lines: [
                  `${h.name} was node ${ocfs2.number} (\`${ocfs2.node}\`) of OCFS2 cluster \`${ocfs2.cluster}\`. The replacement has no OCFS2 configuration yet: rejoin it with the OCFS2 rejoin procedure (\`/flexvdi help ocfs2\`).`,
                ],
              },
            ]
          : []),
      ],
    };
  },
});

/** Like resolveHost, but an IP other than the inventory's is the replacement's mistake, said as such. */
function findReplaced(config: Parameters<typeof resolveHost>[0], host: string, ip: string | undefined) {
  const r = resolveHost(config, host);
  if (r.ok && ip && r.host.ip !== ip) {
    return {
      ok: false as const,
      reason: `The replacement must have the same IP as the failed Host: expected ${r.host.ip} (inventory and Manager), found ${ip}. Give the replacement ${r.host.ip}, then try again.`,
    };
  }
  return r;
}

/** The Host's OCFS2 node entry, from the first registered Host whose cluster.conf can be read. */
async function ocfs2Of(
  ctx: Parameters<typeof inspectOthers>[0],
  others: Parameters<typeof inspectOthers>[1],
  h: Parameters<typeof hostIdOf>[0],
): Promise<Ocfs2Membership | undefined> {
  const { ssh } = servicesOf(ctx.services.extra);
  for (const o of others) {
    const conf = await ssh.readFile(targetOf(o), CLUSTER_CONF, { signal: ctx.signal }).catch(() => undefined);
    if (conf === undefined) continue;
    return conf === null ? undefined : ocfs2NodeOf(conf, h.name, h.fqdn);
  }
  return undefined;
}
