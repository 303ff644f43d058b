/**
 * `/flexvdi ocfs2 status`: per Host, whether /etc/ocfs2/cluster.conf exists and whether it is identical to
 * the other Hosts' (OCFS2 needs it byte-identical on every node), and the o2cb settings that must match.
 * Read-only. Unreachable Hosts are reported, not fatal.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { defineCommand } from '../../../core/plugin.js';
import { servicesOf, targetOf } from '../../../services.js';
import { fanout } from '../../../ssh/index.js';

export const CLUSTER_CONF = '/etc/ocfs2/cluster.conf';
export const O2CB_DEFAULTS = '/etc/default/o2cb';
const O2CB_KEYS = [
  'O2CB_HEARTBEAT_THRESHOLD',
  'O2CB_IDLE_TIMEOUT_MS',
  'O2CB_KEEPALIVE_DELAY_MS',
  'O2CB_RECONNECT_DELAY_MS',
];

export interface HostOcfs2State {
  host: string;
  reachable: boolean;
  error?: string;
  confSha256?: string | null;
  timeouts?: Record<string, string>;
}

export function parseO2cbDefaults(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*"?([^"#]*)"?/.exec(line);
    if (m && O2CB_KEYS.includes(m[1]!)) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

export const ocfs2StatusCommand = defineCommand({
  id: 'ocfs2 status',
  summary: 'OCFS2 on every Host: cluster.conf present and identical, o2cb timeouts equal',
  examples: ['/flexvdi ocfs2 status'],
  args: z.object({}).strict(),
  positionals: [],
  mutates: false,
  access: 'anyone',
  plan: () => ({ summary: 'Read the OCFS2 configuration of every Host', sections: [], warnings: [] }),
  steps: [
    {
      id: 'read',
      title: 'Read cluster.conf and o2cb settings on every Host',
      run: async (ctx): Promise<HostOcfs2State[]> => {
        const { ssh } = servicesOf(ctx.services.extra);
        const inv = ctx.services.config.inventory;
        const results = await fanout(
          inv.hosts.map(targetOf),
          async (t, signal) => {
            ctx.progress.host(t.name, 'running');
            const opts = signal ? { signal } : {};
            const conf = await ssh.readFile(t, CLUSTER_CONF, opts);
            const defaults = await ssh.readFile(t, O2CB_DEFAULTS, opts);
            ctx.progress.host(t.name, 'ok');
            return {
              confSha256: conf === null ? null : createHash('sha256').update(conf).digest('hex'),
              timeouts: parseO2cbDefaults(defaults ?? ''),
            };
          },
          { concurrency: inv.ssh.concurrency, signal: ctx.signal },
        );
        return results.map((r) => {
          if (r.ok) return { host: r.target.name, reachable: true, ...r.value };
          ctx.progress.host(r.target.name, 'failed', r.error.code);
          return { host: r.target.name, reachable: false, error: r.error.userMessage };
        });
      },
    },
  ],
  result: ({ results }) => {
    const hosts = (results['read'] ?? []) as HostOcfs2State[];
    const confs = new Map<string, string[]>();
    for (const h of hosts)
      if (h.confSha256) confs.set(h.confSha256, [...(confs.get(h.confSha256) ?? []), h.host]);
    const majority = [...confs.entries()].sort((a, b) => b[1].length - a[1].length)[0]?.[0];
    const timeoutSets = new Set(hosts.filter((h) => h.reachable).map((h) => JSON.stringify(h.timeouts)));
    const lines = hosts.map((h) => {
      if (!h.reachable) return `• *${h.host}*: unreachable — ${h.error}`;
      if (!h.confSha256) return `• *${h.host}*: no cluster.conf`;
      const same = h.confSha256 === majority;
      return `• *${h.host}*: cluster.conf \`${h.confSha256.slice(0, 12)}\`${same ? '' : ' :warning: differs from the others'}`;
    });
    const drift = confs.size > 1 || timeoutSets.size > 1;
    return {
      summary: drift
        ? ':warning: drift: cluster.conf or o2cb timeouts differ between Hosts'
        : confs.size === 0
          ? 'No Host has an OCFS2 cluster.conf yet'
          : `cluster.conf identical on ${confs.get(majority!)!.length} Host(s)`,
      sections: [
        { lines },
        ...(timeoutSets.size > 1
          ? [
              {
                title: 'o2cb timeouts differ',
                lines: hosts
                  .filter((h) => h.reachable)
                  .map((h) => `• ${h.host}: ${JSON.stringify(h.timeouts)}`),
              },
            ]
          : []),
      ],
    };
  },
});
