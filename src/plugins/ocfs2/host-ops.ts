/**
 * What the OCFS2 commands do on one Host, over the product's SSH: read its OCFS2 state (what the Host
 * answers as — hostname, addresses — comes from the registration plugin's inspection), install a
 * cluster.conf and the o2cb settings (atomic writes, previous file kept as a timestamped backup — made only
 * when the content changes, so running a write twice leaves one backup), bring o2cb online and read it all
 * back. Every operation is idempotent. `service o2cb online` exits 0 even when it fails (the real init script
 * does), so only `o2cb cluster-status` decides whether the cluster is online.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../config.js';
import { AppError } from '../../errors.js';
import { targetOf } from '../../services.js';
import type { SshPool, SshTarget } from '../../ssh/index.js';
import type { RegistrationApi } from '../registration/api.js';
import { CLUSTER_CONF, clusterNameRe, modelOf, pinnedCluster, sameCluster, sha256 } from './cluster-conf.js';
import { Ocfs2ErrorCode } from './errors.js';
import {
  O2CB_DEFAULT,
  type O2cbTimeouts,
  o2cbTimeoutsSchema,
  renderSettings,
  sameTimeouts,
  settingsStateOf,
  timeoutsOf,
} from './o2cb-settings.js';

/** What OCFS2 reads on a Host (the Host itself — hostname, addresses — is the registration plugin's). */
export const ocfs2FilesSchema = z.object({
  /** /etc/ocfs2/cluster.conf, or null when absent. */
  conf: z.string().nullable(),
  /** The o2cb settings file the init script reads on this Host. */
  settingsPath: z.string(),
  settings: z.string().nullable(),
  /** The cluster o2cb has online, or null when offline. */
  online: z.string().nullable(),
});
export type Ocfs2Files = z.output<typeof ocfs2FilesSchema>;

/** A Host as the OCFS2 commands see it: its OCFS2 files and state, and what it answers as. */
export const hostOcfs2Schema = ocfs2FilesSchema.extend({
  /** The Host's hostname: what the kernel matches node names against. */
  hostname: z.string(),
  /** Its IPv4 addresses. */
  addresses: z.array(z.string()),
});
export type HostOcfs2 = z.output<typeof hostOcfs2Schema>;

const READ = `
if [ -f /etc/sysconfig/o2cb ]; then echo settings=/etc/sysconfig/o2cb; else echo settings=${O2CB_DEFAULT}; fi
if ! command -v o2cb >/dev/null 2>&1; then echo o2cb=missing; exit 0; fi
echo "status=$(o2cb cluster-status 2>/dev/null)"
`;

/** cluster.conf, the o2cb settings and whether o2cb is online; `ocfs2.tools_missing` without ocfs2-tools. */
export async function readOcfs2(ssh: SshPool, t: SshTarget, signal: AbortSignal): Promise<Ocfs2Files> {
  const r = await ssh.exec(t, ['sh', '-c', READ], { signal });
  const kv = r.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
  const get = (k: string) => kv.find(([key]) => key === k)?.[1];
  if (get('o2cb') === 'missing') {
    throw new AppError(Ocfs2ErrorCode.toolsMissing, `no o2cb on ${t.name}`, {
      userMessage: `${t.name} has no \`o2cb\`: install ocfs2-tools on it first.`,
    });
  }
  const settingsPath = get('settings') ?? O2CB_DEFAULT;
  const [conf, settings] = await Promise.all([
    ssh.readFile(t, CLUSTER_CONF, { signal }),
    ssh.readFile(t, settingsPath, { signal }),
  ]);
  return {
    conf,
    settingsPath,
    settings,
    online: /^Cluster '([^']+)' is online/.exec(get('status') ?? '')?.[1] ?? null,
  };
}

/** The Host's OCFS2 state with its hostname and addresses, as the registration plugin inspects them. */
export async function inspectNode(
  registration: RegistrationApi,
  ssh: SshPool,
  h: InventoryHost,
  signal: AbortSignal,
): Promise<HostOcfs2> {
  const [host, files] = await Promise.all([
    registration.inspect(h, signal),
    readOcfs2(ssh, targetOf(h), signal),
  ]);
  return { hostname: host.hostname, addresses: host.addresses.map((a) => a.address), ...files };
}

export const writeOutcomeSchema = z.object({ changed: z.boolean(), backup: z.string().nullable() });
export type WriteOutcome = z.output<typeof writeOutcomeSchema>;

/**
 * Installs `text` as cluster.conf. `expectedBefore` (sha256 of the file at plan time, null = absent) guards
 * against overwriting a file someone changed after the plan was confirmed; the planned content itself is
 * always accepted, so a re-run after a crash passes.
 */
export async function installConf(
  ssh: SshPool,
  t: SshTarget,
  text: string,
  signal: AbortSignal,
  expectedBefore?: string | null,
): Promise<WriteOutcome> {
  await ssh.exec(t, ['install', '-d', '-m', '0755', '/etc/ocfs2'], { signal });
  const current = await ssh.readFile(t, CLUSTER_CONF, { signal });
  if (current === text) return { changed: false, backup: null };
  const now = current === null ? null : sha256(current);
  if (expectedBefore !== undefined && now !== expectedBefore) {
    throw new AppError(
      Ocfs2ErrorCode.changedSincePlan,
      `${CLUSTER_CONF} on ${t.name} changed since the plan`,
      {
        userMessage: `${CLUSTER_CONF} on ${t.name} changed after the plan was made (${now === null ? 'it was removed' : `now sha256 ${now.slice(0, 12)}`}). Nothing was written; run the command again for a fresh plan.`,
      },
    );
  }
  const r = await ssh.writeFileAtomic(t, CLUSTER_CONF, text, { backup: true, mode: 0o644, signal });
  return { changed: r.changed, backup: r.backupPath ?? null };
}

/** Enables o2cb at boot for `cluster` with `timeouts`, keeping the rest of the Host's settings file. */
export async function installSettings(
  ssh: SshPool,
  t: SshTarget,
  path: string,
  cluster: string,
  timeouts: O2cbTimeouts,
  signal: AbortSignal,
): Promise<WriteOutcome> {
  const old = await ssh.readFile(t, path, { signal });
  const text = renderSettings(old, cluster, timeouts);
  if (text === old) return { changed: false, backup: null };
  const r = await ssh.writeFileAtomic(t, path, text, { backup: true, signal });
  return { changed: r.changed, backup: r.backupPath ?? null };
}

const ONLINE = `
c=$1
if o2cb cluster-status "$c" >/dev/null 2>&1; then echo "o2cb: cluster $c already online"; exit 0; fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl enable o2cb.service >/dev/null 2>&1 || echo "warning: systemctl enable o2cb.service failed"
fi
if command -v service >/dev/null 2>&1; then service o2cb online "$c" 2>&1; else /etc/init.d/o2cb online "$c" 2>&1; fi
o2cb cluster-status "$c" 2>&1
`;

/** Brings o2cb online for `cluster` (no-op when it is); fails unless `o2cb cluster-status` says online. */
export async function bringOnline(
  ssh: SshPool,
  t: SshTarget,
  cluster: string,
  signal: AbortSignal,
): Promise<{ already: boolean; output: string }> {
  const r = await ssh.exec(t, ['sh', '-c', ONLINE, 'online', cluster], { signal, allowNonZero: true });
  const output = `${r.stdout}${r.stderr}`.trim();
  if (r.code !== 0) {
    throw new AppError(Ocfs2ErrorCode.onlineFailed, `o2cb did not come online on ${t.name}`, {
      userMessage: `o2cb did not come online on ${t.name}: ${output.split('\n').slice(-4).join(' / ').slice(0, 600)}`,
    });
  }
  return { already: /already online/.test(output), output };
}

/** What a Host must end up with: the pinned cluster.conf (byte for byte), its cluster, the o2cb timeouts. */
export const expectedSchema = z.object({
  conf: z.string().min(1),
  cluster: z.string().regex(clusterNameRe),
  timeouts: o2cbTimeoutsSchema,
});
export type Expected = z.output<typeof expectedSchema>;

/** Refines a pin holding a cluster.conf: the file must be a valid one of the pinned cluster. */
export function pinnedConfIsValid(p: Expected, ctx: z.RefinementCtx): void {
  const r = modelOf(p.conf, p.cluster);
  if (!r.model || r.problems.length)
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['conf'],
      message: `not a valid ${CLUSTER_CONF} of cluster ${p.cluster}`,
    });
}

export const verifiedSchema = z.object({ nodes: z.number().int(), sha256: z.string() });

/**
 * Reads it all back: the file's checksum, the real `o2cb list-cluster` parsed and compared with the planned
 * cluster, o2cb online, the settings' timeouts. Throws `ocfs2.verify_failed` naming every difference.
 */
export async function verifyHost(
  ssh: SshPool,
  t: SshTarget,
  want: Expected,
  signal: AbortSignal,
): Promise<z.output<typeof verifiedSchema>> {
  const s = await readOcfs2(ssh, t, signal);
  const problems: string[] = [];
  const planned = pinnedCluster(want.conf, want.cluster);
  if (s.conf === null) problems.push(`${CLUSTER_CONF} is missing`);
  else if (s.conf !== want.conf)
    problems.push(`${CLUSTER_CONF} is not the planned file (sha256 ${sha256(s.conf).slice(0, 12)})`);
  const listed = await ssh.exec(t, ['o2cb', `--config-file=${CLUSTER_CONF}`, 'list-cluster', want.cluster], {
    signal,
    allowNonZero: true,
  });
  // list-cluster exits 0 even for an unknown cluster: the output decides.
  const read = modelOf(listed.stdout, want.cluster).model;
  if (!read)
    problems.push(`\`o2cb list-cluster ${want.cluster}\` does not know the cluster: ${listed.stderr.trim()}`);
  else if (!sameCluster(read, planned))
    problems.push(
      `\`o2cb list-cluster\` reads ${read.nodes.length} nodes, not the ${planned.nodes.length} planned`,
    );
  if (s.online !== want.cluster) problems.push(`o2cb is ${s.online ? `online for ${s.online}` : 'offline'}`);
  const st = settingsStateOf(s.settings);
  if (!sameTimeouts(timeoutsOf(s.settings), want.timeouts))
    problems.push(`${s.settingsPath} has other timeouts`);
  if (!st.enabled || st.bootCluster !== want.cluster)
    problems.push(`${s.settingsPath} does not start cluster ${want.cluster} at boot`);
  if (problems.length) {
    throw new AppError(Ocfs2ErrorCode.verifyFailed, `verification failed on ${t.name}`, {
      userMessage: `Reading back on ${t.name} found: ${problems.join('; ')}.`,
    });
  }
  return { nodes: planned.nodes.length, sha256: sha256(want.conf) };
}
