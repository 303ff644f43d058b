/**
 * A Host's private view of this machine, prepared from Node and mounted by host-init.sh in ONE process
 * (`mount -a -T <host>/fstab`, in file order) instead of ~20 `mount` runs per Host:
 *   /run, /root, /home, /tmp, /var/log   bind mounts of per-Host folders
 *   /etc, /var/lib                       overlays: the machine's files below, the Host's writes above
 *                                        (/var/lib too, not an empty folder: dpkg's database and the
 *                                        tools' own state stay visible, as on an installed Host)
 *   /var/lib/flexvdi-testbed             the testbed-wide OCFS2 emulation folder (shared by all Hosts)
 *   /dev                                 per-Host folder: device nodes (hard links of nodes made once per
 *                                        testbed), own devpts and /dev/shm, the shared disks at /dev/sd*
 *                                        (block device nodes of their loop devices) with udev-style
 *                                        /dev/disk/by-id links
 *   /usr                                 read-only; the kernel-bound tools replaced by the emulations, the
 *                                        real ones reachable under /run/flexvdi-testbed/usr.real;
 *                                        /usr/sbin a read-only overlay adding the testbed's own programs
 *                                        (flexvdi-manager) to this machine's
 */
import { linkSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { diskPaths, type HostLayout, type TestbedLayout } from './layout.js';
import { hostViews, inHostDir } from './paths.js';

/** Device nodes every Host gets (copied once per testbed into devskel/, hard-linked per Host). */
export const DEVICE_NODES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'] as const;
/** An overlayfs whiteout (character device 0/0) in devskel/, hard-linked to hide a lower file. */
export const WHITEOUT = 'whiteout';

/** Emulated tool → the real program it covers on a Host (see README.md, "Kernel-bound steps"). */
export const COVERED_TOOLS = {
  o2cb: '/usr/sbin/o2cb',
  'mount.ocfs2': '/usr/sbin/mount.ocfs2',
  umount: '/usr/bin/umount',
  findmnt: '/usr/bin/findmnt',
  // Last: from here on `mount` on the Host is the wrapper.
  mount: '/usr/bin/mount',
} as const;

const esc = (p: string) => p.replace(/\\/g, '\\134').replace(/ /g, '\\040').replace(/\t/g, '\\011');

export function fstabText(t: TestbedLayout, h: HostLayout): string {
  const under = (...p: string[]) => esc(path.join(h.dir, ...p));
  const bind = (src: string, dst: string, opts = 'bind') => `${src} ${dst} none ${opts} 0 0`;
  // Folders the Host is given at their own path although they lie in one of its own folders (a checkout under
  // /tmp): bound first under its /run-to-be (then carried by an rbind of /run), and from there to their path
  // once the Host's own folders are in place — by then the machine's path is hidden.
  const views = hostViews();
  const stage = (i: number) => `/run/flexvdi-testbed/view${i}`;
  const lines = [
    `# flexvdi-testbed: the private view of Host ${h.name}, mounted in this order by host-init.sh`,
    ...views.map((v, i) => bind(esc(v), under('run', 'flexvdi-testbed', `view${i}`), 'bind,ro')),
    bind(under('run'), '/run', views.length ? 'rbind' : 'bind'),
    `overlay /etc overlay lowerdir=/etc,upperdir=${under('etc.upper')},workdir=${under('etc.work')} 0 0`,
    `overlay /var/lib overlay lowerdir=/var/lib,upperdir=${under('varlib.upper')},workdir=${under('varlib.work')} 0 0`,
    bind(under('root'), '/root'),
    bind(under('home'), '/home'),
    bind(under('tmp'), '/tmp'),
    bind(under('log'), '/var/log'),
    ...views.map((v, i) => bind(stage(i), esc(v), 'bind,ro')),
    bind(esc(t.files.shared), '/var/lib/flexvdi-testbed'),
    bind(under('dev'), '/dev'),
    'devpts /dev/pts devpts newinstance,ptmxmode=0666,mode=0620,gid=5 0 0',
    'shm /dev/shm tmpfs mode=1777,nosuid,nodev 0 0',
    bind('/usr', '/run/flexvdi-testbed/usr.real', 'bind,ro'),
    bind('/usr', '/usr', 'bind,ro'),
    `overlay /usr/sbin overlay ro,lowerdir=${esc(path.join(t.files.bin, 'sbin'))}:/usr/sbin 0 0`,
    ...Object.entries(COVERED_TOOLS).map(([tool, real]) => bind(esc(path.join(t.files.bin, tool)), real)),
  ];
  return `${lines.join('\n')}\n`;
}

/** The Host's /run and /dev folders (its /etc, /root, /home live in host-files.ts). */
export function writeHostMountDirs(t: TestbedLayout, h: HostLayout, disks: number): void {
  const d = (...p: string[]) => path.join(h.dir, ...p);
  for (const dir of [
    'run/sshd',
    'run/lock',
    'run/flexvdi-testbed/usr.real',
    'dev/pts',
    'dev/shm',
    'dev/disk/by-id',
  ]) {
    mkdirSync(d(dir), { recursive: true, mode: 0o755 });
  }
  writeFileSync(d('run', 'flexvdi-testbed', 'host'), `${h.name}\n`);
  hostViews().forEach((v, i) => {
    mkdirSync(d('run', 'flexvdi-testbed', `view${i}`), { recursive: true, mode: 0o755 });
    mkdirSync(inHostDir(h.dir, v), { recursive: true, mode: 0o755 });
  });
  const skel = path.join(t.stateDir, 'devskel');
  for (const node of DEVICE_NODES) linkSync(path.join(skel, node), d('dev', node));
  symlinkSync('pts/ptmx', d('dev', 'ptmx'));
  symlinkSync('/proc/self/fd', d('dev', 'fd'));
  ['stdin', 'stdout', 'stderr'].forEach((name, fd) => {
    symlinkSync(`/proc/self/fd/${fd}`, d('dev', name));
  });
  for (let i = 0; i < disks; i++) {
    const p = diskPaths(t, i);
    const dev = path.basename(p.dev);
    // the block device node attachDisks made for the disk's loop device
    linkSync(path.join(skel, dev), d('dev', dev));
    for (const id of [p.byId, p.wwn])
      symlinkSync(`../../${dev}`, d('dev', 'disk', 'by-id', path.basename(id)));
  }
  writeFileSync(d('fstab'), fstabText(t, h));
}

/** Hides this machine's own SSH host keys (all but the Host's ed25519 one) with overlay whiteouts. */
export function hideMachineHostKeys(t: TestbedLayout, h: HostLayout): void {
  const whiteout = path.join(t.stateDir, 'devskel', WHITEOUT);
  for (const f of readdirSync('/etc/ssh')) {
    if (f.startsWith('ssh_host_') && !f.startsWith('ssh_host_ed25519_key')) {
      linkSync(whiteout, path.join(h.dir, 'etc.upper', 'ssh', f));
    }
  }
}
