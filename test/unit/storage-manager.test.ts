/**
 * The pure parts of the Manager's move and failover: the Host-side status and conf, the lease rule, which
 * offers the monitor runs by itself (auto-run.ts) and the offer buttons on an alert.
 */
import { describe, expect, it } from 'vitest';
import { md } from '../../src/core/text.js';
import { AUTO_ATTEMPTS, AUTO_RETRY_MS, dueAutoRuns } from '../../src/monitor/auto-run.js';
import { ALERT_ACTIONS, parseAlertButtonValue } from '../../src/monitor/board.js';
import type { Incident, LostRole } from '../../src/monitor/incidents.js';
import { parentMessage } from '../../src/monitor/messages.js';
import { monitorSettingsSchema } from '../../src/monitor/settings.js';
import {
  confWithDisk,
  imageStorageOf,
  leaseLive,
  leaseMsOf,
  onSharedStorage,
  parseManagerStatus,
} from '../../src/plugins/storage/manager-host.js';
import { incidentFixture } from '../support/incident.js';

describe('the Host-side contract', () => {
  it('reads `flexvdi-manager status`, and nothing from an answer without state or disk', () => {
    expect(
      parseManagerStatus(
        'state=running\ndisk=/var/lib/flexvdi/image-storages/images/flexvdi-manager.img\naddress=10.0.0.2\npid=42\nlease_owner=host1.example\nlease_expires_ms=1700000000000\n',
      ),
    ).toEqual({
      running: true,
      disk: '/var/lib/flexvdi/image-storages/images/flexvdi-manager.img',
      address: '10.0.0.2',
      leaseOwner: 'host1.example',
      leaseExpiresMs: 1700000000000,
    });
    expect(parseManagerStatus('state=stopped\ndisk=/x\nlease_owner=\nlease_expires_ms=\n')).toMatchObject({
      running: false,
      leaseOwner: null,
      leaseExpiresMs: null,
    });
    expect(parseManagerStatus('state=maybe\ndisk=/x\n')).toBeNull();
    expect(parseManagerStatus('bash: flexvdi-manager: command not found\n')).toBeNull();
  });

  it('a lease is live only while held and not expired; shared means under the Image Storages', () => {
    expect(leaseLive({ leaseOwner: 'h1', leaseExpiresMs: 2000 }, 1000)).toBe(true);
    expect(leaseLive({ leaseOwner: 'h1', leaseExpiresMs: 1000 }, 1000)).toBe(false);
    expect(leaseLive({ leaseOwner: null, leaseExpiresMs: 5000 }, 1000)).toBe(false);
    expect(onSharedStorage('/var/lib/flexvdi/manager/flexvdi-manager.img')).toBe(false);
    expect(imageStorageOf('/var/lib/flexvdi/image-storages/images/flexvdi-manager.img')).toBe('images');
    expect(imageStorageOf('/var/lib/flexvdi/image-storagesX/a')).toBeNull();
  });

  it('points the conf at a new image, keeping the other lines; reads LEASE_MS', () => {
    const conf = 'DISK=/old.img\nADDRESS=10.0.0.2\nLEASE_MS=12000\n';
    expect(confWithDisk(conf, '/new.img')).toBe('DISK=/new.img\nADDRESS=10.0.0.2\nLEASE_MS=12000\n');
    expect(confWithDisk('ADDRESS=10.0.0.2\n', '/new.img')).toBe('ADDRESS=10.0.0.2\nDISK=/new.img\n');
    expect(leaseMsOf(conf)).toBe(12000);
    expect(leaseMsOf('DISK=/x\n')).toBe(20000);
  });
});

const LOST_AT = 1_000_000;
const incident = (over: Partial<Incident> = {}): Incident =>
  incidentFixture({ id: 'host1-x', host: 'host1', openedAt: LOST_AT, lostAt: LOST_AT, ...over });
const managerRole: LostRole = {
  role: md`runs the flexVDI Manager`,
  onLoss: [],
  offers: [
    {
      label: 'Start the Manager on host2',
      command: 'manager start-on',
      host: 'host2',
      auto: { afterMs: 14_000 },
    },
    {
      label: 'Start the Manager on host3',
      command: 'manager start-on',
      host: 'host3',
      auto: { afterMs: 14_000 },
    },
  ],
};

const ALL = new Set(['host1', 'host2', 'host3']);

describe('dueAutoRuns', () => {
  const incidents = new Map([['host1', incident()]]);
  const roles = new Map([['host1', [managerRole]]]);
  it('the first auto offer, once its time has passed, while the Manager does not answer', () => {
    expect(dueAutoRuns(incidents, roles, false, LOST_AT + 13_999, ALL)).toEqual([]);
    expect(dueAutoRuns(incidents, roles, false, LOST_AT + 14_000, ALL)).toEqual([
      expect.objectContaining({
        incidentId: 'host1-x',
        host: 'host1',
        command: 'manager start-on',
        on: 'host2',
        attempt: 0,
      }),
    ]);
    expect(dueAutoRuns(incidents, roles, true, LOST_AT + 14_000, ALL)).toEqual([]);
  });
  it('names a healthy Host, the next one offered on each attempt; none when no offered Host is healthy', () => {
    const at = (n: number) => LOST_AT + 14_000 + n * AUTO_RETRY_MS;
    expect([0, 1, 2].map((n) => dueAutoRuns(incidents, roles, false, at(n), ALL)[0]?.on)).toEqual([
      'host2',
      'host3',
      'host2',
    ]);
    // A Host lost again within the flap window reopens its incident: the new loss has attempts of its own.
    const reopened = new Map([['host1', incident({ lostAt: LOST_AT + 60_000 })]]);
    expect(dueAutoRuns(reopened, roles, false, LOST_AT + 60_000 + 14_000, ALL)[0]).toMatchObject({
      incidentId: 'host1-x',
      lostAt: LOST_AT + 60_000,
      attempt: 0,
    });
    const only3 = new Set(['host3']);
    expect(dueAutoRuns(incidents, roles, false, at(0), only3)[0]?.on).toBe('host3');
    expect(dueAutoRuns(incidents, roles, false, at(0), new Set(['host1']))).toEqual([]);
  });
  it('tries again every AUTO_RETRY_MS, AUTO_ATTEMPTS times at most; never for a recovering or resolved Host', () => {
    const at = (n: number) => LOST_AT + 14_000 + n * AUTO_RETRY_MS;
    expect(dueAutoRuns(incidents, roles, false, at(1), ALL)[0]?.attempt).toBe(1);
    expect(dueAutoRuns(incidents, roles, false, at(AUTO_ATTEMPTS - 1), ALL)[0]?.attempt).toBe(
      AUTO_ATTEMPTS - 1,
    );
    expect(dueAutoRuns(incidents, roles, false, at(AUTO_ATTEMPTS), ALL)).toEqual([]);
    for (const over of [
      { phase: 'recovering' as const },
      { state: 'resolved' as const },
      { kind: 'storm' as const },
    ])
      expect(dueAutoRuns(new Map([['host1', incident(over)]]), roles, false, at(0), ALL)).toEqual([]);
    const noAuto = [{ ...managerRole, offers: managerRole.offers!.map(({ auto: _, ...o }) => o) }];
    expect(dueAutoRuns(incidents, new Map([['host1', noAuto]]), false, at(0), ALL)).toEqual([]);
  });
});

describe('the alert of a Host that ran the Manager', () => {
  it('offers a button per Host that can start it, naming the command and the Host; none once resolved', () => {
    const t = monitorSettingsSchema.parse({});
    const m = parentMessage(incident(), undefined, null, null, t, LOST_AT + 5000, 0, [managerRole]);
    const buttons = JSON.stringify(m.blocks);
    expect(buttons).toContain('Start the Manager on host2');
    expect(buttons).toContain(`"action_id":"${ALERT_ACTIONS.offer}:manager start-on:host3"`);
    const values = (m.blocks as { elements?: { value?: string }[] }[])
      .flatMap((b) => b.elements ?? [])
      .map((e) => parseAlertButtonValue(e.value))
      .filter((v) => v?.run);
    expect(values).toEqual([
      { incident: 'host1-x', host: 'host1', run: 'manager start-on', on: 'host2' },
      { incident: 'host1-x', host: 'host1', run: 'manager start-on', on: 'host3' },
    ]);
    const done = parentMessage(
      incident({ state: 'resolved', resolvedAt: LOST_AT + 9000 }),
      undefined,
      null,
      null,
      t,
      LOST_AT + 10_000,
      0,
      [managerRole],
    );
    expect(JSON.stringify(done.blocks)).not.toContain('Start the Manager');
  });
});
