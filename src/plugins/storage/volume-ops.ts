/**
 * What `storage create-volume` does on a Host, one SSH command each: ask mkfs.ocfs2 what it would make
 * (`-n`, a dry run that writes nothing), format, read a superblock back with debugfs.ocfs2, write the fstab
 * entry, mount, and read where a volume is mounted (findmnt: the kernel's table) and how full it is (df).
 * The parsers and the fstab edit are pure functions, so each rule is a unit test.
 */
import { z } from 'zod';
import type { SshPool, SshTarget } from '../../ssh/index.js';
import { BY_ID } from './args.js';
import { parseOcfs2Stats, unescapeFindmnt } from './devices.js';

/** Where Image Storages are mounted on every Host: one folder per Image Storage. Modelled, not from docs. */
export const IMAGE_STORAGE_ROOT = '/var/lib/flexvdi/image-storages';
export const mountPointOf = (imageStorage: string): string => `${IMAGE_STORAGE_ROOT}/${imageStorage}`;
export const devicePathOf = (id: string): string => `${BY_ID}/${id}`;

/** `mkfs.ocfs2 -T vmstore` ("for virtual machine images") needs a device of at least 2 GiB. */
export const VMSTORE_MIN_BYTES = 2 * 1024 ** 3;

/**
 * The mount options, each with why (the plan shows them). OCFS2's defaults are written out so the fstab line
 * says what the Host does: `errors=remount-ro` and `coherency=full` are the kernel's defaults.
 */
export const MOUNT_OPTIONS: readonly { option: string; why: string }[] = [
  {
    option: '_netdev',
    why: 'mounted only once the network is up: the cluster stack talks to the other nodes over it',
  },
  {
    option: 'x-systemd.requires=o2cb.service',
    why: 'mounted after the o2cb cluster stack is online, unmounted before it stops (systemd Hosts)',
  },
  {
    option: 'noatime',
    why: 'a read does not write an access time (on a cluster file system that is a cluster lock per read)',
  },
  {
    option: 'errors=remount-ro',
    why: 'on an I/O or metadata error the volume turns read-only on that Host rather than risk the shared data (`panic` would fence the Host; `continue` would carry on)',
  },
  {
    option: 'coherency=full',
    why: 'cache-coherent parallel I/O: direct I/O from several Hosts at once takes cluster locks, so every Host reads what the others wrote (`buffered` trades that for speed)',
  },
];
export const MOUNT_OPTIONS_TEXT = MOUNT_OPTIONS.map((o) => o.option).join(',');

/** The one fstab line of a volume. */
export const fstabLineOf = (deviceId: string, imageStorage: string): string =>
  `${devicePathOf(deviceId)}\t${mountPointOf(imageStorage)}\tocfs2\t${MOUNT_OPTIONS_TEXT}\t0 0`;

// ---------------------------------------------------------------------------------------------- mkfs

export interface FormatSpec {
  devicePath: string;
  label: string;
  slots: number;
  cluster: string;
  /** `-T vmstore` when the device is large enough. */
  vmstore: boolean;
}

/** mkfs.ocfs2's arguments (the device last); `-F` because the product does the checks (see format()). */
export function mkfsArgs(s: FormatSpec, opts: { dryRun?: boolean } = {}): string[] {
  return [
    'mkfs.ocfs2',
    ...(opts.dryRun ? ['-n'] : ['-q', '-F']),
    '-N',
    String(s.slots),
    '-L',
    s.label,
    '--cluster-stack=o2cb',
    `--cluster-name=${s.cluster}`,
    ...(s.vmstore ? ['-T', 'vmstore'] : []),
    s.devicePath,
  ];
}

export const dryRunSchema = z.object({
  blockSize: z.number().int(),
  clusterSize: z.number().int(),
  volumeBytes: z.number(),
  journalBytes: z.number(),
  slots: z.number().int(),
});
export type DryRun = z.output<typeof dryRunSchema>;

/** What `mkfs.ocfs2 -n` prints it would make; null when a figure is missing. */
export function parseDryRun(text: string): DryRun | null {
  const n = (re: RegExp): number | null => {
    const m = re.exec(text)?.[1];
    return m === undefined ? null : Number(m);
  };
  const v = {
    blockSize: n(/^Block size: (\d+)/m),
    clusterSize: n(/^Cluster size: (\d+)/m),
    volumeBytes: n(/^Volume size: (\d+)/m),
    journalBytes: n(/^Journal size: (\d+)/m),
    slots: n(/^Node slots: (\d+)/m),
  };
  const parsed = dryRunSchema.safeParse(v);
  return parsed.success ? parsed.data : null;
}

/** The last line a tool wrote on stderr (or stdout), for a message. */
const lastLine = (s: string): string =>
  s
    .trim()
    .split('\n')
    .filter((l) => l.trim())
    .slice(-1)[0]
    ?.slice(0, 300) ?? '';

/** `mkfs.ocfs2 -n`: what it would make, or its own reason not to (too small for the type, …). */
export async function dryRun(
  ssh: SshPool,
  t: SshTarget,
  s: FormatSpec,
  signal: AbortSignal,
): Promise<{ ok: true; value: DryRun } | { ok: false; error: string }> {
  const r = await ssh.exec(t, mkfsArgs(s, { dryRun: true }), {
    signal,
    allowNonZero: true,
    timeoutMs: 60_000,
    stdin: '',
  });
  const parsed = parseDryRun(r.stdout);
  if (r.code === 0 && parsed) return { ok: true, value: parsed };
  return { ok: false, error: lastLine(r.stderr) || lastLine(r.stdout) || `exit ${r.code ?? r.signal}` };
}

/**
 * Formats. `overwrite`: the device holds a file system the admin typed the volume's name to destroy, so
 * mkfs.ocfs2's "Proceed (y/N)" (asked when it finds an OCFS2 superblock, even with -F) is answered yes;
 * otherwise stdin is empty and mkfs.ocfs2 aborts rather than overwrite a volume that appeared since the
 * check. Throws `ssh.command_failed` with mkfs's own words when it fails.
 */
export async function format(
  ssh: SshPool,
  t: SshTarget,
  s: FormatSpec,
  overwrite: boolean,
  signal: AbortSignal,
): Promise<void> {
  await ssh.exec(t, mkfsArgs(s), { signal, timeoutMs: 600_000, stdin: overwrite ? 'y\n' : '' });
}

export type Superblock = ReturnType<typeof parseOcfs2Stats>;

/** The OCFS2 superblock of a device (debugfs.ocfs2 -R stats), or null when there is none or it cannot be read. */
export async function readSuperblock(
  ssh: SshPool,
  t: SshTarget,
  devicePath: string,
  signal: AbortSignal,
): Promise<Superblock | null> {
  const r = await ssh.exec(t, ['debugfs.ocfs2', '-R', 'stats', devicePath], {
    signal,
    allowNonZero: true,
    timeoutMs: 60_000,
  });
  if (r.code !== 0 || !r.stdout.includes('Max Node Slots')) return null;
  return parseOcfs2Stats(r.stdout);
}

// ---------------------------------------------------------------------------------------------- fstab

const fields = (line: string): string[] => line.trim().split(/\s+/);
const isEntry = (line: string): boolean => line.trim() !== '' && !line.trim().startsWith('#');
/** fstab writes a space in a path as `\040`. */
const fstabPath = (f: string | undefined): string => (f ?? '').replace(/\\040/g, ' ');

export type FstabEdit =
  | { kind: 'present' }
  | { kind: 'add'; text: string }
  | { kind: 'conflict'; line: string; why: string };

/**
 * The Host's fstab with the volume's line: unchanged when an entry with the same device, folder, type and
 * options is there (however spaced); a conflict when the folder is another entry's, or the device is mounted
 * elsewhere by another entry — never edited blindly; else the line appended (a final new line kept).
 */
export function fstabWith(current: string, line: string): FstabEdit {
  const want = fields(line);
  const [dev, dir] = want;
  for (const l of current.split('\n').filter(isEntry)) {
    const f = fields(l);
    const same = f.length >= 4 && want.slice(0, 4).every((w, i) => fstabPath(f[i]) === w);
    if (same) return { kind: 'present' };
    if (fstabPath(f[1]) === dir)
      return { kind: 'conflict', line: l.trim(), why: `another entry already mounts ${dir}` };
    if (fstabPath(f[0]) === dev)
      return { kind: 'conflict', line: l.trim(), why: `another entry already mounts ${dev}` };
  }
  const base = current === '' || current.endsWith('\n') ? current : `${current}\n`;
  return {
    kind: 'add',
    text: `${base}# flexVDI Image Storage (written by flexvdi-chatops storage create-volume)\n${line}\n`,
  };
}

// ---------------------------------------------------------------------------------------------- mounts

export const mountStateSchema = z.object({
  /** What findmnt says is mounted on the folder: source and type; null when nothing is. */
  mounted: z.object({ source: z.string(), fstype: z.string() }).nullable(),
  /** df's figures for the folder, when something is mounted there. */
  sizeBytes: z.number().nullable(),
  freeBytes: z.number().nullable(),
  /** Whether the Host's fstab has an entry for the folder. */
  inFstab: z.boolean(),
  /** What the volume's device resolves to on the Host (`/dev/sdb`), null when it has no such device. */
  device: z.string().nullable(),
  /**
   * The type of what findmnt finds mounted from the device on the folder (`findmnt -S DEV -M DIR`: libmount
   * matches the source however it is spelled — /dev/mapper/x or /dev/dm-3), null when that is not mounted.
   */
  match: z.string().nullable().default(null),
});
export type MountState = z.output<typeof mountStateSchema>;

/** Marks the parts of the answer of MOUNT_STATE_SCRIPT. */
const MS = '@@flexvdi-mount-state';
const MOUNT_STATE_SCRIPT = `
d=$1
echo "${MS} device"
readlink -e "$2" 2>/dev/null
echo "${MS} match"
findmnt -rn -S "$2" -M "$1" -o FSTYPE 2>/dev/null | head -n 1
echo "${MS} findmnt"
findmnt -rn -o SOURCE,FSTYPE --mountpoint "$d" 2>/dev/null | head -n 1
echo "${MS} df"
if findmnt -rn --mountpoint "$d" >/dev/null 2>&1; then df -B1 --output=size,avail "$d" 2>/dev/null | tail -n 1; fi
echo "${MS} fstab"
awk -v d="$d" '$1 !~ /^#/ && $2 == d { print "yes"; exit }' /etc/fstab 2>/dev/null
echo "${MS} end"
`;

/** The answer of MOUNT_STATE_SCRIPT, or null when it is not complete. */
export function parseMountState(stdout: string): MountState | null {
  const parts = new Map<string, string[]>();
  let cur: string[] | null = null;
  for (const line of stdout.split('\n')) {
    if (line.startsWith(`${MS} `)) {
      cur = [];
      parts.set(line.slice(MS.length + 1).trim(), cur);
    } else cur?.push(line);
  }
  if (!parts.has('end')) return null;
  const first = (k: string) => (parts.get(k) ?? []).find((l) => l.trim()) ?? '';
  const [source, fstype] = first('findmnt').trim().split(' ');
  const [size, avail] = first('df').trim().split(/\s+/);
  const num = (s: string | undefined) => (s && /^\d+$/.test(s) ? Number(s) : null);
  return {
    mounted: source && fstype ? { source: unescapeFindmnt(source), fstype } : null,
    sizeBytes: num(size),
    freeBytes: num(avail),
    inFstab: first('fstab').trim() === 'yes',
    device: first('device').trim() || null,
    match: first('match').trim() || null,
  };
}

/**
 * Where the folder stands on the Host: mounted (what), df's figures, whether fstab has it, and what the
 * device resolves to there (findmnt names a mount's source by its canonical path).
 */
export async function mountState(
  ssh: SshPool,
  t: SshTarget,
  dir: string,
  devicePath: string,
  signal: AbortSignal,
): Promise<MountState> {
  const r = await ssh.exec(t, ['sh', '-c', MOUNT_STATE_SCRIPT, 'mount-state', dir, devicePath], {
    signal,
    timeoutMs: 60_000,
  });
  const s = parseMountState(r.stdout);
  if (!s) throw new Error(`unexpected answer from ${t.name} about ${dir}: ${r.stdout.slice(0, 200)}`);
  return s;
}

/** Whether the state is the volume mounted as OCFS2 from its device. */
export const mountedHere = (s: MountState): boolean => s.match === 'ocfs2';

/** Makes the folder and mounts it from the Host's fstab entry (`mount DIR`); mount's own words on failure. */
export async function mountFromFstab(
  ssh: SshPool,
  t: SshTarget,
  dir: string,
  signal: AbortSignal,
): Promise<void> {
  await ssh.exec(t, ['sh', '-c', 'install -d -m 0755 "$1" && mount "$1"', 'mount', dir], {
    signal,
    timeoutMs: 120_000,
  });
}
