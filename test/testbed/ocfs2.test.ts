/**
 * Shared storage and the OCFS2 boundary on a test-scoped testbed ("vt-ocfs2"): the real ocfs2-tools on the
 * shared disk from every Host, and the emulated kernel-bound steps (o2cb register/online, mount -t ocfs2)
 * refusing what the kernel would refuse.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/config.js';
import { diskPaths, type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { layoutFor } from '../../src/testbed/layout.js';
import { loadInventory, quietLog, ssh } from './helpers.js';

const NAME = 'vt-ocfs2';
const layout = layoutFor(NAME, '/', 0, 0);
const DISK = diskPaths(layout, 0).byId;
const OTHER_DISK = diskPaths(layout, 1).byId;
let tb: TestbedInfo;
let inv: Inventory;

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 3, disks: 2, log: quietLog });
  inv = loadInventory(tb.inventoryPath);
});

afterAll(async () => {
  await testbedDown({ name: NAME, log: quietLog });
});

const ip = (i: number) => inv.hosts[i]!.ip;
/** cluster.conf made with the real o2cb tool, listing the given Hosts (index into the inventory). */
const makeConf = (nodes: number[]) =>
  [
    'rm -f /etc/ocfs2/cluster.conf',
    'o2cb add-cluster tbclu',
    ...nodes.map((n) => `o2cb add-node tbclu host${n + 1} --ip ${ip(n)} --number ${n}`),
  ].join(' && ');

describe('shared disk', () => {
  it('is at the same stable path on every Host; mkfs.ocfs2 on one is read by the real tools on the others', async () => {
    const mkfs = await ssh(
      inv,
      'host1',
      `readlink ${DISK} && mkfs.ocfs2 -q -N 2 -T vmstore -L tbvol --cluster-stack=o2cb --cluster-name=tbclu ${DISK} </dev/null`,
    );
    expect(mkfs.code).toBe(0);
    expect(mkfs.stdout).toMatch(/^\.\.\/\.\.\/sdb\n/);
    const stats = await ssh(inv, 'host2', `debugfs.ocfs2 -R stats ${DISK}`);
    expect(stats.stdout).toMatch(/Label: tbvol/);
    expect(stats.stdout).toMatch(/Max Node Slots: 2/);
    expect(stats.stdout).toMatch(/Cluster name: tbclu/);
    const detected = await ssh(inv, 'host3', `mounted.ocfs2 -d ${DISK}`);
    expect(detected.stdout).toMatch(/o2cb\s+tbclu\s+[0-9A-F]{32}\s+tbvol/);
    const fsck = await ssh(inv, 'host2', `fsck.ocfs2 -n ${DISK}`);
    expect(fsck).toMatchObject({ code: 0 });
    expect(fsck.stdout).toMatch(/is clean/);
  });
});

describe('emulated o2cb', () => {
  it('passes configuration commands through to the real o2cb', async () => {
    for (const host of ['host1', 'host2']) expect((await ssh(inv, host, makeConf([0, 1, 2]))).code).toBe(0);
    const list = await ssh(inv, 'host1', 'o2cb list-cluster tbclu');
    expect(list.stdout).toMatch(/name = host3/);
    const none = await ssh(inv, 'host3', 'o2cb register-cluster tbclu');
    expect(none).toMatchObject({ code: 1, stderr: "o2cb: Unknown cluster 'tbclu'\n" });
  });

  it('onlines a listed Host and records the state where the Hosts can read it', async () => {
    const online = await ssh(inv, 'host1', 'service o2cb online tbclu; o2cb cluster-status tbclu');
    expect(online).toMatchObject({ code: 0 });
    expect(online.stdout).toMatch(/Registering O2CB cluster "tbclu": OK/);
    expect(online.stdout).toMatch(/Cluster 'tbclu' is online/);
    const seen = await ssh(inv, 'host3', 'cat /var/lib/flexvdi-testbed/o2cb-online/host1');
    expect(seen.stdout).toMatch(/^cluster=tbclu$/m);
    expect(seen.stdout).toMatch(/^node_name=host1$/m);
    const status = await ssh(inv, 'host1', 'service o2cb status tbclu');
    expect(status.stdout).toMatch(/Checking O2CB cluster "tbclu": Online/);
    expect(status.stdout).toMatch(/Heartbeat dead threshold: 31/);
  });

  it('refuses a Host that cluster.conf does not list by its hostname', async () => {
    expect((await ssh(inv, 'host3', makeConf([0, 1]))).code).toBe(0);
    const r = await ssh(inv, 'host3', 'o2cb register-cluster tbclu');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/This node \('host3'\) is not listed in cluster 'tbclu'/);
    const svc = await ssh(inv, 'host3', 'service o2cb online tbclu; o2cb cluster-status tbclu');
    expect(svc.stdout).toMatch(/Registering O2CB cluster "tbclu": Failed/);
    expect(svc.stdout).toMatch(/Cluster 'tbclu' is offline/);
    expect(svc.code).toBe(1);
  });

  it('refuses a cluster.conf that differs from the online members’, and different O2CB timeouts', async () => {
    const differ = await ssh(
      inv,
      'host2',
      "sed -i 's/ip_port = 7777/ip_port = 7778/' /etc/ocfs2/cluster.conf && o2cb register-cluster tbclu",
    );
    expect(differ.code).toBe(1);
    expect(differ.stderr).toMatch(/differs from the cluster.conf that node 'host1' has online/);
    expect((await ssh(inv, 'host2', makeConf([0, 1, 2]))).code).toBe(0);
    const timeouts = await ssh(
      inv,
      'host2',
      "sed -i 's/^O2CB_HEARTBEAT_THRESHOLD=31/O2CB_HEARTBEAT_THRESHOLD=61/' /etc/default/o2cb && o2cb register-cluster tbclu",
    );
    expect(timeouts.code).toBe(1);
    expect(timeouts.stderr).toMatch(/O2CB timeouts .* differ from node 'host1'/);
    const ok = await ssh(
      inv,
      'host2',
      "sed -i 's/^O2CB_HEARTBEAT_THRESHOLD=61/O2CB_HEARTBEAT_THRESHOLD=31/' /etc/default/o2cb && o2cb register-cluster tbclu && o2cb cluster-status",
    );
    expect(ok).toMatchObject({ code: 0, stdout: "Cluster 'tbclu' is online\n" });
  });
});

describe('emulated OCFS2 mounts', () => {
  it('mount a formatted volume on online members, with the same files on every Host', async () => {
    const notOnline = await ssh(inv, 'host3', `mkdir -p /mnt/vm && mount -t ocfs2 ${DISK} /mnt/vm`);
    expect(notOnline.code).not.toBe(0);
    expect(notOnline.stderr).toMatch(/Unable to access cluster service/);

    const m1 = await ssh(
      inv,
      'host1',
      `mkdir -p /mnt/vm && mount -t ocfs2 ${DISK} /mnt/vm && echo shared > /mnt/vm/probe && mountpoint /mnt/vm`,
    );
    expect(m1).toMatchObject({ code: 0 });
    const m2 = await ssh(
      inv,
      'host2',
      `mkdir -p /mnt/vm && echo '${DISK} /mnt/vm ocfs2 _netdev,defaults 0 0' >> /etc/fstab && mount /mnt/vm && cat /mnt/vm/probe && mount -t ocfs2`,
    );
    expect(m2).toMatchObject({ code: 0 });
    expect(m2.stdout).toMatch(/^shared\n/);
    expect(m2.stdout).toMatch(new RegExp(`${DISK} on /mnt/vm type ocfs2 \\(_netdev,defaults\\)`));
    // The mount table as a program reads it on a Host (findmnt, mount): type ocfs2 from the canonical device.
    const table = await ssh(
      inv,
      'host2',
      'findmnt -rn -o SOURCE,TARGET,FSTYPE,FS-OPTIONS /mnt/vm && mount | grep " on /mnt/vm "',
    );
    expect(table).toMatchObject({ code: 0 });
    expect(table.stdout).toMatch(
      /^\/dev\/sdb \/mnt\/vm ocfs2 rw\n\/dev\/sdb on \/mnt\/vm type ocfs2 \(rw[,)]/,
    );
  });

  it('refuse a Host when every node slot is taken, and a volume of another cluster', async () => {
    expect((await ssh(inv, 'host3', `${makeConf([0, 1, 2])} && o2cb register-cluster tbclu`)).code).toBe(0);
    const full = await ssh(inv, 'host3', `mount -t ocfs2 ${DISK} /mnt/vm`);
    expect(full.code).not.toBe(0);
    expect(full.stderr).toMatch(/all 2 node slots are in use/);
    const mkfsOther = await ssh(
      inv,
      'host3',
      `mkfs.ocfs2 -q -N 2 -L othervol --cluster-stack=o2cb --cluster-name=othclu ${OTHER_DISK} </dev/null`,
    );
    expect(mkfsOther.code).toBe(0);
    const other = await ssh(inv, 'host3', `mkdir -p /mnt/other && mount -t ocfs2 ${OTHER_DISK} /mnt/other`);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/Cluster name is invalid .*'othclu'/);
  });

  it('keep the cluster online while mounted; umount frees the slot and lets it go offline', async () => {
    const busy = await ssh(inv, 'host1', 'o2cb unregister-cluster tbclu');
    expect(busy).toMatchObject({ code: 1, stderr: 'o2cb: Atleast one heartbeat region is still active\n' });
    const off = await ssh(
      inv,
      'host1',
      'umount /mnt/vm && service o2cb offline tbclu && o2cb cluster-status',
    );
    expect(off.code).toBe(1);
    expect(off.stdout).toMatch(/Unregistering O2CB cluster "tbclu": OK\noffline\n$/);
    const m3 = await ssh(inv, 'host3', `mount -t ocfs2 ${DISK} /mnt/vm && cat /mnt/vm/probe`);
    expect(m3).toMatchObject({ code: 0, stdout: 'shared\n' });
  });
});
