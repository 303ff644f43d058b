/**
 * Files every Host of a testbed shares, made once per `up`: the shared disk images (sparse, each attached to
 * a loop device), the device nodes the Hosts' /dev folders link to (the disks' among them), the testbed-wide emulation folder, and the small wrappers
 * bind-mounted over the kernel-bound tools on each Host.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { TestbedErrorCode } from './errors.js';
import { runOk } from './exec.js';
import { DEVICE_NODES } from './host-mounts.js';
import { diskPaths, type TestbedLayout } from './layout.js';
import { scriptsDir } from './paths.js';

/** Emulated tool on a Host → the script implementing it (README.md: "Kernel-bound steps"); o2cb.init is
 * installed as the Host's /etc/init.d/o2cb, the others cover the real programs (host-mounts.ts). */
const WRAPPERS = {
  o2cb: 'o2cb.sh',
  mount: 'mount.sh',
  'mount.ocfs2': 'mount-ocfs2.sh',
  umount: 'umount.sh',
  findmnt: 'findmnt.sh',
  'o2cb.init': 'o2cb-init.sh',
} as const;

/** Programs every Host has in /usr/sbin (not emulations: tools of a flexVDI Host the testbed models). */
const HOST_PROGRAMS = { 'flexvdi-manager': 'flexvdi-manager.sh' } as const;

const UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** "2G", "512M", "3GiB", "2147483648" → bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+)(?:([KMGT])(?:i?B)?)?$/i.exec(text.trim());
  if (!m) {
    throw new AppError(
      TestbedErrorCode.invalidOptions,
      `disk size "${text}" must look like 2G, 512M or a byte count`,
    );
  }
  const bytes = Number(m[1]) * (m[2] ? (UNITS[m[2].toUpperCase()] ?? 1) : 1);
  if (bytes < 64 * 2 ** 20) {
    throw new AppError(
      TestbedErrorCode.invalidOptions,
      `disk size "${text}" is below 64M (OCFS2 needs room)`,
    );
  }
  return bytes;
}

export function writeCommonFiles(t: TestbedLayout, disks: number, diskBytes: number): void {
  for (const dir of ['o2cb-online', 'ocfs2-mounts', 'ocfs2-data']) {
    mkdirSync(path.join(t.files.shared, dir), { recursive: true });
  }
  mkdirSync(t.files.bin, { recursive: true });
  for (const [tool, script] of Object.entries(WRAPPERS)) {
    writeFileSync(
      path.join(t.files.bin, tool),
      `#!/bin/bash\n# flexvdi-testbed emulation of ${tool} (see src/testbed/README.md)\n` +
        `exec /bin/bash ${path.join(scriptsDir(), script)} "$@"\n`,
      { mode: 0o755 },
    );
  }

  // Programs a Host has in /usr/sbin besides this machine's (host-mounts.ts overlays them there).
  mkdirSync(path.join(t.files.bin, 'sbin'), { recursive: true });
  for (const [tool, script] of Object.entries(HOST_PROGRAMS)) {
    writeFileSync(
      path.join(t.files.bin, 'sbin', tool),
      `#!/bin/bash\n# flexvdi-testbed: ${tool} (see src/testbed/README.md)\n` +
        `exec /bin/bash ${path.join(scriptsDir(), script)} "$@"\n`,
      { mode: 0o755 },
    );
  }

  mkdirSync(t.files.disks, { recursive: true });
  for (let i = 0; i < disks; i++) {
    const p = diskPaths(t, i);
    const fd = openSync(p.image, 'w', 0o600);
    ftruncateSync(fd, diskBytes);
    closeSync(fd);
  }
}

/**
 * Device nodes (and one overlay whiteout) every Host links to, made with one process per testbed: Node
 * cannot mknod, and `cp -a` of a device node makes a node.
 */
export async function writeDeviceSkeleton(t: TestbedLayout): Promise<void> {
  const skel = path.join(t.stateDir, 'devskel');
  mkdirSync(skel, { recursive: true });
  await runOk('bash', [
    '-c',
    'dir=$1; shift; cd /dev && cp -a "$@" "$dir"/ && mknod "$dir/whiteout" c 0 0',
    'devskel',
    skel,
    ...DEVICE_NODES,
  ]);
}

/**
 * Attaches each disk image to a loop device (`losetup -f --show`) and puts a block device node with its
 * major:minor in the device skeleton as `sd<b+i>`, which every Host links at /dev/sd<b+i>: the Hosts see a
 * real block device (blockdev, sysfs, O_DIRECT), one for all of them. `detachDisks` undoes it.
 */
export async function attachDisks(t: TestbedLayout, disks: number): Promise<void> {
  const skel = path.join(t.stateDir, 'devskel');
  for (let i = 0; i < disks; i++) {
    const p = diskPaths(t, i);
    await runOk('bash', [
      '-c',
      'l=$(losetup -f --show "$1") && set -- "$2" $(stat -c "%t %T" "$l") && mknod -m 660 "$1" b $((0x$2)) $((0x$3))',
      'attach',
      p.image,
      path.join(skel, path.basename(p.dev)),
    ]);
  }
}

/** The loop devices backed by the disk images in `disksDir`, detached (none left after `down`). */
export async function detachDisks(disksDir: string): Promise<void> {
  let images: string[];
  try {
    images = readdirSync(disksDir).filter((f) => f.endsWith('.img'));
  } catch {
    return;
  }
  for (const f of images) {
    await runOk('bash', [
      '-c',
      // A failed detach must fail `down` (before the images go: a loop on a deleted file cannot be found).
      'set -o pipefail; losetup -j "$1" -O NAME -n | while read -r l; do losetup -d "$l" || exit 1; done && [ -z "$(losetup -j "$1" -O NAME -n)" ]',
      'detach',
      path.join(disksDir, f),
    ]);
  }
}
