/**
 * The flexVDI Manager as a guest of a Host, driven over SSH through the Host-side contract (modelled: the
 * testbed implements it in src/testbed/scripts/flexvdi-manager.sh; on a real Host the same tool would sit over
 * libvirt and the Manager VM's disk image):
 *   `flexvdi-manager status`  key=value: state=running|stopped (on this Host), disk, address, pid,
 *                             lease_owner, lease_expires_ms (the lease next to the disk image)
 *   `flexvdi-manager start`   claims the lease and starts the guest from DISK; 0 once its API answers,
 *                             2 the disk image is missing here, 3 another Host holds a live lease, 1 other
 *   `flexvdi-manager stop`    graceful stop, lease released; 0 also when it does not run here
 *   /etc/flexvdi/manager.conf DISK=<image>, ADDRESS=<ip>, optional LEASE_MS — read on every call; the product
 *                             rewrites DISK (on every Host) when it moves the image.
 * Parsers and the conf edit are pure (unit tests); the rest is one SSH command each.
 */
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { SshPool, SshTarget } from '../../ssh/index.js';
import { IMAGE_STORAGE_ROOT } from './volume-ops.js';

export const MANAGER_CONF = '/etc/flexvdi/manager.conf';
export const MANAGER_IMAGE = 'flexvdi-manager.img';

/** Error codes of the Manager procedures (move-to, start-on). */
export const ManagerErrorCode = {
  /** `flexvdi-manager` answered something that is not its status. */
  statusUnreadable: 'manager.status_unreadable',
  /** start: the disk image is not on this Host (exit 2). */
  diskMissing: 'manager.disk_missing',
  /** start: another Host holds a live lease (exit 3): the old Manager may still run. */
  leaseHeld: 'manager.lease_held',
  /** start or stop failed otherwise. */
  controlFailed: 'manager.control_failed',
  /** The copy's checksum differs from the source's. */
  copyMismatch: 'manager.copy_mismatch',
  /** After the start, the API does not answer or does not list the Hosts it listed before. */
  verifyFailed: 'manager.verify_failed',
  /** move-to failed and was rolled back: the Manager runs from its original image again. */
  rolledBack: 'manager.rolled_back',
  /** move-to failed and so did the rollback: the Manager may be down; a person must look. */
  rollbackFailed: 'manager.rollback_failed',
  /** Plan refusals: where it runs, health, the volume, the lease. */
  notMovable: 'manager.not_movable',
} as const;

export const managerStatusSchema = z.object({
  running: z.boolean(),
  disk: z.string(),
  address: z.string(),
  leaseOwner: z.string().nullable(),
  leaseExpiresMs: z.number().nullable(),
});
export type ManagerStatus = z.output<typeof managerStatusSchema>;

/** `flexvdi-manager status`'s answer, or null when it is not one (no state= or disk= line). */
export function parseManagerStatus(stdout: string): ManagerStatus | null {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const state = kv.get('state');
  const disk = kv.get('disk');
  if ((state !== 'running' && state !== 'stopped') || !disk) return null;
  const expires = kv.get('lease_expires_ms') ?? '';
  return {
    running: state === 'running',
    disk,
    address: kv.get('address') ?? '',
    leaseOwner: kv.get('lease_owner') || null,
    leaseExpiresMs: /^\d+$/.test(expires) ? Number(expires) : null,
  };
}

/** Whether a lease is live at `now`: held, and not expired. */
export const leaseLive = (s: Pick<ManagerStatus, 'leaseOwner' | 'leaseExpiresMs'>, now: number): boolean =>
  s.leaseOwner !== null && s.leaseExpiresMs !== null && s.leaseExpiresMs > now;

/** Whether a disk image path is on an Image Storage (a shared OCFS2 volume every Host mounts). */
export const onSharedStorage = (disk: string): boolean => disk.startsWith(`${IMAGE_STORAGE_ROOT}/`);

/** The Image Storage a shared disk path is on (`/var/lib/flexvdi/image-storages/<name>/…`), or null. */
export function imageStorageOf(disk: string): string | null {
  if (!onSharedStorage(disk)) return null;
  return disk.slice(IMAGE_STORAGE_ROOT.length + 1).split('/')[0] || null;
}

/** The conf with DISK set to `disk` (other lines kept; DISK added when missing). */
export function confWithDisk(current: string, disk: string): string {
  const lines = current.split('\n');
  let found = false;
  const out = lines.map((l) => {
    if (!/^DISK=/.test(l)) return l;
    found = true;
    return `DISK=${disk}`;
  });
  if (!found) {
    if (out.length && out[out.length - 1] === '') out.splice(out.length - 1, 0, `DISK=${disk}`);
    else out.push(`DISK=${disk}`, '');
  }
  return out.join('\n');
}

export async function managerStatus(ssh: SshPool, t: SshTarget, signal: AbortSignal): Promise<ManagerStatus> {
  const r = await ssh.exec(t, ['flexvdi-manager', 'status'], {
    signal,
    allowNonZero: true,
    timeoutMs: 30_000,
  });
  const s = r.code === 0 ? parseManagerStatus(r.stdout) : null;
  if (!s)
    throw new AppError(
      ManagerErrorCode.statusUnreadable,
      `flexvdi-manager status on ${t.name}: ${r.stderr}`,
      {
        userMessage: `${t.name} did not answer \`flexvdi-manager status\` (exit ${r.code ?? r.signal}): ${r.stderr.trim().slice(0, 200) || r.stdout.trim().slice(0, 200) || 'no output'}`,
      },
    );
  return s;
}

/** Starts the Manager on the Host; the exit status says why not (disk missing, lease held). */
export async function startManager(ssh: SshPool, t: SshTarget, signal: AbortSignal): Promise<void> {
  const r = await ssh.exec(t, ['flexvdi-manager', 'start'], {
    signal,
    allowNonZero: true,
    timeoutMs: 90_000,
  });
  if (r.code === 0) return;
  const why =
    r.stderr
      .trim()
      .split('\n')
      .slice(-1)[0]
      ?.replace(/^flexvdi-manager: /, '') ?? '';
  const code =
    r.code === 2
      ? ManagerErrorCode.diskMissing
      : r.code === 3
        ? ManagerErrorCode.leaseHeld
        : ManagerErrorCode.controlFailed;
  throw new AppError(code, `flexvdi-manager start on ${t.name}: exit ${r.code}: ${why}`, {
    userMessage: `The Manager did not start on ${t.name}: ${why || `exit ${r.code ?? r.signal}`}.`,
  });
}

export async function stopManager(ssh: SshPool, t: SshTarget, signal: AbortSignal): Promise<void> {
  const r = await ssh.exec(t, ['flexvdi-manager', 'stop'], { signal, allowNonZero: true, timeoutMs: 60_000 });
  if (r.code === 0) return;
  throw new AppError(ManagerErrorCode.controlFailed, `flexvdi-manager stop on ${t.name}: ${r.stderr}`, {
    userMessage: `The Manager did not stop on ${t.name}: ${r.stderr.trim().slice(-200) || `exit ${r.code}`}.`,
  });
}

/** Points the Host's conf at `disk` (atomic write, previous file kept as a backup when it changes). */
export async function pointAt(
  ssh: SshPool,
  t: SshTarget,
  disk: string,
  signal: AbortSignal,
): Promise<boolean> {
  const current = await ssh.readFile(t, MANAGER_CONF, { signal });
  if (current === null)
    throw new AppError(ManagerErrorCode.controlFailed, `${t.name}: no ${MANAGER_CONF}`, {
      userMessage: `${t.name} has no ${MANAGER_CONF}: it cannot run the Manager.`,
    });
  const next = confWithDisk(current, disk);
  if (next === current) return false;
  return (await ssh.writeFileAtomic(t, MANAGER_CONF, next, { backup: true, signal })).changed;
}

const COPY = `
set -e
from=$1; to=$2
src=$(sha256sum "$from" | cut -d' ' -f1)
if [ -f "$to" ] && [ "$(sha256sum "$to" | cut -d' ' -f1)" = "$src" ]; then echo "same $src"; exit 0; fi
cp --sparse=always "$from" "$to.partial"
dst=$(sha256sum "$to.partial" | cut -d' ' -f1)
if [ "$dst" != "$src" ]; then rm -f "$to.partial"; echo "mismatch $src $dst"; exit 0; fi
sync "$to.partial"
mv -f "$to.partial" "$to"
echo "copied $src"
`;

/** Copies the image (sparse), checks both checksums, then renames into place; a copy already there counts. */
export async function copyImage(
  ssh: SshPool,
  t: SshTarget,
  from: string,
  to: string,
  signal: AbortSignal,
): Promise<{ sha256: string; copied: boolean }> {
  const r = await ssh.exec(t, ['sh', '-c', COPY, 'copy', from, to], { signal, timeoutMs: 3_600_000 });
  const [word, sha, other] = r.stdout.trim().split('\n').slice(-1)[0]?.split(' ') ?? [];
  if ((word === 'same' || word === 'copied') && sha) return { sha256: sha, copied: word === 'copied' };
  throw new AppError(ManagerErrorCode.copyMismatch, `copy on ${t.name}: ${r.stdout}`, {
    userMessage:
      word === 'mismatch'
        ? `The copy of the Manager's image on ${t.name} does not match the original (sha256 ${sha?.slice(0, 12)} vs ${other?.slice(0, 12)}): it was removed.`
        : `The copy of the Manager's image on ${t.name} did not finish: ${r.stdout.trim().slice(-200)}`,
  });
}

/** The image's size in bytes and the free bytes where it goes (the folder's file system). */
export async function sizes(
  ssh: SshPool,
  t: SshTarget,
  image: string,
  toDir: string,
  signal: AbortSignal,
): Promise<{ imageBytes: number; freeBytes: number }> {
  const r = await ssh.exec(
    t,
    ['sh', '-c', 'stat -c %s "$1" && df -B1 --output=avail "$2" | tail -n 1', 'sizes', image, toDir],
    { signal, timeoutMs: 30_000 },
  );
  const [a, b] = r.stdout
    .trim()
    .split('\n')
    .slice(-2)
    .map((x) => x.trim());
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b))
    throw new AppError(ManagerErrorCode.statusUnreadable, `sizes on ${t.name}: ${r.stdout}`, {
      userMessage: `${t.name} did not say the image's size and the Volume's free space (\`stat\`, \`df\`): ${r.stdout.trim().slice(0, 120) || 'no output'}`,
    });
  return { imageBytes: Number(a), freeBytes: Number(b) };
}

/** The lease time the Host's conf sets (LEASE_MS; the contract's default 20 s). */
export function leaseMsOf(conf: string | null): number {
  const m = /^LEASE_MS=(\d+)\s*$/m.exec(conf ?? '');
  return m ? Number(m[1]) : 20_000;
}

/** How long a started Manager's API is given to answer, asked every half second. */
export const ANSWER_WITHIN_MS = 30_000;

/**
 * Asks `probe` every half second until it gives a value, for at most ANSWER_WITHIN_MS (or until aborted);
 * the last answer either way (null: it never did).
 */
export async function whenAnswering<T>(
  probe: () => Promise<T | null>,
  signal: AbortSignal,
): Promise<T | null> {
  const until = Date.now() + ANSWER_WITHIN_MS;
  for (;;) {
    const v = await probe();
    if (v !== null || Date.now() > until || signal.aborted) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
}
