/**
 * The overview of the monitor's board (src/monitor/overview.ts) and the alert buttons' value
 * (src/monitor/board.ts): whether the monitor runs, thread links, incident and window lines, the Home tab —
 * with hostile text from users, Hosts and the Manager shown as text (nobody paged, no link, no formatting),
 * and big inventories kept within Slack's 100 blocks (cut with a note, healthy Hosts folded). Pure.
 */
import { describe, expect, it } from 'vitest';
import { alertButtonValue, type Maintenance, parseAlertButtonValue, STORM } from '../../src/monitor/board.js';
import { type Incident, incidentSchema } from '../../src/monitor/incidents.js';
import {
  alertLine,
  alertLines,
  type BoardSnapshot,
  GENERIC_LINK_BASE,
  HOME_MAX_BLOCKS,
  homeView,
  monitorStatus,
  type Overview,
  threadUrl,
  windowLines,
} from '../../src/monitor/overview.js';
import { checkMessageLimits, SLACK_LIMITS } from '../../src/slack-double/limits.js';

const NOW = Date.parse('2026-12-03T10:00:00Z');
const LEASE = 5000;
const ALERTS = 'C0ALERTS1';

/** An incident in the monitor's shape (its schema fills what these tests leave out). */
const incident = (over: Partial<Incident> = {}): Incident =>
  incidentSchema.parse({
    id: 'host1-abc',
    host: 'host1',
    state: 'open',
    phase: 'lost',
    openedAt: NOW - 120_000,
    lostAt: NOW - 120_000,
    resolvedAt: null,
    failing: ['heartbeat'],
    flaps: 0,
    channel: ALERTS,
    threadTs: '1796291880.000100',
    version: 0,
    ...over,
  });

const window = (over: Partial<Maintenance> = {}): Maintenance => ({
  id: 'mw-1',
  host: 'host2',
  by: 'U0ADMIN01',
  reason: 'disk swap',
  since: NOW - 60_000,
  until: NOW + 1_800_000,
  endedBy: null,
  ...over,
});

const snapshot = (over: Partial<BoardSnapshot> = {}): BoardSnapshot => ({
  readAt: NOW,
  view: { updatedAt: NOW - 800, replica: 'replica-a-123456', hosts: [] },
  incidents: {},
  acks: {},
  maintenance: [],
  linkBase: 'https://flexvdi-ops.slack.com/',
  ...over,
});

const overview = (hostNames: string[], over: Partial<BoardSnapshot> = {}): Overview => ({
  ...snapshot(over),
  hosts: hostNames.map((name) => ({ name, fqdn: `${name}.example.com` })),
  leaseMs: LEASE,
});

const all = (blocks: unknown[]) => JSON.stringify(blocks);

describe('the alert buttons’ value', () => {
  it('round-trips the incident and the Host, and refuses anything else', () => {
    const v = alertButtonValue({ incident: 'host1-m1abc', host: 'host1' });
    expect(JSON.parse(v)).toEqual({ incident: 'host1-m1abc', host: 'host1' });
    expect(parseAlertButtonValue(v)).toEqual({ incident: 'host1-m1abc', host: 'host1' });
    expect(parseAlertButtonValue(alertButtonValue({ incident: 'storm-1', host: STORM }))?.host).toBe(STORM);
    for (const bad of [
      undefined,
      '',
      'c-confirm-id', // a plan's Confirm value
      '{"incident":"x"}',
      '{"incident":"","host":"h"}',
      '{"incident":"x","host":"h","extra":1}',
      JSON.stringify({ incident: 'x'.repeat(201), host: 'h' }),
    ])
      expect(parseAlertButtonValue(bad)).toBeNull();
  });
});

describe('whether the monitor runs', () => {
  it('not without a view, not with a view older than 3 leases, yes otherwise', () => {
    const none = monitorStatus(null, LEASE, NOW);
    expect(none.running).toBe(false);
    expect(none.line.mrkdwn).toContain('The heartbeat monitor is not running');
    const stale = monitorStatus({ updatedAt: NOW - 16_000, replica: 'r', hosts: [] }, LEASE, NOW);
    expect(stale.running).toBe(false);
    expect(stale.line.mrkdwn).toContain('16 s old');
    expect(stale.line.mrkdwn).toContain('after 15 s');
    const fresh = monitorStatus(
      { updatedAt: NOW - 14_000, replica: 'replica-abcdef12', hosts: [] },
      LEASE,
      NOW,
    );
    expect(fresh.running).toBe(true);
    expect(fresh.line.mrkdwn).toContain('`replica-`');
  });
});

describe('thread links', () => {
  it('are the workspace’s permalink of the parent, or Slack’s generic one; never made of foreign text', () => {
    expect(threadUrl(ALERTS, '1796291880.000100', 'https://flexvdi-ops.slack.com/')).toBe(
      'https://flexvdi-ops.slack.com/archives/C0ALERTS1/p1796291880000100',
    );
    expect(threadUrl(ALERTS, '1796291880.000100', null)).toBe(
      `${GENERIC_LINK_BASE}archives/C0ALERTS1/p1796291880000100`,
    );
    // a workspace URL that is not one is not used
    expect(threadUrl(ALERTS, '1796291880.000100', 'https://x.example/|<!channel>/')).toBe(
      `${GENERIC_LINK_BASE}archives/C0ALERTS1/p1796291880000100`,
    );
    expect(threadUrl('<!channel>', '1796291880.000100', null)).toBeNull();
    expect(threadUrl(ALERTS, '1796291880|x', null)).toBeNull();
    const line = alertLine(incident({ threadTs: null }), snapshot());
    expect(line.mrkdwn).toContain('thread not posted yet');
  });
});

describe('incident and maintenance lines', () => {
  it('say which Host, since when, lost or answering again, who acknowledged, and link the thread', () => {
    const snap = snapshot({
      incidents: {
        host1: incident(),
        host3: incident({ id: 'host3-x', host: 'host3', phase: 'recovering', lostAt: NOW - 30_000 }),
        [STORM]: incident({
          id: 'storm-1',
          host: STORM,
          kind: 'storm',
          hosts: ['host4', 'host5', 'host6'],
          lostAt: NOW - 5000,
          threadTs: '1796291890.000200',
        }),
        host2: incident({ id: 'host2-old', host: 'host2', state: 'resolved', resolvedAt: NOW - 1000 }),
        'host2~maintenance': incident({ id: 'mw-ann', host: 'host2', kind: 'maintenance' }),
      },
      acks: { 'host1-abc': { by: 'U0USER001', at: NOW - 60_000 } },
    });
    const lines = alertLines(snap).map((l) => l.mrkdwn);
    expect(lines).toHaveLength(3); // resolved incidents and maintenance announcements are not alerts
    expect(lines[0]).toBe(
      '🔴 *host1* lost since 09:58:00 UTC (2 min) · acknowledged by <@U0USER001> at 09:59:00 UTC · <https://flexvdi-ops.slack.com/archives/C0ALERTS1/p1796291880000100|thread>',
    );
    expect(lines[1]).toContain('🟡 *host3* answers again');
    expect(lines[1]).toContain('not acknowledged');
    expect(lines[2]).toContain(
      '🌩️ *Storm*: 3 Hosts lost at once since 09:59:55 UTC (5 s): host4, host5, host6',
    );
    expect(lines[2]).toContain('p1796291890000200|thread>');
    // an acknowledgement the monitor copied into the incident counts too
    const copied = incident({ id: 'host9-z', host: 'host9', ack: { by: 'U0ADMIN01', at: NOW } });
    expect(alertLine(copied, snap).mrkdwn).toContain('acknowledged by <@U0ADMIN01>');
  });

  it('lists running windows only, with who set them, until when and why', () => {
    const snap = snapshot({
      maintenance: [window(), window({ id: 'mw-0', host: 'host3', until: NOW - 1 })],
      incidents: {
        'host2~maintenance': incident({
          id: 'mw-ann',
          kind: 'maintenance',
          maintenance: { id: 'mw-1', by: 'U0ADMIN01', reason: null, until: NOW, endedBy: null },
        }),
      },
    });
    const lines = windowLines(snap).map((l) => l.mrkdwn);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      '🔧 *host2* until 10:30:00 UTC (30 min left), set by <@U0ADMIN01> — disk swap',
    );
    expect(lines[0]).toContain('|announcement>');
  });
});

describe('the Home tab', () => {
  const hostile = overview(['host1', 'host_2'], {
    view: {
      updatedAt: NOW - 500,
      replica: 'r<!here>',
      hosts: [
        {
          host: 'host1',
          state: 'lost',
          since: NOW - 120_000,
          failing: ['heartbeat', 'sshd'],
          manager: { status: '<http://evil.example|click me>', lastHeartbeat: 'not a <@U0EVIL999> time' },
          problem: 'host key changed <!channel>',
        },
        {
          host: 'host_2',
          state: 'healthy',
          since: NOW - 9_000_000,
          failing: [],
          manager: { status: 'running', lastHeartbeat: new Date(NOW - 3000).toISOString() },
          problem: null,
        },
      ],
    },
    incidents: { host1: incident() },
    maintenance: [
      window({ host: 'host_2', reason: '<!channel> *urgent* ~now~ `rm -rf`', by: '<@U0EVIL999>' }),
    ],
  });

  it('shows the monitor, the incidents, the windows and every Host, escaping what came from outside', () => {
    const view = homeView(hostile);
    expect(view.type).toBe('home');
    const text = all(view.blocks);
    expect(text).toContain('flexVDI cluster');
    expect(text).toContain('*2 Hosts*: 1 lost, 1 healthy');
    expect(text).toContain('Heartbeat monitor running');
    expect(text).toContain('🔴 *host1* lost since 09:58:00 UTC');
    expect(text).toContain('Manager: running, last heartbeat 09:59:57 UTC');
    for (const raw of ['<!channel>', '<!here>', '<@U0EVIL999>', '<http://evil.example'])
      expect(text).not.toContain(raw);
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).toContain('&lt;http://evil.example|click me&gt;');
    // formatting characters from outside are fenced (no bold, no strike-through), backticks replaced
    expect(text).not.toMatch(/[^\u200b]\*urgent\*/);
    expect(text).not.toContain('`rm -rf`');
    expect(text).toContain('host\\u200b_\\u200b2'.replace(/\\u200b/g, '\u200b'));
    expect(checkMessageLimits(undefined, view.blocks, SLACK_LIMITS.blocksPerView)).toBeUndefined();
  });

  it('says when the monitor is not running, and that the states are as last seen', () => {
    const text = all(homeView({ ...hostile, readAt: NOW + 60_000 }).blocks);
    expect(text).toContain('The heartbeat monitor is not running');
    expect(text).toContain('(as last seen)');
  });

  it('stays within 100 blocks for a big inventory: lists cut with a note, healthy Hosts folded', () => {
    const names = Array.from({ length: 600 }, (_, i) => `host${i}`);
    const hosts = names.map((host, i) => ({
      host,
      state: (i % 3 === 0 ? 'lost' : 'healthy') as 'lost' | 'healthy',
      since: NOW - 1000,
      failing: i % 3 === 0 ? (['heartbeat'] as const).slice() : [],
      manager: { status: 'running', lastHeartbeat: null },
      problem: i % 3 === 0 ? `connect ETIMEDOUT ${'x'.repeat(150)}` : null,
    }));
    const incidents = Object.fromEntries(
      names.filter((_, i) => i % 3 === 0).map((h) => [h, incident({ id: `${h}-i`, host: h })]),
    );
    const o = overview(names, {
      view: { updatedAt: NOW, replica: 'r', hosts },
      incidents,
      maintenance: names.slice(0, 150).map((h, i) => window({ id: `mw-${i}`, host: h })),
    });
    const view = homeView(o);
    expect(view.blocks.length).toBeLessThanOrEqual(HOME_MAX_BLOCKS);
    expect(checkMessageLimits(undefined, view.blocks, SLACK_LIMITS.blocksPerView)).toBeUndefined();
    const text = all(view.blocks);
    expect(text).toContain('*600 Hosts*: 200 lost, 400 healthy');
    expect(text).toContain('… and 170 more: `/flexvdi alerts` lists them all');
    expect(text).toContain('… and 130 more: `/flexvdi alerts` lists them all');
    expect(text).toMatch(/… and \d+ more: `\/flexvdi status` lists every Host/);
    // 300 healthy Hosts without a window (hosts 0–149 have one) in one line, within its section
    expect(text).toMatch(/🟢 300 healthy, no incident, no maintenance: host151, host152, .* and \d+ more"/);
    // the footer is always there
    expect(text).toContain('`/flexvdi maintenance <host> --for 30m`');
  });

  it('lists every Host of a small inventory, and an empty board says so', () => {
    const text = all(homeView(overview(['a', 'b'], { view: null })).blocks);
    expect(text).toContain('*a* — ❔ unknown (monitor not running)');
    expect(text).toContain('*Open incidents*\\nnone');
    expect(text).toContain('*Maintenance windows*\\nnone');
  });
});
