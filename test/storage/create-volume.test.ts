/**
 * `/flexvdi storage create-volume` end to end on a test-scoped testbed "st-cv" (3 Hosts with real sshd and
 * ocfs2-tools, 2 shared loop disks with SAN-like ids, the Manager stand-in), through the bot and a worker
 * child process that kills itself at chosen points:
 * - refused before the OCFS2 cluster exists; bad input (slots, names, unknown device) answered with what to do;
 * - the worker SIGKILLed right after mkfs.ocfs2 ran, before the step's checkpoint: the next worker finds the
 *   volume on the device and does not format it again; fstab entries, mounts on every Host, the Manager's
 *   records, the superblock read back from a Host other than the one that formatted;
 * - the same command again: nothing formatted, nothing added to fstab;
 * - a device that holds a file system: Confirm… opens a modal, and only the volume's name typed exactly formats;
 * - a Host down while the volume is being mounted: the others mount it, the job ends partly done naming the
 *   Host, and `/flexvdi retry` mounts it only there.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createServices } from '../../src/services.js';
import {
  diskPaths,
  failHost,
  healHost,
  type TestbedInfo,
  testbedDown,
  testbedUp,
} from '../../src/testbed/index.js';
import { layoutFor } from '../../src/testbed/layout.js';
import { configOf, quietLog, registerWithManager, submitView } from '../ocfs2/helpers.js';
import { eventually, pendingPlanOf, planOf, runConfirmed, waitForJobState } from '../support/flow.js';
import { ADMIN, OPS, type Stack, startStack } from '../support/harness.js';
import { hostFile, onHost } from '../support/hosts.js';
import { exited, startWorker, stopWorker } from '../support/workers.js';

const NAME = 'st-cv';
const CLUSTER = 'stcv';
const TUNING = { lockDurationMs: 2000, stalledIntervalMs: 1000, confirmTtlMs: 120_000 };
const layout = layoutFor(NAME, '/', 0, 0);
const ID0 = path.basename(diskPaths(layout, 0).byId);
const ID1 = path.basename(diskPaths(layout, 1).byId);
const ID2 = path.basename(diskPaths(layout, 2).byId);
const HOSTS = ['host1', 'host2', 'host3'];
let tb: TestbedInfo;
let config: Config;
let s: Stack;
let worker: ChildProcess | undefined;

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 3, disks: 3, log: quietLog });
  config = configOf(tb.inventoryPath);
  await registerWithManager(NAME, config, HOSTS);
  s = await startStack({ inventoryPath: tb.inventoryPath, workers: 0 });
  worker = await startWorker(s, { tuning: TUNING });
}, 120_000);

afterAll(async () => {
  if (worker) await stopWorker(worker);
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

/** What the bot answers at once (argument errors), as text. */
async function answer(text: string): Promise<string> {
  const res = await s.send(text);
  return (JSON.parse(res.body || '{}') as { text?: string }).text ?? '';
}

const mountOf = (host: string, dir: string) =>
  onHost(NAME, host, 'findmnt -rn -o FSTYPE,SOURCE --mountpoint "$1" || true', [dir]);
const fstabLines = async (host: string) =>
  ((await hostFile(NAME, host, '/etc/fstab')) ?? '')
    .split('\n')
    .filter((l) => l.includes('/image-storages/'));

describe('before the OCFS2 cluster exists', () => {
  it('is refused with the commands that make the cluster', async () => {
    const r = await planOf(s, `storage create-volume images vol1 --device ${ID0}`);
    expect(r.record.state).toBe('refused');
    expect(r.text).toContain('No OCFS2 cluster yet');
    expect(r.text).toContain('/flexvdi ocfs2 first-node');
  });

  it('makes the cluster (first-node, join --all) for the rest', async () => {
    const first = await runConfirmed(s, `ocfs2 first-node host1 --cluster-name ${CLUSTER} --max-nodes 8`);
    expect(first.record.state).toBe('completed');
    const join = await runConfirmed(s, 'ocfs2 join --all');
    expect(join.record.state).toBe('completed');
  }, 180_000);
});

describe('bad input', () => {
  it('answers argument errors at once, naming the argument and the rule', async () => {
    expect(await answer(`storage create-volume images vol1 --device ${ID0} --slots 300`)).toContain(
      '`slots`: must be at most 255',
    );
    expect(await answer(`storage create-volume images a/b --device ${ID0}`)).toContain(
      '`volume`: must be 1–63 letters',
    );
    expect(await answer('storage create-volume images vol1 --device /dev/sdb')).toContain(
      '`device`: is not a stable device id',
    );
    expect(await answer(`storage create-volume im_ages vol1 --device ${ID0}`)).toContain(
      '`image-storage`: must be a short name',
    );
  });

  it('refuses slots below the node count, and a device no Host has (naming the ones they share)', async () => {
    const few = await planOf(s, `storage create-volume images vol1 --device ${ID0} --slots 2`);
    expect(few.record.state).toBe('refused');
    expect(few.text).toContain('2 slots is fewer than the 3 nodes cluster `stcv` declares');
    const unknown = await planOf(s, 'storage create-volume images vol1 --device scsi-3600140500000000000');
    expect(unknown.record.state).toBe('refused');
    expect(unknown.text).toContain('has a device `scsi-3600140500000000000`');
    expect(unknown.text).toContain(ID0);
    expect(unknown.text).toContain(ID1);
  }, 60_000);
});

describe('create-volume', () => {
  it('a worker killed right after mkfs.ocfs2: the next one does not format again; mounted everywhere', async () => {
    if (worker) await stopWorker(worker);
    const dying = await startWorker(s, {
      tuning: TUNING,
      crash: [{ command: 'storage create-volume', step: 'format', afterExec: 'mkfs.ocfs2' }],
    });
    worker = dying;
    const plan = await pendingPlanOf(s, `storage create-volume images vol1 --device ${ID0}`);
    expect(plan.text).toContain(
      `mkfs.ocfs2 -q -F -N 3 -L vol1 --cluster-stack=o2cb --cluster-name=${CLUSTER} -T vmstore`,
    );
    expect(plan.text).toContain(
      '3 node slots (cluster `stcv` declares 3 nodes): 3 journals × 128 MiB = 384 MiB',
    );
    expect(plan.text).toContain('`coherency=full`');
    expect(plan.text).toContain('`errors=remount-ro`');
    expect(plan.text).toContain('_netdev,x-systemd.requires=o2cb.service');
    await s.click(OPS, plan.ts);
    await exited(dying);
    expect(dying.signalCode).toBe('SIGKILL');
    // Killed after mkfs: the volume is on the disk, the job is not done.
    const uuid = (
      await onHost(NAME, 'host2', 'blkid -p -s UUID -o value "$1"', [diskPaths(layout, 0).byId])
    ).trim();
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    worker = await startWorker(s, { tuning: TUNING });
    const done = await waitForJobState(s, plan.ts, ['completed', 'failed', 'partial'], 120_000);
    expect(done.record.state).toBe('completed');
    expect(done.text).toContain('Already held this volume');
    expect(done.text).toContain('Read back from host2: label `vol1`, 3 slots, cluster `stcv`');
    // The UUID mkfs made is still the one on the disk: not formatted a second time.
    expect(
      (await onHost(NAME, 'host3', 'blkid -p -s UUID -o value "$1"', [diskPaths(layout, 0).byId])).trim(),
    ).toBe(uuid);
    for (const h of HOSTS) {
      expect(await mountOf(h, '/var/lib/flexvdi/image-storages/images')).toMatch(/^ocfs2 \/dev\/\S+\n$/);
      expect(await fstabLines(h)).toEqual([
        `/dev/disk/by-id/${ID0}\t/var/lib/flexvdi/image-storages/images\tocfs2\t_netdev,x-systemd.requires=o2cb.service,noatime,errors=remount-ro,coherency=full\t0 0`,
      ]);
    }
    // A file written on one Host is read on another (one volume).
    await onHost(NAME, 'host1', 'echo hello > /var/lib/flexvdi/image-storages/images/probe');
    expect(await hostFile(NAME, 'host3', '/var/lib/flexvdi/image-storages/images/probe')).toBe('hello\n');
    const manager = managerClient();
    expect((await manager.listImageStorages()).map((x) => [x.name, x.device, x.cluster])).toEqual([
      ['images', `/dev/disk/by-id/${ID0}`, CLUSTER],
    ]);
    expect((await manager.listVolumes()).map((v) => [v.name, v.imageStorage, v.sizeGb])).toEqual([
      ['vol1', 'images', 2],
    ]);
  }, 240_000);

  it('the same command again formats nothing and adds nothing to fstab', async () => {
    const plan = await pendingPlanOf(s, `storage create-volume images vol1 --device ${ID0}`);
    expect(plan.text).toContain('Use the existing OCFS2 volume *vol1*');
    expect(plan.text).toContain('Mounted everywhere already');
    expect(plan.text).not.toContain('mkfs.ocfs2 -q');
    await s.click(OPS, plan.ts);
    const done = await waitForJobState(s, plan.ts, ['completed', 'failed', 'partial'], 120_000);
    expect(done.record.state).toBe('completed');
    for (const h of HOSTS) expect(await fstabLines(h)).toHaveLength(1);
  }, 120_000);

  it('a device mounted elsewhere, and a name the Manager has on another device, are refused', async () => {
    const taken = await planOf(s, `storage create-volume images vol2 --device ${ID1}`);
    expect(taken.record.state).toBe('refused');
    expect(taken.text).toContain(`already has an Image Storage \`images\` on \`/dev/disk/by-id/${ID0}\``);
    const mounted = await planOf(s, `storage create-volume other vol3 --device ${ID0}`);
    expect(mounted.record.state).toBe('refused');
    expect(mounted.text).toContain(
      `\`${ID0}\` is mounted: on host1 at \`/var/lib/flexvdi/image-storages/images\``,
    );
  }, 60_000);

  it("a device holding ext4: Confirm… asks for the volume's name; a wrong name formats nothing", async () => {
    const dev = diskPaths(layout, 1).byId;
    await onHost(NAME, 'host2', 'mkfs.ext4 -q -F -L old "$1"', [dev]);
    const plan = await pendingPlanOf(s, `storage create-volume scratch vol9 --device ${ID1}`);
    expect(plan.text).toContain(`\`${ID1}\` holds ext4, label \`old\`: formatting destroys it`);
    const before = s.double.views().length;
    await s.click(OPS, plan.ts);
    const opened = await eventually(s, () => s.double.views()[before]);
    const view = {
      ...(opened.view as { callback_id: string; private_metadata: string }),
      id: opened.id,
      hash: opened.hash,
    };
    expect(JSON.stringify(opened.view)).toContain('Type vol9 to confirm');
    const wrong = await submitView(s, view, { typed: 'vol' }, ADMIN);
    expect(JSON.stringify(wrong.body)).toContain('Nothing was confirmed');
    expect((await onHost(NAME, 'host1', 'blkid -p -s TYPE -o value "$1"', [dev])).trim()).toBe('ext4');
    const right = await submitView(s, view, { typed: 'vol9' }, ADMIN);
    expect(right.status).toBe(200);
    const done = await waitForJobState(s, plan.ts, ['completed', 'failed', 'partial'], 120_000);
    expect(done.record.state).toBe('completed');
    expect(done.text).toMatch(/Formatted on host1, UUID/);
    expect((await onHost(NAME, 'host3', 'blkid -p -s LABEL -o value "$1"', [dev])).trim()).toBe('vol9');
  }, 180_000);

  it('a Host down while mounting: the others mount, partly done naming it; retry mounts only there', async () => {
    if (worker) await stopWorker(worker);
    const dying = await startWorker(s, {
      tuning: TUNING,
      crash: [{ command: 'storage create-volume', step: 'mount' }],
    });
    worker = dying;
    const plan = await pendingPlanOf(s, `storage create-volume data vol2 --device ${ID2}`);
    await s.click(OPS, plan.ts);
    await exited(dying); // formatted and recorded; about to mount
    await failHost({ name: NAME, host: 'host3', mode: 'link-down', log: quietLog });
    let jobId = '';
    try {
      worker = await startWorker(s, { tuning: TUNING });
      const partial = await waitForJobState(s, plan.ts, ['partial', 'failed', 'completed'], 180_000);
      expect(partial.record.state).toBe('partial');
      expect(partial.record.hosts?.['host3']?.state).toBe('failed');
      expect(partial.text).toContain('Mounting failed on host3');
      expect(partial.text).toContain('host1, host2 mounted it');
      jobId = partial.record.jobId ?? '';
    } finally {
      await healHost({ name: NAME, host: 'host3', log: quietLog });
    }
    const dir = '/var/lib/flexvdi/image-storages/data';
    expect(await mountOf('host3', dir)).toBe('');
    const host1Fstab = await onHost(NAME, 'host1', 'stat -c "%i %Y" /etc/fstab');
    await s.send(`retry ${jobId}`);
    const done = await waitForJobState(s, plan.ts, 'completed', 120_000);
    expect(done.text).toContain('*host1*: mounted in an earlier run');
    expect(done.text).toMatch(/\*host3\*: mounted, fstab entry added/);
    for (const h of HOSTS) expect(await mountOf(h, dir)).toMatch(/^ocfs2 /);
    expect(await onHost(NAME, 'host1', 'stat -c "%i %Y" /etc/fstab')).toBe(host1Fstab);
  }, 300_000);
});

function managerClient() {
  return createServices(config, quietLog).manager;
}
