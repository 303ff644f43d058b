/**
 * `storage devices`, the pure parts: the per-Host script's output parsed (stable ids grouped by device, the
 * best one first; sizes; blkid and debugfs.ocfs2 read where a hostile label cannot reach; mounts, swap,
 * holders; blkid's failures, timeouts, output cut short), the cross-Host merge (a device is the same on two
 * Hosts only when they share a world-unique id and its size; other shared names are called out), the result (escaped, "with findings" when a Host did not answer, within Slack's
 * limits with hundreds of devices), `--hosts`, and the parsers checked against the real mkfs.ocfs2, blkid
 * and debugfs.ocfs2 on a temp file, and the script against this machine's sh (its by-id folder moved to a
 * temp one).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Config, InventoryHost } from '../../src/config.js';
import { md } from '../../src/core/text.js';
import { resolveHost } from '../../src/plugins/registration/args.js';
import { hostNamesOf, hostsArg, resolveHostList } from '../../src/plugins/storage/args.js';
import {
  type HostRead,
  isWorldUnique,
  mergeDevices,
  sameContent,
  visibleEverywhere,
} from '../../src/plugins/storage/device-merge.js';
import {
  byRank,
  type Content,
  contentOf,
  type DeviceSeen,
  idRank,
  parseBlkidExport,
  parseHostDevices,
  parseOcfs2Stats,
} from '../../src/plugins/storage/devices.js';
import { DEVICES_HEADER, DEVICES_SCRIPT, DEVICES_TRAILER } from '../../src/plugins/storage/devices-script.js';
import {
  contentText,
  deviceLine,
  devicesResult,
  planSummary,
  printable,
  unreadableMessage,
} from '../../src/plugins/storage/devices-view.js';
import { LIMITS } from '../../src/slack/blocks.js';
import { renderJob } from '../../src/slack/job-view.js';
import { checkMessageLimits } from '../../src/slack-double/index.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const GiB = 2 ** 30;
/** A label that tries everything: a ping, a code span's end, bold, a new line that fakes later stats lines. */
const HOSTILE = 'vm`<!here>*x*\n\tUUID: 00000000000000000000000000000000\n\tCluster name: evil';

/** What `debugfs.ocfs2 -R stats` prints (the lines that matter, in its order), with `label` raw. */
const stats = (label: string, slots = 4, cluster = 'flexvdi') =>
  [
    '\tRevision: 0.90',
    '\tMax Node Slots: 4'.replace('4', String(slots)),
    '\tExtended Attributes Inline Size: 256',
    `\tLabel: ${label}`,
    '\tUUID: 31B4D83705084A079CE1288122D25F06',
    '\tHash: 1789568141 (0x6aaaa48d)',
    '\tCluster stack: o2cb',
    `\tCluster name: ${cluster}`,
    '\tCluster flags: 0 ',
    '\tInode: 2   Mode: 00   Generation: 1604924419 (0x5fa93403)',
    '',
  ].join('\n');

/** The script's output for these lines (tab-separated fields). */
const output = (...lines: string[][]) =>
  [DEVICES_HEADER, ...lines.map((l) => l.join('\t')), DEVICES_TRAILER, ''].join('\n');

describe('stable ids', () => {
  it('rank the SCSI WWID first, spellings of the same number and names chosen on the Host last', () => {
    expect(
      byRank([
        'wwn-0x600a0b80001',
        'dm-name-mpatha',
        'scsi-SATA_disk_1',
        'nvme-eui.0025388b91b3',
        'lvm-pv-uuid-abc',
        'ata-Samsung_SSD_1',
        'scsi-3600a0b80001',
        'something-else',
      ]),
    ).toEqual([
      'scsi-3600a0b80001',
      'scsi-SATA_disk_1',
      'ata-Samsung_SSD_1',
      'lvm-pv-uuid-abc',
      'nvme-eui.0025388b91b3',
      'wwn-0x600a0b80001',
      'something-else',
      'dm-name-mpatha',
    ]);
    expect(idRank('scsi-SLIO-ORG_disk0')).toBe(1);
    expect(idRank('nvme-Samsung_SSD_980_S1')).toBe(2);
    expect(idRank('nvme-nvme.144d-5331')).toBe(4);
  });
});

describe('parsing one Host', () => {
  it('groups the links by device, the best id first, with size, content, mounts and holders', () => {
    const r = parseHostDevices(
      output(
        ['id', 'ata-DISK_X', '/dev/sda'],
        ['dev', '/dev/sda', String(100 * GiB), 'dm-0 dm-1 '],
        ['blkid', '/dev/sda', '0', b64('DEVNAME=/dev/sda\nPTUUID=abc\nPTTYPE=gpt\n')],
        ['id', 'wwn-0x600a0b80001', '/dev/sdb'],
        ['id', 'scsi-3600a0b80001', '/dev/sdb'],
        ['dev', '/dev/sdb', String(2 * GiB), ''],
        [
          'blkid',
          '/dev/sdb',
          '0',
          b64('DEVNAME=/dev/sdb\nLABEL=vm\\`\\<!here\\>*x*^J\tUUID: 0\nUUID=31b4d837\nTYPE=ocfs2\n'),
        ],
        ['ocfs2', '/dev/sdb', b64(stats(HOSTILE))],
        ['id', 'scsi-SLIO-ORG_disk1', '/dev/sdc'],
        ['dev', '/dev/sdc', '-', ''],
        ['blkid', '/dev/sdc', '2', ''],
        ['mount', '/dev/sda', '/dev/sda1', '/', 'ext4'],
        ['mount', '/dev/sdb', '-', '/mnt/vm\\x20one', 'ocfs2'],
        ['mount', '/dev/sda', '/dev/sda2', '[SWAP]', 'swap'],
        ['note', 'findmnt is not installed'],
        ['garbage line that no parser knows'],
      ),
    );
    if (!r.ok) throw new Error(r.error);
    const [sda, sdb, sdc] = r.value.devices;
    expect(r.value.devices).toHaveLength(3);
    expect(sda).toEqual({
      ids: ['ata-DISK_X'],
      path: '/dev/sda',
      sizeBytes: 100 * GiB,
      content: { kind: 'partitioned', table: 'gpt' },
      mounts: [
        { target: '/', fstype: 'ext4', partition: '/dev/sda1' },
        { target: '[SWAP]', fstype: 'swap', partition: '/dev/sda2' },
      ],
      holders: ['dm-0', 'dm-1'],
    });
    expect(sdb?.ids).toEqual(['scsi-3600a0b80001', 'wwn-0x600a0b80001']);
    expect(sdb?.content).toEqual({
      kind: 'ocfs2',
      label: HOSTILE,
      uuid: '31B4D83705084A079CE1288122D25F06',
      slots: 4,
      stack: 'o2cb',
      cluster: 'flexvdi',
    });
    expect(sdb?.mounts).toEqual([{ target: '/mnt/vm one', fstype: 'ocfs2', partition: null }]);
    expect(sdc).toMatchObject({ sizeBytes: null, content: { kind: 'empty' }, mounts: [] });
    expect(r.value.notes).toEqual(['findmnt is not installed']);
  });

  it('skips what a login script printed before the header', () => {
    const r = parseHostDevices(
      `Welcome!\n${output(['id', 'scsi-1', '/dev/sdb'], ['dev', '/dev/sdb', '1', ''])}`,
    );
    expect(r.ok && r.value.devices.map((d) => d.ids)).toEqual([['scsi-1']]);
  });

  it('refuses output without the header (another shell, nothing)', () => {
    expect(parseHostDevices('')).toEqual({ ok: false, error: 'no output' });
    expect(parseHostDevices('sh: 1: base64: not found\n')).toEqual({
      ok: false,
      error: 'unexpected output: sh: 1: base64: not found',
    });
  });

  it('reads a device whose blkid line is missing as unknown, not as empty', () => {
    const r = parseHostDevices(output(['id', 'scsi-1', '/dev/sdb'], ['dev', '/dev/sdb', '1024', '']));
    expect(r.ok && r.value.devices[0]?.content).toEqual({ kind: 'unknown', reason: 'not probed' });
  });

  it('refuses output cut short (no end line), whatever it listed', () => {
    const full = output(['id', 'scsi-1', '/dev/sdb'], ['dev', '/dev/sdb', '1024', '']);
    expect(parseHostDevices(full).ok).toBe(true);
    const cut = full.replace(`${DEVICES_TRAILER}\n`, '');
    expect(parseHostDevices(cut)).toEqual({
      ok: false,
      error: 'the output ends early (no end line): the scan was cut short',
    });
  });

  it("a device blkid cannot read is unknown, with blkid's words, not empty; a probe that hung timed out", () => {
    const denied = 'blkid: error: /dev/sdc: Permission denied <!here> `x`\n';
    const r = parseHostDevices(
      output(
        ['id', 'scsi-3C', '/dev/sdc'],
        ['dev', '/dev/sdc', '1024', ''],
        ['blkid', '/dev/sdc', '2', '', b64(denied), '1'],
        // gone (or unreadable) after the probe, blkid silent
        ['id', 'scsi-3D', '/dev/sdd'],
        ['dev', '/dev/sdd', '-', ''],
        ['blkid', '/dev/sdd', '2', '', '', '0'],
        ['id', 'scsi-3E', '/dev/sde'],
        ['dev', '/dev/sde', 'timeout', ''],
        ['blkid', '/dev/sde', '124', '', '', '1'],
        ['id', 'scsi-3F', '/dev/sdf'],
        ['dev', '/dev/sdf', '1024', ''],
        ['blkid', '/dev/sdf', '0', b64('LABEL=v\nTYPE=ocfs2\n'), '', '1'],
        ['ocfs2', '/dev/sdf', '', '137'],
        ['id', 'scsi-3G', '/dev/sdg'],
        ['dev', '/dev/sdg', '1024', ''],
        ['blkid', '/dev/sdg', '2', '', '', '1'],
      ),
    );
    if (!r.ok) throw new Error(r.error);
    expect(r.value.devices.map((d) => [d.path, d.content])).toEqual([
      [
        '/dev/sdc',
        { kind: 'unknown', reason: 'blkid: blkid: error: /dev/sdc: Permission denied <!here> `x`' },
      ],
      ['/dev/sdd', { kind: 'unknown', reason: 'the device could not be read (gone, or no permission)' }],
      ['/dev/sde', { kind: 'unknown', reason: 'timed out' }],
      ['/dev/sdf', { kind: 'unknown', reason: 'OCFS2; debugfs.ocfs2 timed out' }],
      ['/dev/sdg', { kind: 'empty' }],
    ]);
    expect(r.value.notes).toEqual(['the size of /dev/sde is not known: blockdev timed out']);
    const c = r.value.devices[0]?.content;
    expect(c && contentText(c).mrkdwn).toBe(
      'content unknown (blkid: blkid: error: /dev/sdc: Permission denied &lt;!here&gt; ˋxˋ)',
    );
  });

  it('blkid: empty, several signatures, another file system with an escaped label', () => {
    expect(contentOf({ exit: 2, stdout: '' })).toEqual({ kind: 'empty' });
    expect(contentOf({ exit: 8, stdout: '' })).toEqual({
      kind: 'unknown',
      reason: 'blkid found several signatures',
    });
    expect(contentOf({ exit: 4, stdout: '' })).toEqual({ kind: 'unknown', reason: 'blkid failed (exit 4)' });
    expect(contentOf({ exit: 0, stdout: 'LABEL=my\\ lbl\nUUID=e4e6\nTYPE=ext4\n' })).toEqual({
      kind: 'other',
      type: 'ext4',
      label: 'my lbl',
      uuid: 'e4e6',
    });
    expect(contentOf({ exit: 0, stdout: 'TYPE=swap\n' })).toEqual({
      kind: 'other',
      type: 'swap',
      label: null,
      uuid: null,
    });
    expect(parseBlkidExport('A=x\\=y\nnot a pair\n=z\n')).toEqual(new Map([['A', 'x=y']]));
  });

  it('debugfs: an OCFS2 without its stats keeps what blkid said', () => {
    expect(contentOf({ exit: 0, stdout: 'LABEL=v1\nUUID=abc\nTYPE=ocfs2\n' })).toEqual({
      kind: 'ocfs2',
      label: 'v1',
      uuid: 'abc',
      slots: null,
      stack: null,
      cluster: null,
    });
    expect(parseOcfs2Stats('garbage')).toMatchObject({ label: null, slots: null, cluster: null });
  });
});

// ------------------------------------------------------------------------------------------------ merge

const dev = (ids: string[], path: string, over: Partial<DeviceSeen> = {}): DeviceSeen => ({
  ids: byRank(ids),
  path,
  sizeBytes: 2 * GiB,
  content: { kind: 'empty' },
  mounts: [],
  holders: [],
  ...over,
});
const okRead = (
  host: string,
  devices: DeviceSeen[],
  notes: string[] = [],
  unnamed: string[] = [],
): HostRead => ({
  host,
  ok: true,
  value: { devices, notes, unnamed },
});
const OCFS2: Content = {
  kind: 'ocfs2',
  label: HOSTILE,
  uuid: 'U1',
  slots: 4,
  stack: 'o2cb',
  cluster: 'flexvdi',
};

describe('merging Hosts', () => {
  it('one device per shared id, whatever sdX each Host gave it; local disks and Host-chosen names apart', () => {
    const merged = mergeDevices([
      okRead('host1', [
        dev(['scsi-3LUN1', 'wwn-0xLUN1'], '/dev/sdb', {
          content: OCFS2,
          mounts: [{ target: '/mnt/vm', fstype: 'ocfs2', partition: null }],
        }),
        dev(['ata-LOCAL1'], '/dev/sda', { sizeBytes: 100 * GiB }),
        dev(['dm-name-mpatha'], '/dev/dm-0'),
      ]),
      okRead('host2', [
        dev(['wwn-0xLUN1', 'scsi-3LUN1'], '/dev/sdc', {
          content: OCFS2,
          mounts: [{ target: '/mnt/vm', fstype: 'ocfs2', partition: null }],
        }),
        dev(['dm-name-mpatha'], '/dev/dm-3'),
      ]),
      okRead('host3', [dev(['wwn-0xLUN1'], '/dev/sdb', { content: OCFS2 })]),
      { host: 'host4', ok: false, error: 'Could not connect to host4' },
    ]);
    expect(merged.map((d) => [d.id, d.seenBy, d.missingFrom])).toEqual([
      // shown by the id all three know; visible from every Host that answered (host4 did not)
      ['wwn-0xLUN1', ['host1', 'host2', 'host3'], []],
      ['ata-LOCAL1', ['host1'], ['host2', 'host3']],
      ['dm-name-mpatha', ['host1'], ['host2', 'host3']],
      ['dm-name-mpatha', ['host2'], ['host1', 'host3']],
    ]);
    const lun = merged[0];
    expect(lun?.ids).toEqual(['scsi-3LUN1', 'wwn-0xLUN1']);
    expect(lun?.paths).toEqual([
      { host: 'host1', path: '/dev/sdb' },
      { host: 'host2', path: '/dev/sdc' },
      { host: 'host3', path: '/dev/sdb' },
    ]);
    expect(lun?.mounts.map((m) => m.host)).toEqual(['host1', 'host2']);
    expect(lun?.disagree).toEqual([]);
  });

  it('shows the best id when every Host knows it, and says when Hosts disagree on content or size', () => {
    const [d] = mergeDevices([
      okRead('a', [dev(['scsi-3X', 'wwn-0xX'], '/dev/sdb', { content: OCFS2 })]),
      okRead('b', [dev(['scsi-3X', 'wwn-0xX'], '/dev/sdb')]),
    ]);
    expect(d?.id).toBe('scsi-3X');
    expect(d?.disagree).toEqual([{ host: 'b', content: { kind: 'empty' } }]);
    // a Host that reads less of a superblock (no debugfs.ocfs2: blkid's UUID spelling) does not disagree
    expect(sameContent(OCFS2, { ...OCFS2, uuid: 'u-1', label: 'other', slots: null })).toBe(true);
    expect(sameContent(OCFS2, { ...OCFS2, uuid: 'U2' })).toBe(false);
    expect(sameContent({ kind: 'other', type: 'xfs', label: null, uuid: 'a' }, { kind: 'empty' })).toBe(
      false,
    );
    expect(sameContent({ kind: 'unknown', reason: 'x' }, { kind: 'unknown', reason: 'y' })).toBe(true);
    expect(d?.sizes).toEqual([
      { host: 'a', bytes: 2 * GiB },
      { host: 'b', bytes: 2 * GiB },
    ]);
  });

  it('matches across Hosts only on a world-unique id and an equal size', () => {
    const reads = [
      okRead('a', [
        // defaults a hypervisor gives every VM's disk, and ids copied with a cloned Host
        dev(['ata-QEMU_HARDDISK_QM00001', 'lvm-pv-uuid-Ab12'], '/dev/sda'),
        dev(['scsi-0QEMU_QEMU_HARDDISK_drive-scsi0', 'md-uuid-0123:4567'], '/dev/sdb'),
        dev(['nvme-eui.0000000000000000', 'nvme-QEMU_NVMe_Ctrl_deadbeef'], '/dev/nvme0n1'),
        dev(['scsi-3600a0b8000aaaa'], '/dev/sdc'),
        dev(['wwn-0x5000c500aaaa0001', 'dm-uuid-mpath-3600bbbb'], '/dev/dm-2'),
      ]),
      okRead('b', [
        dev(['ata-QEMU_HARDDISK_QM00001', 'lvm-pv-uuid-Ab12'], '/dev/sda'),
        dev(['scsi-0QEMU_QEMU_HARDDISK_drive-scsi0', 'md-uuid-0123:4567'], '/dev/sdb'),
        dev(['nvme-eui.0000000000000000', 'nvme-QEMU_NVMe_Ctrl_deadbeef'], '/dev/nvme0n1'),
        // the same WWID with another size: not proven to be the same LUN
        dev(['scsi-3600a0b8000aaaa'], '/dev/sdc', { sizeBytes: GiB }),
        dev(['dm-uuid-mpath-3600bbbb'], '/dev/dm-0'),
      ]),
    ];
    const merged = mergeDevices(reads);
    const shared = merged.filter(visibleEverywhere);
    expect(shared.map((d) => [d.id, d.seenBy])).toEqual([['dm-uuid-mpath-3600bbbb', ['a', 'b']]]);
    const apart = merged.filter((d) => !visibleEverywhere(d));
    // each of the others is a device of its own Host, marked as sharing a name with the other Host's
    expect(apart).toHaveLength(8);
    for (const d of apart) {
      expect(d.seenBy).toHaveLength(1);
      expect(d.sameName.length).toBeGreaterThan(0);
    }
    const qemu = apart.find((d) => d.id === 'ata-QEMU_HARDDISK_QM00001' && d.seenBy[0] === 'a');
    expect(qemu?.sameName).toEqual([
      { id: 'ata-QEMU_HARDDISK_QM00001', hosts: ['b'] },
      { id: 'lvm-pv-uuid-Ab12', hosts: ['b'] },
    ]);
    expect(qemu && deviceLine(qemu).plain()).toMatch(
      /· same name as a device on b \(`ata-QEMU_HARDDISK_QM00001`\); b \(`lvm-pv-uuid-Ab12`\), not proven shared/,
    );
    expect(isWorldUnique('nvme-eui.0000000000000000')).toBe(false);
    expect(isWorldUnique('nvme-uuid.00000000-0000-0000-0000-000000000000')).toBe(false);
    expect(isWorldUnique('nvme-eui.0025388b91b3')).toBe(true);
    expect(isWorldUnique('dm-uuid-LVM-abc')).toBe(false);
    expect(isWorldUnique('md-uuid-0123:4567')).toBe(false);
    // the view puts them with the devices no volume can be made on
    const r = devicesResult({ targets: ['a', 'b'], note: md`x`, reads, devices: merged });
    expect(r.summary.plain()).toMatch(/: 1 visible from every Host, 8 not/);
  });

  it('shows a world-unique id before a better-ranked name that may repeat', () => {
    const [d] = mergeDevices([
      okRead('a', [dev(['scsi-SLIO-ORG_disk0', 'wwn-0x5001405aaaa00000'], '/dev/sdb')]),
      okRead('b', [dev(['scsi-SLIO-ORG_disk0', 'wwn-0x5001405aaaa00000'], '/dev/sdc')]),
    ]);
    expect(d).toMatchObject({ id: 'wwn-0x5001405aaaa00000', seenBy: ['a', 'b'], sameName: [] });
  });

  it('a group holding two devices of one Host is ambiguous, not shared', () => {
    const reads = [
      okRead('a', [dev(['scsi-3AAAA'], '/dev/sdb'), dev(['wwn-0x5000BBBB'], '/dev/sdc')]),
      okRead('b', [dev(['scsi-3AAAA', 'wwn-0x5000BBBB'], '/dev/sdb')]),
    ];
    const merged = mergeDevices(reads);
    expect(merged).toHaveLength(1);
    const [d] = merged;
    expect(d).toMatchObject({ seenBy: ['a', 'b'], missingFrom: [], ambiguous: true });
    expect(d && visibleEverywhere(d)).toBe(false);
    const r = devicesResult({ targets: ['a', 'b'], note: md`x`, reads, devices: merged });
    expect(r.summary.plain()).toMatch(
      /: 0 visible from every Host, 1 not, :warning: the Hosts disagree about 1/,
    );
    expect(r.sections[1]?.lines[0]?.plain()).toMatch(
      /:warning: ambiguous: its ids name several devices on a, not proven shared/,
    );
  });
});

// ------------------------------------------------------------------------------------------------ result

const EVIL_NOTE = 'findmnt <!channel> said `x`';

describe('the result', () => {
  const reads = [
    okRead('host1', [
      dev(['scsi-36001405a0a0a0a0'], '/dev/sdb', {
        content: OCFS2,
        mounts: [{ target: '/mnt/vm', fstype: 'ocfs2', partition: null }],
      }),
      dev(['scsi-36001405b1b1b1b1'], '/dev/sdc'),
      dev(['ata-LOCAL<!here>'], '/dev/sda', {
        sizeBytes: 100 * GiB,
        content: { kind: 'partitioned', table: 'gpt' },
        mounts: [{ target: '/', fstype: 'ext4', partition: '/dev/sda1' }],
      }),
    ]),
    okRead('host2', [
      dev(['scsi-36001405a0a0a0a0'], '/dev/sdb', {
        content: OCFS2,
        mounts: [{ target: '/mnt/vm', fstype: 'ocfs2', partition: null }],
      }),
      dev(['scsi-36001405b1b1b1b1'], '/dev/sdc'),
    ]),
  ];

  it('one line per device: id, size, content, mounts; the ones not every Host sees called out', () => {
    const r = devicesResult({
      targets: ['host1', 'host2'],
      note: md`the Hosts registered with the Manager (2 of 2 in the inventory)`,
      reads,
      devices: mergeDevices(reads),
    });
    expect(r.outcome).toBe('completed');
    expect(r.summary.plain()).toBe('3 devices on 2 Hosts: 2 visible from every Host, 1 not');
    const [shared, partial, hosts] = r.sections;
    expect(shared?.title?.plain()).toBe('Visible from every Host (host1, host2)');
    expect(shared?.lines.map((l) => l.plain())).toEqual([
      '• `scsi-36001405a0a0a0a0` · 2.0 GiB · OCFS2, label `vmˋ<!here>*x*\\n\\tUUID: 00000000000000000000000000000000\\n\\tCluster name: evil`, cluster `flexvdi`, 4 slots · mounted at `/mnt/vm` on host1, host2 (`/dev/sdb`)',
      '• `scsi-36001405b1b1b1b1` · 2.0 GiB · empty · not mounted (`/dev/sdc`)',
    ]);
    expect(partial?.title?.plain()).toMatch(
      /^Not visible from every Host, or not proven to be one device — no shared volume/,
    );
    expect(partial?.lines.map((l) => l.plain())).toEqual([
      '• `ata-LOCAL<!here>` · 100 GiB · partition table (gpt) · `/dev/sda1` mounted at `/` (ext4) on host1 · seen by host1 only, not by host2 (`/dev/sda`)',
    ]);
    expect(hosts?.lines[0]?.plain()).toBe(
      'Hosts: the Hosts registered with the Manager (2 of 2 in the inventory).',
    );
    // What Slack gets: no ping, no code span ended early, no line broken by a label.
    const all = [r.summary, ...r.sections.flatMap((s) => [s.title ?? md``, ...s.lines])].map((x) => x.mrkdwn);
    for (const line of all) {
      expect(line).not.toContain('<!here>');
      expect(line).not.toContain('\n');
      expect((line.match(/`/g) ?? []).length % 2).toBe(0);
    }
    expect(all.join('\n')).toContain('&lt;!here&gt;');
  });

  it('a Host that does not answer is named, the rest shown, and the job ends with findings', () => {
    const withDown = [...reads, { host: 'host3', ok: false as const, error: 'Could not connect to <!here>' }];
    const r = devicesResult({
      targets: ['host1', 'host2', 'host3'],
      note: md`named with --hosts (host1, host2, host3)`,
      reads: withDown,
      devices: mergeDevices(withDown),
    });
    expect(r.outcome).toBe('findings');
    expect(r.summary.plain()).toBe(
      '3 devices on 2 Hosts: 2 visible from every Host that answered, 1 not — :warning: not read: host3',
    );
    expect(r.sections[0]?.title?.plain()).toBe(
      'Visible from every Host that answered (host1, host2; not read: host3)',
    );
    const notRead = r.sections.find((s) => s.title?.plain() === 'Not read');
    expect(notRead?.lines.map((l) => l.mrkdwn)).toEqual([
      '• :warning: *host3*: Could not connect to &lt;!here&gt;',
    ]);
  });

  it('notes from a Host, or Hosts that disagree about a device, are findings too', () => {
    const r = devicesResult({
      targets: ['a'],
      note: md`x`,
      reads: [okRead('a', [], [EVIL_NOTE])],
      devices: [],
    });
    expect(r.outcome).toBe('findings');
    expect(r.sections.find((s) => s.title?.plain() === 'Notes')?.lines[0]?.mrkdwn).toBe(
      '• a: findmnt &lt;!channel&gt; said ˋxˋ',
    );
    // disks without a stable id are said, but are no finding (a local disk without a serial is normal)
    const plainHost = [okRead('a', [dev(['scsi-3X'], '/dev/sdb')], [], ['vda', 'loop0'])];
    const r1 = devicesResult({
      targets: ['a'],
      note: md`x`,
      reads: plainHost,
      devices: mergeDevices(plainHost),
    });
    expect(r1.outcome).toBe('completed');
    expect(r1.sections.find((s) => s.title?.plain() === 'Notes')?.lines.map((l) => l.plain())).toEqual([
      '• a: no stable id (no /dev/disk/by-id link), not listed: vda loop0',
    ]);
    const odd = [
      okRead('a', [dev(['scsi-3X'], '/dev/sdb', { content: OCFS2 })]),
      okRead('b', [dev(['scsi-3X'], '/dev/sdb')]),
    ];
    const r2 = devicesResult({ targets: ['a', 'b'], note: md`x`, reads: odd, devices: mergeDevices(odd) });
    expect(r2.outcome).toBe('findings');
    expect(r2.summary.plain()).toBe(
      '1 device on 2 Hosts: 1 visible from every Host, :warning: the Hosts disagree about 1',
    );
    expect(r2.sections[0]?.lines[0]?.plain()).toMatch(
      /^• :warning: `scsi-3X` · 2\.0 GiB · OCFS2.* — :warning: the Hosts disagree on what is on it: b finds empty$/,
    );
  });

  it('a Host whose answer cannot be read: its own words quoted, nothing of them formats or pings', () => {
    const m = unreadableMessage(
      'host2',
      127,
      'unexpected output: *bold* `code` <!here>',
      'sh: 1: x: _not_ found\nline2 ~strike~ `tick`',
    );
    expect(m).toBe(
      'host2 did not answer the device scan as expected (exit 127): `unexpected output: *bold* ˋcodeˋ <!here>` (`sh: 1: x: _not_ found / line2 ~strike~ ˋtickˋ`)',
    );
    // as the result shows it: pings escaped, the formatting characters inside code spans
    const r = devicesResult({
      targets: ['host2'],
      note: md`x`,
      reads: [{ host: 'host2', ok: false, error: m }],
      devices: [],
    });
    const line = r.sections.find((x) => x.title?.plain() === 'Not read')?.lines[0]?.mrkdwn ?? '';
    expect(line).toContain('`unexpected output: *bold* ˋcodeˋ &lt;!here&gt;`');
    expect(line).not.toContain('<!here>');
    expect(line.match(/`/g)).toHaveLength(4);
  });

  it('no Host answered, no Host to read', () => {
    const down: HostRead[] = [{ host: 'a', ok: false, error: 'down' }];
    expect(devicesResult({ targets: ['a'], note: md`x`, reads: down, devices: [] }).summary.plain()).toBe(
      ':warning: No Host answered (1 Host asked)',
    );
    const none = devicesResult({ targets: [], note: md`x`, reads: [], devices: [] });
    expect(none.outcome).toBe('completed');
    expect(none.summary.plain()).toBe('No Host to read: name the Hosts with `--hosts`');
  });

  it('hundreds of devices stay within Slack’s limits (sections split, the rest cut with a note)', () => {
    const many = (host: string) =>
      okRead(
        host,
        Array.from({ length: 400 }, (_, i) =>
          dev([`scsi-3${String(i).padStart(4, '0')}<!channel>`], `/dev/sd${i}`, { content: OCFS2 }),
        ),
      );
    const hugeReads = [many('host1'), many('host2')];
    const result = devicesResult({
      targets: ['host1', 'host2'],
      note: md`x`,
      reads: hugeReads,
      devices: mergeDevices(hugeReads),
    });
    const { text, blocks } = renderJob({
      text: 'storage devices',
      requester: 'U0REQ1',
      state: 'completed',
      result,
    });
    expect(blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
    expect(checkMessageLimits(text, blocks)).toBeUndefined();
    expect(JSON.stringify(blocks)).not.toContain('<!channel>');
  });

  it('content in words', () => {
    expect(contentText({ ...OCFS2, label: null, cluster: null, slots: null }).plain()).toBe(
      'OCFS2, no label, no cluster name, slots unknown',
    );
    expect(contentText({ ...OCFS2, label: 'v', stack: 'pcmk', slots: 1 }).plain()).toBe(
      'OCFS2, label `v`, cluster `flexvdi` (pcmk), 1 slot',
    );
    expect(contentText({ kind: 'other', type: 'xfs', label: 'data', uuid: null }).plain()).toBe(
      'xfs, label `data`',
    );
    expect(contentText({ kind: 'unknown', reason: 'blkid failed (exit 4)' }).plain()).toBe(
      'content unknown (blkid failed (exit 4))',
    );
    expect(printable('a\nb\tc\u0007')).toBe('a\\nb\\tc\\x07');
    const swap = mergeDevices([
      okRead('h', [
        dev(['ata-S'], '/dev/sda', {
          mounts: [{ target: '[SWAP]', fstype: 'swap', partition: '/dev/sda2' }],
        }),
      ]),
    ])[0];
    expect(swap && deviceLine(swap).plain()).toBe(
      '• `ata-S` · 2.0 GiB · empty · `/dev/sda2` swap on h (`/dev/sda`)',
    );
  });
});

// ------------------------------------------------------------------------------------------------ --hosts

describe('--hosts', () => {
  const hosts: InventoryHost[] = ['host1', 'host2', 'host3'].map((n, i) => ({
    name: n,
    fqdn: `${n}.flexvdi.test`,
    ip: `10.0.0.${i + 1}`,
    port: 22,
  }));
  const config = { inventory: { hosts }, inventoryPath: '/etc/flexvdi/inventory.yaml' } as unknown as Config;
  const registration = { resolveHost: (h: string, ip?: string) => resolveHost(config, h, ip) };

  it('takes names, FQDNs and IPs separated by commas or spaces, each once, in inventory order', () => {
    expect(hostsArg.safeParse('host3, host1.flexvdi.test,10.0.0.2 host3').success).toBe(true);
    expect(hostNamesOf('host3, host1,,HOST3 host2')).toEqual(['host3', 'host1', 'host2']);
    const r = resolveHostList(registration, hosts, 'host3,host1.flexvdi.test 10.0.0.1');
    expect(r.ok && r.value.map((h) => h.name)).toEqual(['host1', 'host3']);
  });

  it('refuses what is not a Host name, and nothing at all', () => {
    for (const bad of ['host1;reboot', ',,', '`x`', '<!here>']) {
      expect(hostsArg.safeParse(bad).success, bad).toBe(false);
    }
  });

  it('the plan names the Hosts --hosts resolves to, not the text typed', () => {
    expect(planSummary(registration, hosts, '10.0.0.3, HOST1.flexvdi.test').plain()).toBe(
      'Read the block devices of host1, host3',
    );
    expect(planSummary(registration, hosts, undefined).plain()).toBe(
      'Read the block devices of the registered Hosts',
    );
    // a name not in the inventory: as typed (escaped); the step refuses it with the reason
    expect(planSummary(registration, hosts, 'hots2').plain()).toBe('Read the block devices of hots2');
  });

  it('a name that is not in the inventory: the registration plugin’s reason, with its suggestion', () => {
    const r = resolveHostList(registration, hosts, 'host1,hots2,nosuchhost');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('inventory.unknown_host');
    expect(r.error.userMessage).toMatch(/^`hots2` is not in the inventory\. Did you mean `host2`\?/);
    expect(r.error.userMessage).toMatch(/Not in the inventory either: `nosuchhost`\.$/);
  });
});

// ------------------------------------------------------------------------------------------ the real tools

describe('against the real tools on this machine', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'storage-devices-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });

  it('reads the label, cluster and slots mkfs.ocfs2 stamped, a hostile label included', () => {
    const img = path.join(dir, 'vol.img');
    const label = 'vm`<!here>\n*x';
    expect(run('truncate', ['-s', '256M', img]).status).toBe(0);
    const mkfs = run('mkfs.ocfs2', [
      '-q',
      '-F',
      '-N',
      '3',
      '-L',
      label,
      '--cluster-stack=o2cb',
      '--cluster-name=tbclu',
      img,
    ]);
    expect(mkfs.status, mkfs.stderr).toBe(0);
    const blkid = run('blkid', ['-p', '-o', 'export', img]);
    const debugfs = run('debugfs.ocfs2', ['-R', 'stats', img]);
    expect(debugfs.status, debugfs.stderr).toBe(0);
    const c = contentOf(
      { exit: blkid.status ?? -1, stdout: blkid.stdout, stderr: blkid.stderr },
      { text: debugfs.stdout, exit: debugfs.status ?? -1 },
    );
    expect(c).toMatchObject({ kind: 'ocfs2', label, slots: 3, stack: 'o2cb', cluster: 'tbclu' });
    expect(c.kind === 'ocfs2' && c.uuid).toMatch(/^[0-9A-F]{32}$/);
    // blkid alone escapes the new line as ^J: debugfs is what gives the label back exactly
    expect(parseBlkidExport(blkid.stdout).get('LABEL')).toBe('vm`<!here>^J*x');
  });

  it('an empty device is empty', () => {
    const img = path.join(dir, 'empty.img');
    expect(run('truncate', ['-s', '64M', img]).status).toBe(0);
    const blkid = run('blkid', ['-p', '-o', 'export', img]);
    expect(contentOf({ exit: blkid.status ?? -1, stdout: blkid.stdout, stderr: blkid.stderr })).toEqual({
      kind: 'empty',
    });
  });

  /** The script with its by-id folder moved to `byId`: this machine has no udev, so no /dev/disk/by-id. */
  const scan = (byId: string) => {
    const script = DEVICES_SCRIPT.replaceAll('/dev/disk/by-id', byId);
    expect(run('sh', ['-n', '-c', script]).status).toBe(0);
    const r = run('sh', ['-c', script]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(DEVICES_TRAILER);
    const parsed = parseHostDevices(r.stdout);
    if (!parsed.ok) throw new Error(`${parsed.error}: ${r.stdout.slice(0, 300)}`);
    return parsed.value;
  };
  /** What the script should call "no stable id" here: the kernel's whole disks, less empty, read-only, removable. */
  const unnamedHere = () =>
    readdirSync('/sys/block')
      .filter((b) => {
        const f = (x: string) => {
          try {
            return readFileSync(`/sys/block/${b}/${x}`, 'utf8').trim();
          } catch {
            return '';
          }
        };
        return f('size') !== '0' && f('ro') !== '1' && f('removable') !== '1';
      })
      .sort();

  it('without /dev/disk/by-id the script says so, and names the disks it leaves out', () => {
    const v = scan(path.join(dir, 'no-such-by-id'));
    expect(v.devices).toEqual([]);
    // (the folder's name in the note is moved too)
    expect(v.notes).toEqual([
      `${path.join(dir, 'no-such-by-id')} does not exist (no udev?): no device has a stable id here`,
    ]);
    expect([...v.unnamed].sort()).toEqual(unnamedHere());
  });

  it('links that name no whole block device (dangling, a partition, a character device) are skipped', () => {
    const byId = path.join(dir, 'by-id');
    mkdirSync(byId);
    symlinkSync('/nonexistent/sdz', path.join(byId, 'scsi-3dangling'));
    symlinkSync('/dev/null', path.join(byId, 'scsi-3chardev'));
    symlinkSync('/dev/null', path.join(byId, 'scsi-3whatever-part1'));
    const v = scan(byId);
    expect(v.devices).toEqual([]);
    expect(v.notes).toEqual([]);
  });
});
