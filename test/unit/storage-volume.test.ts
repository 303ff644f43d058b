/**
 * The pure parts of `storage create-volume`: the decision (decide-volume.ts) from what the Hosts, the OCFS2
 * cluster and the Manager say, the fstab edit, and the parsers of mkfs.ocfs2's dry run and of the mount state.
 */
import { describe, expect, it } from 'vitest';
import type { ImageStorage, Volume } from '../../src/manager/index.js';
import type { Ocfs2Overview } from '../../src/plugins/ocfs2/api.js';
import { hostLines, type StorageSeen } from '../../src/plugins/storage/commands/volumes.js';
import { renderVolumePlan } from '../../src/plugins/storage/create-volume-plan.js';
import {
  decideDevice,
  decideSize,
  sizeGbOf,
  type VolumeFacts,
} from '../../src/plugins/storage/decide-volume.js';
import type { HostRead } from '../../src/plugins/storage/device-merge.js';
import type { Content, DeviceSeen } from '../../src/plugins/storage/devices.js';
import {
  fstabLineOf,
  fstabWith,
  type MountState,
  mountedHere,
  parseDryRun,
  parseMountState,
} from '../../src/plugins/storage/volume-ops.js';

const ID = 'scsi-36001405aaaaaaaaaaaaaaaaaaaaaaaaa';
const GiB = 1024 ** 3;
const HOSTS = ['host1', 'host2', 'host3'];
/** The OCFS2 volume `vol1` of cluster `clu`, 3 slots: what a device holds once create-volume made it. */
const ours: Content = { kind: 'ocfs2', label: 'vol1', uuid: 'AB', slots: 3, stack: 'o2cb', cluster: 'clu' };

function disk(o: Partial<DeviceSeen> = {}): DeviceSeen {
  return {
    ids: [ID],
    path: '/dev/sdb',
    sizeBytes: 4 * GiB,
    content: { kind: 'empty' },
    mounts: [],
    holders: [],
    ...o,
  };
}

const seen = (per: Record<string, DeviceSeen[] | string>): HostRead[] =>
  Object.entries(per).map(([host, v]) =>
    typeof v === 'string'
      ? { host, ok: false, error: v }
      : { host, ok: true, value: { devices: v, notes: [], unnamed: [] } },
  );

function overview(o: Partial<Ocfs2Overview> = {}, hostPatch: Record<string, object> = {}): Ocfs2Overview {
  return {
    cluster: 'clu',
    firstNode: 'host1',
    nodeCount: 3,
    hosts: HOSTS.map((h, i) => ({
      host: h,
      reachable: true,
      error: null,
      node: { number: i, name: h },
      online: 'clu',
      drift: [],
      ...hostPatch[h],
    })),
    ...o,
  };
}

function facts(o: Partial<VolumeFacts> = {}): VolumeFacts {
  return {
    request: { imageStorage: 'images', volume: 'vol1', deviceId: ID },
    targets: HOSTS,
    others: [],
    ocfs2: overview(),
    reads: seen({ host1: [disk()], host2: [disk()], host3: [disk()] }),
    storages: [],
    volumes: [],
    ...o,
  };
}

const reasonOf = (d: ReturnType<typeof decideDevice>) => (d.kind === 'refuse' ? d.reason.plain() : '');

describe('decideDevice', () => {
  it('an empty device seen by every Host: format with the cluster node count as slots, vmstore from 2 GiB', () => {
    const d = decideDevice(facts());
    expect(d.kind).toBe('go');
    if (d.kind !== 'go') return;
    expect(d.pin).toMatchObject({
      mode: 'format',
      slots: 3,
      vmstore: true,
      formatter: 'host1',
      devicePath: `/dev/disk/by-id/${ID}`,
      mountPoint: '/var/lib/flexvdi/image-storages/images',
      fstabLine: fstabLineOf(ID, 'images'),
      before: { kind: 'empty' },
    });
    const small = decideDevice(
      facts({
        reads: seen({
          host1: [disk({ sizeBytes: GiB })],
          host2: [disk({ sizeBytes: GiB })],
          host3: [disk({ sizeBytes: GiB })],
        }),
      }),
    );
    expect(small.kind === 'go' && small.pin.vmstore).toBe(false);
  });

  it('no cluster, a Host not a node, o2cb offline or drift: refused, naming the Host and the fix', () => {
    expect(reasonOf(decideDevice(facts({ ocfs2: overview({ cluster: null, nodeCount: null }) })))).toContain(
      'No OCFS2 cluster yet',
    );
    expect(reasonOf(decideDevice(facts({ ocfs2: overview({}, { host2: { node: null } }) })))).toContain(
      'host2 is not a node of `clu`: `/flexvdi ocfs2 join host2`',
    );
    expect(reasonOf(decideDevice(facts({ ocfs2: overview({}, { host3: { online: null } }) })))).toContain(
      'o2cb is offline on host3',
    );
    expect(
      reasonOf(
        decideDevice(facts({ ocfs2: overview({}, { host1: { reachable: false, error: 'timed out' } }) })),
      ),
    ).toContain('host1 could not be read (timed out)');
  });

  it('a device not seen by every Host, unknown, or on a Host not read: refused with what to do', () => {
    const missing = decideDevice(facts({ reads: seen({ host1: [disk()], host2: [disk()], host3: [] }) }));
    expect(reasonOf(missing)).toContain(`\`${ID}\` is not visible from host3 (seen by host1, host2)`);
    const unknown = decideDevice(
      facts({ request: { imageStorage: 'images', volume: 'v', deviceId: 'scsi-3nope' } }),
    );
    expect(reasonOf(unknown)).toContain('has a device `scsi-3nope`');
    expect(reasonOf(unknown)).toContain(`Devices every one of them sees: \`${ID}\``);
    const unread = decideDevice(
      facts({ reads: seen({ host1: [disk()], host2: 'no route', host3: [disk()] }) }),
    );
    expect(reasonOf(unread)).toContain('host2 (no route)');
  });

  it('mounted, used by device-mapper or unreadable content: never formatted', () => {
    const mounted = disk({ mounts: [{ target: '/mnt/x', fstype: 'ext4', partition: null }] });
    expect(
      reasonOf(decideDevice(facts({ reads: seen({ host1: [disk()], host2: [mounted], host3: [disk()] }) }))),
    ).toContain('is mounted: on host2 at `/mnt/x` (ext4)');
    const held = disk({ holders: ['dm-3'] });
    expect(
      reasonOf(decideDevice(facts({ reads: seen({ host1: [held], host2: [disk()], host3: [disk()] }) }))),
    ).toContain('in use by dm-3 on host1');
    const unknown = disk({ content: { kind: 'unknown', reason: 'timed out' } });
    const all = seen({ host1: [unknown], host2: [unknown], host3: [unknown] });
    expect(reasonOf(decideDevice(facts({ reads: all })))).toContain('Cannot tell what is on');
  });

  it('slots: fewer than the nodes refused; a device holding this volume is adopted with its own slots', () => {
    expect(
      reasonOf(
        decideDevice(facts({ request: { imageStorage: 'images', volume: 'vol1', deviceId: ID, slots: 2 } })),
      ),
    ).toContain('2 slots is fewer than the 3 nodes');
    const eight: Content = { ...ours, slots: 8 };
    const at = { target: '/var/lib/flexvdi/image-storages/images', fstype: 'ocfs2', partition: null };
    const reads = seen({
      host1: [disk({ content: eight, mounts: [at] })],
      host2: [disk({ content: eight })],
      host3: [disk({ content: eight })],
    });
    const d = decideDevice(facts({ reads }));
    expect(d.kind === 'go' && [d.pin.mode, d.pin.slots, d.mountedOn]).toEqual(['adopt', 8, ['host1']]);
    const other = decideDevice(
      facts({ reads, request: { imageStorage: 'images', volume: 'vol1', deviceId: ID, slots: 4 } }),
    );
    expect(reasonOf(other)).toContain('already holds volume `vol1` with 8 slots, not 4');
  });

  it('another file system or another OCFS2 volume: format, what is there kept in the pin for the typed confirmation', () => {
    const ext4: Content = { kind: 'other', type: 'ext4', label: 'old', uuid: 'u-1' };
    const d = decideDevice(
      facts({
        reads: seen({
          host1: [disk({ content: ext4 })],
          host2: [disk({ content: ext4 })],
          host3: [disk({ content: ext4 })],
        }),
      }),
    );
    expect(d.kind === 'go' && [d.pin.mode, d.pin.before]).toEqual(['format', ext4]);
  });

  it("the Manager's names: taken elsewhere refused; the same records again only for the same volume", () => {
    const storage = (device: string): ImageStorage => ({
      storageId: '1',
      name: 'images',
      device,
      cluster: 'clu',
      createdAt: '2026-01-01T00:00:00Z',
    });
    expect(reasonOf(decideDevice(facts({ storages: [storage('/dev/disk/by-id/other')] })))).toContain(
      'already has an Image Storage `images` on `/dev/disk/by-id/other`',
    );
    const vol: Volume = {
      volumeId: '1',
      name: 'vol1',
      imageStorage: 'elsewhere',
      sizeGb: 4,
      createdAt: '2026-01-01T00:00:00Z',
    };
    expect(reasonOf(decideDevice(facts({ volumes: [vol] })))).toContain(
      'already has a Volume `vol1` in Image Storage `elsewhere`',
    );
    // The same records again: accepted for the volume itself (adopted), never as a device to format again.
    const again = decideDevice(
      facts({
        storages: [storage(`/dev/disk/by-id/${ID}`)],
        volumes: [{ ...vol, imageStorage: 'images' }],
        reads: seen({
          host1: [disk({ content: ours })],
          host2: [disk({ content: ours })],
          host3: [disk({ content: ours })],
        }),
      }),
    );
    expect(again.kind === 'go' && [again.pin.mode, again.recorded]).toEqual([
      'adopt',
      { storage: true, volume: true },
    ]);
    expect(reasonOf(decideDevice(facts({ storages: [storage(`/dev/disk/by-id/${ID}`)] })))).toContain(
      "is already the Manager's Image Storage `images` but does not hold volume `vol1`",
    );
  });

  it('a Host outside the targets with the device mounted, or not read, stops a format (not an adopt)', () => {
    const mounted = disk({ mounts: [{ target: '/mnt/data', fstype: 'xfs', partition: null }] });
    const two = { targets: ['host1', 'host2'], reads: seen({ host1: [disk()], host2: [disk()] }) };
    expect(reasonOf(decideDevice(facts({ ...two, others: seen({ host3: [mounted] }) })))).toContain(
      'is mounted: on host3 at `/mnt/data` (xfs)',
    );
    expect(reasonOf(decideDevice(facts({ ...two, others: seen({ host3: 'timed out' }) })))).toContain(
      'Could not read the devices of host3 (timed out): a Host that may have',
    );
    const at = { target: '/var/lib/flexvdi/image-storages/images', fstype: 'ocfs2', partition: null };
    const adopt = decideDevice(
      facts({
        targets: ['host3'],
        reads: seen({ host3: [disk({ content: ours })] }),
        others: [...seen({ host1: [disk({ content: ours, mounts: [at] })] }), ...seen({ host2: 'down' })],
      }),
    );
    expect(adopt.kind === 'go' && adopt.pin.mode).toBe('adopt');
  });

  it('an OCFS2 volume of this cluster under another name is never formatted: its own name adopts it', () => {
    const other: Content = {
      kind: 'ocfs2',
      label: 'vm-old',
      uuid: 'CD',
      slots: 4,
      stack: 'o2cb',
      cluster: 'clu',
    };
    const all = seen({
      host1: [disk({ content: other })],
      host2: [disk({ content: other })],
      host3: [disk({ content: other })],
    });
    expect(reasonOf(decideDevice(facts({ reads: all })))).toContain(
      `holds OCFS2 volume \`vm-old\` of this cluster (\`clu\`): Hosts may be using it, so create-volume never formats it. To use it as it is, give its own name: \`/flexvdi storage create-volume images vm-old --device ${ID}\``,
    );
  });
});

describe('decideSize', () => {
  const go = decideDevice(facts());
  if (go.kind !== 'go') throw new Error('fixture');
  it("refuses with mkfs.ocfs2's own reason, or when the journals take more than half the device", () => {
    expect(decideSize(go, { ok: false, error: 'device too small' })?.reason.plain()).toContain(
      'dry run on host1: device too small',
    );
    const dry = { blockSize: 4096, clusterSize: 131072, volumeBytes: 4 * GiB, slots: 3 };
    expect(decideSize(go, { ok: true, value: { ...dry, journalBytes: 128 * 1024 ** 2 } })).toBeNull();
    expect(decideSize(go, { ok: true, value: { ...dry, journalBytes: GiB } })?.reason.plain()).toContain(
      'too small for 3 slots: their journals would take 3.0 GiB of 4.0 GiB',
    );
  });
  it('records whole GiB, at least 1', () => {
    expect([sizeGbOf(4 * GiB), sizeGbOf(GiB / 2), sizeGbOf(2.9 * GiB)]).toEqual([4, 1, 2]);
  });
});

describe('fstabWith', () => {
  const line = fstabLineOf(ID, 'images');
  it('appends once, keeps a file without a final new line whole, and finds its own line however spaced', () => {
    const added = fstabWith('/dev/sda1 / ext4 defaults 0 1', line);
    expect(added.kind).toBe('add');
    const text = added.kind === 'add' ? added.text : '';
    expect(text.startsWith('/dev/sda1 / ext4 defaults 0 1\n# flexVDI Image Storage')).toBe(true);
    expect(text.endsWith(`${line}\n`)).toBe(true);
    expect(fstabWith(text, line)).toEqual({ kind: 'present' });
    expect(fstabWith(`${line.replace(/\t/g, '   ')}\n`, line)).toEqual({ kind: 'present' });
  });
  it('another entry for the folder or the device is a conflict, never overwritten; comments are not entries', () => {
    const dir = '/var/lib/flexvdi/image-storages/images';
    expect(fstabWith(`/dev/sdc ${dir} xfs defaults 0 0\n`, line)).toMatchObject({ kind: 'conflict' });
    expect(fstabWith(`/dev/disk/by-id/${ID} /mnt ocfs2 _netdev 0 0\n`, line)).toMatchObject({
      kind: 'conflict',
      why: `another entry already mounts /dev/disk/by-id/${ID}`,
    });
    expect(fstabWith(`# /dev/sdc ${dir} xfs defaults 0 0\n`, line).kind).toBe('add');
  });
});

describe('parsers', () => {
  it("reads mkfs.ocfs2 -n's figures, and nothing from output that lacks one", () => {
    const out =
      'Cluster stack: o2cb\nBlock size: 4096 (12 bits)\nCluster size: 131072 (17 bits)\nVolume size: 2147483648 (16384 clusters) (524288 blocks)\nJournal size: 134217728\nNode slots: 4\n';
    expect(parseDryRun(out)).toEqual({
      blockSize: 4096,
      clusterSize: 131072,
      volumeBytes: 2147483648,
      journalBytes: 134217728,
      slots: 4,
    });
    expect(parseDryRun(out.replace(/Journal size.*\n/, ''))).toBeNull();
  });
  it('reads the mount state; mounted here only as ocfs2 from the device itself', () => {
    const MS = '@@flexvdi-mount-state';
    const text = (findmnt: string, df = '', fstab = '', match = findmnt.split(' ')[1] ?? '') =>
      `${MS} device\n/dev/sdb\n${MS} match\n${match}\n${MS} findmnt\n${findmnt}\n${MS} df\n${df}\n${MS} fstab\n${fstab}\n${MS} end\n`;
    const s = parseMountState(text('/dev/sdb ocfs2', ' 2147483648 1800000000', 'yes'));
    expect(s).toEqual({
      mounted: { source: '/dev/sdb', fstype: 'ocfs2' },
      sizeBytes: 2147483648,
      freeBytes: 1800000000,
      inFstab: true,
      device: '/dev/sdb',
      match: 'ocfs2',
    });
    expect(s && mountedHere(s)).toBe(true);
    // Another device on the folder: findmnt -S DEV -M DIR matches nothing.
    const other = parseMountState(text('/dev/sdc ocfs2', '', '', ''));
    expect(other && mountedHere(other)).toBe(false);
    // Multipath: mounted as /dev/mapper/mpatha while the id resolves to /dev/dm-3 — findmnt matches it.
    const mpath = parseMountState(text('/dev/mapper/mpatha ocfs2', '', 'yes', 'ocfs2'));
    expect(mpath && mountedHere(mpath)).toBe(true);
    const none = parseMountState(text(''));
    expect(none?.mounted).toBeNull();
    expect(parseMountState(`${MS} device\n/dev/sdb\n`)).toBeNull();
  });
});

describe('the create-volume plan as shown', () => {
  const plain = (p: ReturnType<typeof renderVolumePlan>) =>
    [p.summary, ...p.sections.flatMap((x) => [x.title, ...x.lines]), ...p.warnings]
      .filter((m) => m !== undefined)
      .map((m) => m!.plain())
      .join('\n');

  it('an empty device: the mkfs line, the journals it costs, each mount option; no typed confirmation', () => {
    const d = decideDevice(facts());
    if (d.kind !== 'go') throw new Error('fixture');
    const p = renderVolumePlan(d, 128 * 1024 ** 2);
    const text = plain(p);
    expect(text).toContain(
      `mkfs.ocfs2 -q -F -N 3 -L vol1 --cluster-stack=o2cb --cluster-name=clu -T vmstore /dev/disk/by-id/${ID}`,
    );
    expect(text).toContain('3 node slots (cluster `clu` declares 3 nodes): 3 journals × 128 MiB = 384 MiB');
    for (const o of [
      '_netdev',
      'x-systemd.requires=o2cb.service',
      'noatime',
      'errors=remount-ro',
      'coherency=full',
    ])
      expect(text).toContain(`\`${o}\`: `);
    expect(text).toContain('Mount on host1, host2, host3');
    expect(p.typeToConfirm).toBeUndefined();
    expect(p.pinned?.mode).toBe('format');
  });

  it('a device holding a file system: a warning and the volume name to type; a small one gets no vmstore', () => {
    const ext4: Content = { kind: 'other', type: 'ext4', label: 'old', uuid: 'u-1' };
    const small = disk({ content: ext4, sizeBytes: GiB });
    const d = decideDevice(facts({ reads: seen({ host1: [small], host2: [small], host3: [small] }) }));
    if (d.kind !== 'go') throw new Error('fixture');
    const p = renderVolumePlan(d, null);
    expect(p.typeToConfirm?.text).toBe('vol1');
    expect(p.typeToConfirm?.why.plain()).toContain('holds ext4, label `old`');
    expect(plain(p)).toContain('No `-T vmstore`: it needs a device of at least 2 GiB');
    expect(p.warnings.map((w) => w.plain()).join()).toContain('formatting destroys it, for every Host');
  });

  it('a device that holds this volume already: used as it is, mounted where it is not yet, records noted', () => {
    const four: Content = { ...ours, slots: 4 };
    const at = { target: '/var/lib/flexvdi/image-storages/images', fstype: 'ocfs2', partition: null };
    const d = decideDevice(
      facts({
        reads: seen({
          host1: [disk({ content: four, mounts: [at] })],
          host2: [disk({ content: four })],
          host3: [disk({ content: four })],
        }),
        storages: [
          {
            storageId: '1',
            name: 'images',
            device: `/dev/disk/by-id/${ID}`,
            cluster: 'clu',
            createdAt: '2026-01-01T00:00:00Z',
          },
        ],
      }),
    );
    if (d.kind !== 'go') throw new Error('fixture');
    const text = plain(renderVolumePlan(d, null));
    expect(text).toContain('Use the existing OCFS2 volume *vol1*');
    expect(text).toContain('never formatted again');
    expect(text).toContain('Mount on host2, host3 (already mounted on host1)');
    expect(text).toContain('(recorded already)');
    expect(text).not.toContain('mkfs.ocfs2 -q');
  });
});

describe('storage volumes: each Host and its drift', () => {
  const state = (o: Partial<MountState>): MountState => ({
    mounted: null,
    sizeBytes: null,
    freeBytes: null,
    inFstab: true,
    device: '/dev/sdb',
    match: null,
    ...o,
  });
  const seenBy = (hosts: StorageSeen['hosts']): StorageSeen => ({
    name: 'images',
    device: `/dev/disk/by-id/${ID}`,
    cluster: 'clu',
    volumes: [{ name: 'recorded-name', sizeGb: 4 }],
    label: 'vol1',
    slots: 4,
    hosts,
  });
  it('mounted, mounted without fstab, not mounted, something else there, no device, not read', () => {
    const ocfs2 = { source: '/dev/sdb', fstype: 'ocfs2' };
    const { lines, drift } = hostLines(
      seenBy([
        { host: 'host1', ok: true, state: state({ mounted: ocfs2, match: 'ocfs2' }) },
        { host: 'host2', ok: true, state: state({ mounted: ocfs2, match: 'ocfs2', inFstab: false }) },
        { host: 'host3', ok: true, state: state({}) },
        { host: 'host4', ok: true, state: state({ mounted: { source: '/dev/sdc', fstype: 'xfs' } }) },
        { host: 'host5', ok: true, state: state({ device: null }) },
        { host: 'host6', ok: false, error: 'timed out' },
      ]),
    );
    expect(lines.map((l) => l.plain())).toEqual([
      '• *host1*: mounted',
      '• :warning: *host2*: mounted, but not in /etc/fstab (not mounted again after a reboot)',
      '• :warning: *host3*: not mounted (the fstab entry is there)',
      '• :warning: *host4*: has /dev/sdc (xfs) mounted there instead',
      '• :warning: *host5*: does not see the device',
      '• :warning: *host6*: not read — timed out',
    ]);
    const fixes = drift.map((d) => d.plain());
    // The fix adopts the volume that is on the device: its label, not the Manager's record.
    expect(fixes[0]).toContain(`/flexvdi storage create-volume images vol1 --device ${ID} --hosts host2`);
    expect(fixes[3]).toContain('check the SAN zoning or multipath there');
    expect(fixes).toHaveLength(4);
  });
});
