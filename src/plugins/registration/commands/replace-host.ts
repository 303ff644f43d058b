/**
 * `/flexvdi replace-host <fqdn> [<ip>] [--force]`: a failed Host is replaced by a new machine with the same
 * domain name and IP ("otherwise the Manager will not know how to replace the previous Host"). The plan
 * checks that the old Host is gone (the Manager hears no heartbeat, and the address no longer presents the
 * pinned key; `--force` by an admin overrides), that the machine answering is the replacement (same FQDN and
 * IP, the flexvdi key pair, the cluster's bridges) and shows its new host key for confirmation, with what
 * the old Host did for the other plugins (an OCFS2 node…) and how to restore it. After Confirm: swap the
 * pin, register again (the Manager records a replacement), swap the keys on every Host (the old machine's
 * lines go), check Host↔Host SSH, check the Manager lists it.
 */
import { z } from 'zod';
import type { Config } from '../../../config.js';
import { defineCommand, hostRoleSchema, type Plan } from '../../../core/plugin.js';
import { joinMd, md, prose } from '../../../core/text.js';
import { asAppError } from '../../../errors.js';
import { targetOf } from '../../../services.js';
import { replacePin } from '../../../ssh/index.js';
import { hostArg, hostIdOf, ipArg, type Resolved, resolveHost } from '../args.js';
import { describeHostname, hostnameMatches } from '../host-state.js';
import { fingerprintOf } from '../key-files.js';
import { productPins } from '../members.js';
import { inspectSubject, keyOfProbe, previewCluster, refuse } from '../preflight.js';
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

/** The host key, and what the old Host did for each plugin (restored by hand after the replacement). */
const pinnedSchema = subjectPinnedSchema.extend({ roles: z.array(hostRoleSchema).default([]) });
type ReplacePinned = z.output<typeof pinnedSchema>;

/** Manager states that mean a recent heartbeat: the old Host (or its agent) is still alive. */
const ALIVE = new Set(['running', 'stopped', 'incompatible']);

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

export const replaceHostCommand = defineCommand<z.output<typeof args>, ReplacePinned>({
  id: 'replace-host',
  summary:
    'Replace a failed Host by a new machine with the same FQDN and IP: re-pin, re-register, swap SSH keys',
  examples: ['/flexvdi replace-host host2.example.com', '/flexvdi replace-host host2.example.com --force'],
  args,
  ...subjectCommand,
  pinned: pinnedSchema,
  plan: async (ctx): Promise<Plan<ReplacePinned>> => {
    const { ssh, manager, config } = ctx.services;
    const found = findReplaced(config, ctx.args.host, ctx.args.ip);
    if (!found.ok) return refuse(md`Replace \`${ctx.args.host}\``, prose(found.reason));
    const h = found.host;
    const id = hostIdOf(h);
    const what = md`Replace *${h.name}* (\`${h.fqdn}\`, ${h.ip})`;
    const known = await manager.getHost(id);
    if (!known) {
      return refuse(
        what,
        md`The Manager does not know \`${id}\`: there is nothing to replace. To add it, use \`/flexvdi register-host ${h.fqdn}\`.`,
      );
    }
    const probe = await ssh.probeHostKey(targetOf(h), { signal: ctx.signal }).catch(asAppError);
    if (probe instanceof Error) {
      return refuse(
        what,
        md`Nothing answers SSH on ${h.ip}:${h.port} (${prose(probe.userMessage)}). The replacement must be up with the same FQDN and IP as the failed Host: expected \`${h.fqdn}\` on ${h.ip}.`,
      );
    }
    const oldKeys = (await productPins(config, [h])).get(h.name) ?? [];
    const alive = [
      ...(probe.pinned === 'match'
        ? [
            md`${h.ip} still presents the pinned host key ${probe.fingerprint}: this looks like the old machine`,
          ]
        : []),
      ...(ALIVE.has(known.status)
        ? [md`the Manager still hears from \`${id}\` (status ${known.status}, ${ago(known.lastHeartbeat)})`]
        : []),
    ];
    if (alive.length && !ctx.args.force) {
      return refuse(
        what,
        md`${h.name} does not look failed: ${joinMd(alive, '; ')}. Replace only a failed Host. If you are sure, an admin can run \`/flexvdi replace-host ${h.fqdn} --force\`.`,
      );
    }
    if (alive.length && !ctx.isAdmin) return refuse(what, md`Only a flexVDI admin can use \`--force\`.`);
    const state = await inspectSubject(ctx, h, probe).catch(asAppError);
    if (state instanceof Error)
      return refuse(what, md`Cannot read the machine on ${h.ip}: ${prose(state.userMessage)}`);
    if (!hostnameMatches(state, h.fqdn)) {
      return refuse(
        what,
        md`The replacement must have the same FQDN as the failed Host: expected \`${h.fqdn}\`, found ${describeHostname(state)} on ${h.ip}.`,
      );
    }
    if (!state.addresses.some((a) => a.address === h.ip)) {
      const ips = state.addresses.filter((a) => a.ifname !== 'lo').map((a) => a.address);
      return refuse(
        what,
        md`The replacement must have the same IP as the failed Host: expected ${h.ip}, found ${ips.join(', ') || 'no IPv4 address'} on the machine answering there.`,
      );
    }
    if (!state.flexvdiPub) {
      return refuse(
        what,
        md`On the replacement, the user \`flexvdi\` has no SSH key pair (~flexvdi/.ssh/id_*.pub). Install it as flexVDI requires, then try again.`,
      );
    }
    const reg = await registeredHosts(ctx.services, { signal: ctx.signal });
    const key = keyOfProbe(probe);
    const preview = await previewCluster(
      ctx,
      what,
      md`the replacement`,
      { host: h, state, hostKey: key, flexvdiKey: state.flexvdiPub.key },
      reg.hosts,
    );
    if (!preview.ok) return preview.plan;
    const { others } = preview.value;
    const roles = await ctx.services.hostRoles(h, ctx.signal);
    return {
      summary: md`${what}: pin its new host key, register it again with the Manager, and swap its SSH keys on ${others.length} Host${others.length === 1 ? '' : 's'}`,
      sections: [
        {
          title: md`Preflight`,
          lines: [
            md`• Old Host: known to the Manager (${known.status}, ${ago(known.lastHeartbeat)})${alive.length ? md` — *still answering; --force given*` : md`, not answering`}`,
            md`• Replacement: answers on ${h.ip} as ${describeHostname(state)} ✓`,
            md`• Host key: ${probe.fingerprint}${oldKeys.length ? md` replaces the pinned ${oldKeys.map(fingerprintOf).join(', ')}` : ''}`,
            preview.value.bridgeLine,
            preview.value.keyLine,
          ],
        },
        preview.value.keysSection,
      ],
      warnings: [
        md`Check that ${probe.fingerprint} is the replacement's host key (on its console). Confirming pins it and removes the old one everywhere.`,
        ...(alive.length ? [md`--force: ${joinMd(alive, '; ')}.`] : []),
        ...roles.map(
          (r) =>
            md`${h.name} was ${r.role}: the replacement starts without it.${r.afterReplace ? md` Afterwards, ${r.afterReplace}.` : ''}`,
        ),
        ...preview.value.unreachable,
      ],
      pinned: { hostKey: key, roles },
    };
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

/** Like resolveHost, but an IP other than the inventory's is the replacement's mistake, said as such. */
function findReplaced(config: Config, host: string, ip: string | undefined): Resolved {
  const r = resolveHost(config, host);
  if (r.ok && ip && r.host.ip !== ip) {
    return {
      ok: false,
      reason: `The replacement must have the same IP as the failed Host: expected ${r.host.ip} (inventory and Manager), found ${ip}. Give the replacement ${r.host.ip}, then try again.`,
    };
  }
  return r;
}
