/**
 * `/flexvdi hosts`: every Host of the inventory, with the Manager's view of it (status, last heartbeat) and,
 * for the registered Hosts, whether their SSH key files hold every registered Host's keys (the state
 * register-host and replace-host leave). Read-only: no plan, no confirmation. A Manager or a Host that does
 * not answer is reported, never fatal: the result then says `findings`, as it does for keys out of sync.
 */
import { z } from 'zod';
import { defineCommand, NO_PINS, type NoDeps, type Step } from '../../../core/plugin.js';
import { type Md, md, mdSchema, plural, prose } from '../../../core/text.js';
import { asAppError } from '../../../errors.js';
import { hostStatuses } from '../../../manager/index.js';
import { targetOf } from '../../../services.js';
import { fanout } from '../../../ssh/index.js';
import { hostIdOf } from '../args.js';
import { type HostState, inspectHost } from '../host-state.js';
import { describeDrift, driftOf, memberOf, productPins } from '../members.js';
import { registeredHosts } from '../registry-api.js';
import { ago } from '../shared-steps.js';

type Args = Record<never, never>;
const hostsStep = <O>(s: Step<Args, null, NoDeps, O>): Step<Args, null, NoDeps, O> => s;

const inventoryStep = hostsStep({
  id: 'inventory',
  title: 'Read the inventory',
  output: z.array(z.object({ name: z.string(), fqdn: z.string(), ip: z.string(), port: z.number() })),
  run: async ({ services }) =>
    services.config.inventory.hosts.map((h) => ({ name: h.name, fqdn: h.fqdn, ip: h.ip, port: h.port })),
});

const managerStep = hostsStep({
  id: 'manager',
  title: "Read the Manager's Host list",
  output: z.object({
    /** `inventory`: the Manager did not answer (`error` says why). */
    from: z.enum(['manager', 'inventory']),
    error: z.string().optional(),
    /** Inventory names of the registered Hosts. */
    registered: z.array(z.string()),
    listed: z.array(
      z.object({ hostId: z.string(), status: z.enum(hostStatuses), lastHeartbeat: z.string().nullable() }),
    ),
    outsideInventory: z.array(z.string()),
  }),
  run: async (ctx) => {
    const reg = await registeredHosts(ctx.services, { fallback: 'inventory', signal: ctx.signal });
    if (reg.from !== 'manager')
      ctx.finding(`the Manager could not be read: ${reg.managerError ?? 'no answer'}`);
    return {
      from: reg.from,
      ...(reg.managerError === undefined ? {} : { error: reg.managerError }),
      registered: reg.from === 'manager' ? reg.hosts.map((h) => h.name) : [],
      listed: [...reg.manager.values()],
      outsideInventory: reg.outsideInventory,
    };
  },
});

const keysStep = hostsStep({
  id: 'keys',
  title: 'Check the SSH keys on the registered Hosts',
  output: z.object({
    checked: z.boolean(),
    hosts: z.record(
      z.object({ state: z.enum(['in-sync', 'out-of-sync', 'unchecked']), detail: mdSchema.optional() }),
    ),
  }),
  run: async (ctx) => {
    const mgr = ctx.result(managerStep);
    if (mgr.from !== 'manager') return { checked: false, hosts: {} };
    const { ssh, config } = ctx.services;
    const registered = config.inventory.hosts.filter((h) => mgr.registered.includes(h.name));
    const read = await fanout(
      registered.map(targetOf),
      (t, signal) => {
        ctx.progress.host(t.name, 'running');
        return inspectHost(ssh, t, signal);
      },
      { concurrency: config.inventory.ssh.concurrency, signal: ctx.signal },
    );
    const states = new Map<string, HostState>();
    const hosts: Record<string, { state: 'in-sync' | 'out-of-sync' | 'unchecked'; detail?: Md }> = {};
    for (const r of read) {
      if (r.ok) states.set(r.target.name, r.value);
      else {
        hosts[r.target.name] = { state: 'unchecked', detail: prose(asAppError(r.error).userMessage) };
        ctx.progress.host(r.target.name, 'failed', r.error.code);
      }
    }
    const unread = Object.keys(hosts);
    if (unread.length) ctx.finding(`could not read ${unread.join(', ')}`);
    const pins = await productPins(config, registered);
    const members = registered.map((h) =>
      memberOf(h, states.get(h.name)?.flexvdiPub?.key ?? null, pins.get(h.name) ?? []),
    );
    const missingKey = members.some((m) => !m.flexvdiKey);
    for (const [name, s] of states) {
      const d = driftOf(s, members);
      hosts[name] = !d.inSync
        ? { state: 'out-of-sync', detail: md`a sync would do ${describeDrift(d)}` }
        : missingKey
          ? { state: 'in-sync', detail: md`with the Hosts that answered` }
          : { state: 'in-sync' };
      ctx.progress.host(name, 'ok');
    }
    return { checked: true, hosts };
  },
});

export const hostsCommand = defineCommand<Args, null>({
  id: 'hosts',
  summary: "List the Hosts: address, the Manager's status and last heartbeat, SSH keys in sync",
  examples: ['/flexvdi hosts'],
  args: z.object({}).strict(),
  positionals: [],
  mutates: false,
  access: 'anyone',
  pinned: NO_PINS,
  plan: () => ({ summary: md`List the Hosts`, sections: [], warnings: [] }),
  steps: [inventoryStep, managerStep, keysStep],
  result: (ctx) => {
    const hosts = ctx.result(inventoryStep);
    const mgr = ctx.result(managerStep);
    const keys = ctx.result(keysStep);
    const byId = new Map(mgr.listed.map((h) => [h.hostId.toLowerCase(), h]));
    const managerOk = mgr.from === 'manager';
    const registered = hosts.filter((h) => mgr.registered.includes(h.name));
    const outOfSync = registered.filter((h) => keys.hosts[h.name]?.state === 'out-of-sync');
    const unchecked = registered.filter((h) => keys.hosts[h.name]?.state === 'unchecked');
    const names = (l: readonly { name: string }[]) => l.map((h) => h.name).join(', ');
    const lines = hosts.map((h) => {
      const m = byId.get(hostIdOf(h));
      const head = md`• *${h.name}* \`${h.fqdn}\` ${h.ip}:${h.port}`;
      if (!managerOk) return head;
      if (!m) return md`${head} — not registered with the Manager`;
      const k = keys.hosts[h.name];
      const keyText = !k
        ? md`keys not checked`
        : k.state === 'in-sync'
          ? md`keys in sync ✓${k.detail ? md` (${k.detail})` : ''}`
          : k.state === 'out-of-sync'
            ? md`:warning: keys out of sync (${k.detail ?? ''})`
            : md`keys not checked: ${k.detail ?? ''}`;
      return md`${head} — ${m.status}, ${ago(m.lastHeartbeat)} — ${keyText}`;
    });
    const head = md`${plural(hosts.length, 'Host')} in the inventory`;
    const keysTail = registered.length
      ? md`${
          outOfSync.length
            ? md`; :warning: SSH keys out of sync on ${names(outOfSync)}`
            : unchecked.length
              ? ''
              : md`; SSH keys in sync`
        }${unchecked.length ? md`; not reachable: ${names(unchecked)}` : ''}`
      : md``;
    const tail = managerOk
      ? md`, ${registered.length} registered with the Manager${keysTail}`
      : md`; the Manager could not be read: ${prose(mgr.error ?? 'no answer')}`;
    return {
      summary: md`${head}${tail}`,
      sections: [
        { lines },
        ...(mgr.outsideInventory.length
          ? [
              {
                title: md`Known to the Manager, not in the inventory`,
                lines: mgr.outsideInventory.map((id) => {
                  const m = byId.get(id);
                  return md`• \`${m?.hostId ?? id}\` ${m?.status ?? ''}`;
                }),
              },
            ]
          : []),
      ],
      outcome: !managerOk || outOfSync.length || unchecked.length ? 'findings' : 'completed',
    };
  },
});
