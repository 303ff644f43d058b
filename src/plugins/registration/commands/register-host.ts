/**
 * `/flexvdi register-host <fqdn> [<ip>]` (or an inventory name): the seed's first procedure. The plan checks
 * SSH, the host key (first contact shown for confirmation; a changed key refuses), the Host's name, its
 * bridges against a registered Host, and whether there is anything to do. After Confirm: pin the key,
 * register with the Manager, update the SSH keys on every registered Host, check Host↔Host SSH, check the
 * Manager lists the Host.
 */
import { z } from 'zod';
import { defineCommand, type Plan } from '../../../core/plugin.js';
import { asAppError } from '../../../errors.js';
import { servicesOf, targetOf } from '../../../services.js';
import { pinHostKey } from '../../../ssh/index.js';
import { hostArg, hostIdOf, ipArg, resolveHost } from '../args.js';
import { describeHostname, hostnameMatches } from '../host-state.js';
import { fingerprintOf, keyId } from '../key-files.js';
import { registeredHosts } from '../members.js';
import {
  checkListed,
  type DistributeResult,
  distributeKeys,
  type ManagerListing,
  type VerifyResult,
  verifyMesh,
} from '../mesh.js';
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

const args = z.object({ host: hostArg, ip: ipArg.optional() }).strict();

const refuse = (summary: string, refused: string): Plan => ({ summary, sections: [], warnings: [], refused });

export const registerHostCommand = defineCommand({
  id: 'register-host',
  summary: 'Register a new Host with the Manager and exchange SSH keys with every registered Host',
  examples: ['/flexvdi register-host host4.example.com 10.0.0.14', '/flexvdi register-host host4'],
  args,
  positionals: ['host', 'ip'],
  mutates: true,
  access: 'admin',
  // Every registered Host's key files change: one registration or replacement at a time.
  locks: (a) => ['registration', a.host.toLowerCase()],
  plan: async (ctx): Promise<Plan> => {
    const { ssh, manager } = servicesOf(ctx.services.extra);
    const config = ctx.services.config;
    const r = resolveHost(config, ctx.args.host, ctx.args.ip);
    if (!r.ok) return refuse(`Register \`${ctx.args.host}\``, r.reason);
    const h = r.host;
    const id = hostIdOf(h);
    const what = `Register *${h.name}* (\`${h.fqdn}\`, ${h.ip})`;
    const [probe, reg] = await Promise.all([
      ssh.probeHostKey(targetOf(h), { signal: ctx.signal }).catch(asAppError),
      registeredHosts(config, manager),
    ]);
    if (probe instanceof Error)
      return refuse(what, `${h.name} is not reachable over SSH: ${probe.userMessage}`);
    if (probe.pinned === 'mismatch') {
      return refuse(
        what,
        `The SSH host key of ${h.name} (${h.ip}) is not the pinned one: it presents ${probe.fingerprint}. ` +
          'This can be an attack, or a reinstalled or replaced machine. If the Host was replaced on purpose, ' +
          `use \`/flexvdi replace-host ${h.fqdn}\`.`,
      );
    }
    const key = keyOfProbe(probe);
    const known = reg.manager.has(id) ? await manager.getHost(id) : null;
    if (known?.sshServerKey && known.sshServerKey.split(/\s+/).slice(0, 2).join(' ') !== keyId(key)) {
      return refuse(
        what,
        `The Manager knows ${id} with another host key than the one ${h.name} presents (${probe.fingerprint}): ` +
          `it is another machine. If it replaces a failed Host, use \`/flexvdi replace-host ${h.fqdn}\`.`,
      );
    }
    const state = await inspectSubject(ctx, h, probe).catch(asAppError);
    if (state instanceof Error) return refuse(what, `Cannot read ${h.name}: ${state.userMessage}`);
    if (!hostnameMatches(state, h.fqdn)) {
      return refuse(
        what,
        `${h.ip} answers as ${describeHostname(state)}, not \`${h.fqdn}\`. Set the Host's name (or fix the address), then try again.`,
      );
    }
    if (!state.flexvdiPub) {
      return refuse(
        what,
        `On ${h.name}, the user \`flexvdi\` ${state.home ? 'has no SSH key pair (~flexvdi/.ssh/id_*.pub)' : 'does not exist'}. Install the Host as flexVDI requires, then try again.`,
      );
    }
    const others = reg.hosts.filter((o) => o.name !== h.name);
    const o = await inspectOthers(ctx, others);
    const bridges = bridgeCheck(h.name, state.bridges, others, o);
    if (bridges.differences.length) {
      return {
        ...refuse(
          what,
          `The virtual bridges of ${h.name} differ from ${bridges.reference}'s; guests could not move between them.`,
        ),
        sections: [{ title: 'Bridge differences', lines: bridges.differences.map((d) => `• ${d}`) }],
      };
    }
    const keys = await keyPreview(config, h, state, key, others, o);
    const sections = [
      {
        title: 'Preflight',
        lines: [
          `• SSH: reachable; host key ${probe.fingerprint} (${probe.keyType}) ${
            probe.pinned === 'match' ? 'matches the pinned one' : '— *first contact*'
          }`,
          `• Name: the Host answers as ${describeHostname(state)} ✓`,
          `• Bridges: ${bridges.summary}`,
          `• flexvdi user key: ${fingerprintOf(state.flexvdiPub.key)}`,
          `• Manager: ${known ? `already registered (${known.status}, ${ago(known.lastHeartbeat)})` : 'not registered yet'}`,
        ],
      },
      { title: `SSH keys (${others.length + 1} Hosts)`, lines: keys.lines },
    ];
    const warnings = [
      ...(probe.pinned === 'unknown'
        ? [
            `First contact: check that ${probe.fingerprint} is ${h.name}'s host key (\`ssh-keygen -lf /etc/ssh/ssh_host_${probe.keyType.replace(/^ssh-|-.*$/g, '')}_key.pub\` on its console). Confirming pins it.`,
          ]
        : []),
      ...unreachableWarnings(o),
      ...reg.outsideInventory.map(
        (x) => `The Manager also lists ${x}, which is not in the inventory: left alone.`,
      ),
    ];
    if (known && probe.pinned === 'match' && keys.inSync) {
      return {
        summary: `${h.name} (\`${h.fqdn}\`) is already registered and its SSH keys are in sync on all ${others.length + 1} Hosts: nothing to do.`,
        sections,
        warnings,
        noop: true,
      };
    }
    return {
      summary: known
        ? `${h.name} is already registered with the Manager: refresh its registration and bring the SSH keys back in sync`
        : `${what} with the Manager (id \`${id}\`) and exchange SSH keys with ${others.length} registered Host${others.length === 1 ? '' : 's'}`,
      sections,
      warnings,
      pinned: { hostKey: key, firstContact: probe.pinned === 'unknown' },
    };
  },
  steps: [
    {
      id: 'pin-host-key',
      title: 'Pin the host key (first contact) or check it is unchanged',
      run: async (ctx) => {
        const { ssh } = servicesOf(ctx.services.extra);
        const h = subjectOf(ctx);
        const key = pinnedKey(ctx);
        const probe = await ssh.probeHostKey(targetOf(h), { signal: ctx.signal });
        checkUnchanged(h, probe, key);
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
    },
    {
      id: 'register',
      title: 'Register the Host with the Manager',
      run: (ctx) => registerWithManager(ctx, subjectOf(ctx)),
    },
    {
      id: 'distribute-keys',
      title: 'Update the SSH keys on every registered Host',
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
    const pin = ctx.results['pin-host-key'] as { fingerprint: string; pinnedNow: boolean };
    const reg = ctx.results['register'] as Registration;
    const dist = ctx.results['distribute-keys'] as DistributeResult;
    const ver = ctx.results['verify'] as VerifyResult;
    const listed = ctx.results['manager-lists'] as ManagerListing;
    return {
      summary:
        `*${h.name}* (\`${reg.hostId}\`) is registered: the Manager lists it (${listed.status}); SSH keys in sync on ` +
        `${dist.members.length} Host${dist.members.length === 1 ? '' : 's'}; ${ver.checked.length} Host↔Host SSH connection${ver.checked.length === 1 ? '' : 's'} verified.`,
      sections: [
        {
          title: 'Per Host',
          lines: dist.members.map((n) => {
            const o = dist.hosts[n];
            const ssh =
              n === h.name
                ? ''
                : ` · ssh ${ver.checked.includes(`${n}→${h.name}`) ? '→✓' : ''}${ver.checked.includes(`${h.name}→${n}`) ? '←✓' : ''}`;
            return `• *${n}*: ${o?.earlier ? 'done in an earlier run' : o?.changes || 'already in sync'}${ssh}`;
          }),
        },
        {
          lines: [
            `Host key ${pin.fingerprint}${pin.pinnedNow ? ' pinned (first contact)' : ''}; flexvdi key ${reg.flexvdiKey}.`,
          ],
        },
      ],
    };
  },
});
