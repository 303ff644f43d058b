/**
 * `/flexvdi register-host <fqdn> [<ip>]` (or an inventory name): the seed's first procedure. The plan checks
 * SSH, the host key (first contact shown for confirmation; a changed key refuses), the Host's name, its
 * bridges against a registered Host, and whether there is anything to do. After Confirm: pin the key,
 * register with the Manager, update the SSH keys on every registered Host, check Host↔Host SSH, check the
 * Manager lists the Host.
 */
import { z } from 'zod';
import { defineCommand, type Plan } from '../../../core/plugin.js';
import { md, prose } from '../../../core/text.js';
import { asAppError } from '../../../errors.js';
import { targetOf } from '../../../services.js';
import { pinHostKey } from '../../../ssh/index.js';
import { hostArg, hostIdOf, ipArg, resolveHost } from '../args.js';
import { describeHostname, hostnameMatches } from '../host-state.js';
import { keyId } from '../key-files.js';
import { inspectSubject, keyOfProbe, previewCluster, refuse } from '../preflight.js';
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

export const registerHostCommand = defineCommand<z.output<typeof args>, SubjectPinned>({
  id: 'register-host',
  summary: 'Register a new Host with the Manager and exchange SSH keys with every registered Host',
  examples: ['/flexvdi register-host host4.example.com 10.0.0.14', '/flexvdi register-host host4'],
  args,
  ...subjectCommand,
  pinned: subjectPinnedSchema,
  plan: async (ctx): Promise<Plan<SubjectPinned>> => {
    const { ssh, manager } = ctx.services;
    const r = resolveHost(ctx.services.config, ctx.args.host, ctx.args.ip);
    if (!r.ok) return refuse(md`Register \`${ctx.args.host}\``, prose(r.reason));
    const h = r.host;
    const id = hostIdOf(h);
    const what = md`Register *${h.name}* (\`${h.fqdn}\`, ${h.ip})`;
    const [probe, reg] = await Promise.all([
      ssh.probeHostKey(targetOf(h), { signal: ctx.signal }).catch(asAppError),
      registeredHosts(ctx.services, { signal: ctx.signal }),
    ]);
    if (probe instanceof Error)
      return refuse(what, md`${h.name} is not reachable over SSH: ${prose(probe.userMessage)}`);
    if (probe.pinned === 'mismatch') {
      return refuse(
        what,
        md`The SSH host key of ${h.name} (${h.ip}) is not the pinned one: it presents ${probe.fingerprint}. This can be an attack, or a reinstalled or replaced machine. If the Host was replaced on purpose, use \`/flexvdi replace-host ${h.fqdn}\`.`,
      );
    }
    const key = keyOfProbe(probe);
    const known = reg.manager.has(id) ? await manager.getHost(id) : null;
    if (known?.sshServerKey && known.sshServerKey.split(/\s+/).slice(0, 2).join(' ') !== keyId(key)) {
      return refuse(
        what,
        md`The Manager knows ${id} with another host key than the one ${h.name} presents (${probe.fingerprint}): it is another machine. If it replaces a failed Host, use \`/flexvdi replace-host ${h.fqdn}\`.`,
      );
    }
    const state = await inspectSubject(ctx, h, probe).catch(asAppError);
    if (state instanceof Error) return refuse(what, md`Cannot read ${h.name}: ${prose(state.userMessage)}`);
    if (!hostnameMatches(state, h.fqdn)) {
      return refuse(
        what,
        md`${h.ip} answers as ${describeHostname(state)}, not \`${h.fqdn}\`. Set the Host's name (or fix the address), then try again.`,
      );
    }
    if (!state.flexvdiPub) {
      return refuse(
        what,
        md`On ${h.name}, the user \`flexvdi\` ${state.home ? md`has no SSH key pair (~flexvdi/.ssh/id_*.pub)` : md`does not exist`}. Install the Host as flexVDI requires, then try again.`,
      );
    }
    const preview = await previewCluster(
      ctx,
      what,
      md`${h.name}`,
      { host: h, state, hostKey: key, flexvdiKey: state.flexvdiPub.key },
      reg.hosts,
    );
    if (!preview.ok) return preview.plan;
    const { others, keys } = preview.value;
    const sections = [
      {
        title: md`Preflight`,
        lines: [
          md`• SSH: reachable; host key ${probe.fingerprint} (${probe.keyType}) ${
            probe.pinned === 'match' ? md`matches the pinned one` : md`— *first contact*`
          }`,
          md`• Name: the Host answers as ${describeHostname(state)} ✓`,
          preview.value.bridgeLine,
          preview.value.keyLine,
          md`• Manager: ${known ? md`already registered (${known.status}, ${ago(known.lastHeartbeat)})` : md`not registered yet`}`,
        ],
      },
      preview.value.keysSection,
    ];
    const warnings = [
      ...(probe.pinned === 'unknown'
        ? [
            md`First contact: check that ${probe.fingerprint} is ${h.name}'s host key (\`ssh-keygen -lf /etc/ssh/ssh_host_${probe.keyType.replace(/^ssh-|-.*$/g, '')}_key.pub\` on its console). Confirming pins it.`,
          ]
        : []),
      ...preview.value.unreachable,
      ...reg.outsideInventory.map(
        (x) => md`The Manager also lists ${x}, which is not in the inventory: left alone.`,
      ),
    ];
    if (known && probe.pinned === 'match' && keys.inSync) {
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
      pinned: { hostKey: key },
    };
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
