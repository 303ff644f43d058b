/**
 * `/flexvdi hosts`: every Host of the inventory, with the Manager's view of it (status, last heartbeat) and,
 * for the registered Hosts, whether their SSH key files hold every registered Host's keys (the state
 * register-host and replace-host leave). Read-only: no plan, no confirmation. A Manager or a Host that does
 * not answer is reported, never fatal.
 */
import { z } from 'zod';
import { defineCommand } from '../../../core/plugin.js';
import { asAppError } from '../../../errors.js';
import type { HostSummary } from '../../../manager/index.js';
import { servicesOf, targetOf } from '../../../services.js';
import { fanout } from '../../../ssh/index.js';
import { hostIdOf } from '../args.js';
import { type HostState, inspectHost } from '../host-state.js';
import { describeDrift, driftOf, memberOf, productPins, registeredFrom } from '../members.js';
import { ago } from '../shared-steps.js';

interface ManagerView {
  ok: boolean;
  error?: string;
  hosts: HostSummary[];
}

interface KeysView {
  checked: boolean;
  hosts: Record<string, { state: 'in-sync' | 'out-of-sync' | 'unchecked'; detail: string }>;
}

export const hostsCommand = defineCommand({
  id: 'hosts',
  summary: "List the Hosts: address, the Manager's status and last heartbeat, SSH keys in sync",
  examples: ['/flexvdi hosts'],
  args: z.object({}).strict(),
  positionals: [],
  mutates: false,
  access: 'anyone',
  plan: () => ({ summary: 'List the Hosts', sections: [], warnings: [] }),
  steps: [
    {
      id: 'inventory',
      title: 'Read the inventory',
      run: async ({ services }) =>
        services.config.inventory.hosts.map((h) => ({ name: h.name, fqdn: h.fqdn, ip: h.ip, port: h.port })),
    },
    {
      id: 'manager',
      title: "Read the Manager's Host list",
      run: async (ctx): Promise<ManagerView> => {
        const { manager } = servicesOf(ctx.services.extra);
        try {
          return { ok: true, hosts: await manager.listHosts() };
        } catch (err) {
          return { ok: false, error: asAppError(err).userMessage, hosts: [] };
        }
      },
    },
    {
      id: 'keys',
      title: 'Check the SSH keys on the registered Hosts',
      run: async (ctx): Promise<KeysView> => {
        if (!(ctx.results['manager'] as ManagerView).ok) return { checked: false, hosts: {} };
        const { ssh } = servicesOf(ctx.services.extra);
        const config = ctx.services.config;
        const reg = registeredFrom(config, (ctx.results['manager'] as ManagerView).hosts);
        const read = await fanout(
          reg.hosts.map(targetOf),
          (t, signal) => {
            ctx.progress.host(t.name, 'running');
            return inspectHost(ssh, t, signal);
          },
          { concurrency: config.inventory.ssh.concurrency, signal: ctx.signal },
        );
        const states = new Map<string, HostState>();
        const hosts: KeysView['hosts'] = {};
        for (const r of read) {
          if (r.ok) states.set(r.target.name, r.value);
          else {
            hosts[r.target.name] = { state: 'unchecked', detail: asAppError(r.error).userMessage };
            ctx.progress.host(r.target.name, 'failed', r.error.code);
          }
        }
        const pins = await productPins(config, reg.hosts);
        const members = reg.hosts.map((h) =>
          memberOf(h, states.get(h.name)?.flexvdiPub?.key ?? null, pins.get(h.name) ?? []),
        );
        for (const [name, s] of states) {
          const d = driftOf(s, members);
          const missingKey = members.some((m) => !m.flexvdiKey);
          hosts[name] = !d.inSync
            ? { state: 'out-of-sync', detail: `a sync would do ${describeDrift(d)}` }
            : { state: 'in-sync', detail: missingKey ? 'with the Hosts that answered' : '' };
          ctx.progress.host(name, 'ok');
        }
        return { checked: true, hosts };
      },
    },
  ],
  result: ({ results }) => {
    const hosts = (results['inventory'] ?? []) as { name: string; fqdn: string; ip: string; port: number }[];
    const mgr = (results['manager'] ?? { ok: false, hosts: [] }) as ManagerView;
    const keys = (results['keys'] ?? { checked: false, hosts: {} }) as KeysView;
    const byId = new Map(mgr.hosts.map((h) => [h.hostId.toLowerCase(), h]));
    const registered = hosts.filter((h) => byId.has(hostIdOf(h)));
    const outOfSync = registered.filter((h) => keys.hosts[h.name]?.state === 'out-of-sync');
    const unchecked = registered.filter((h) => keys.hosts[h.name]?.state === 'unchecked');
    const lines = hosts.map((h) => {
      const m = byId.get(hostIdOf(h));
      const head = `• *${h.name}* \`${h.fqdn}\` ${h.ip}:${h.port}`;
      if (!mgr.ok) return head;
      if (!m) return `${head} — not registered with the Manager`;
      const k = keys.hosts[h.name];
      const keyText = !k
        ? 'keys not checked'
        : k.state === 'in-sync'
          ? `keys in sync ✓${k.detail ? ` (${k.detail})` : ''}`
          : k.state === 'out-of-sync'
            ? `:warning: keys out of sync (${k.detail})`
            : `keys not checked: ${k.detail}`;
      return `${head} — ${m.status}, ${ago(m.lastHeartbeat)} — ${keyText}`;
    });
    const head = `${hosts.length} Host${hosts.length === 1 ? '' : 's'} in the inventory`;
    const tail = !mgr.ok
      ? `; the Manager could not be read: ${mgr.error}`
      : `, ${registered.length} registered with the Manager${
          registered.length === 0
            ? ''
            : [
                outOfSync.length
                  ? `; :warning: SSH keys out of sync on ${outOfSync.map((h) => h.name).join(', ')}`
                  : unchecked.length
                    ? ''
                    : '; SSH keys in sync',
                unchecked.length ? `; not reachable: ${unchecked.map((h) => h.name).join(', ')}` : '',
              ].join('')
        }`;
    const strangers = mgr.hosts.filter((m) => !hosts.some((h) => hostIdOf(h) === m.hostId.toLowerCase()));
    return {
      summary: head + tail,
      sections: [
        { lines },
        ...(strangers.length
          ? [
              {
                title: 'Known to the Manager, not in the inventory',
                lines: strangers.map((s) => `• \`${s.hostId}\` ${s.status}`),
              },
            ]
          : []),
      ],
    };
  },
});
