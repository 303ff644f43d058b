import { describe, expect, it } from 'vitest';
import { text as foreign, md } from '../../src/core/text.js';
import { JOB_STATES, type JobState } from '../../src/jobs/job-state.js';
import { LIMITS } from '../../src/slack/blocks.js';
import { type JobView, renderJob, stateLabel } from '../../src/slack/job-view.js';
import { checkMessageLimits } from '../../src/slack-double/index.js';

const EVIL = '<!channel> <!here> <@U0EVIL1> <#C0EVIL1> <http://evil.example|click> & *b* _i_ ~s~ `c` ```x```';
const REQUESTER = 'U0REQ1';
const CONFIRMER = 'U0CONF1';

/** Every `<…>` span of a rendered message (mentions, special commands, links). */
const spans = (s: string) => s.match(/<[^<>]*>/g) ?? [];

function hostileView(state: JobState, over: Partial<JobView> = {}): JobView {
  return {
    text: `register-host ${EVIL}`,
    requester: REQUESTER,
    confirmedBy: CONFIRMER,
    state,
    jobId: `j-abc ${EVIL}`,
    note: md`Note about ${EVIL}`,
    plan: {
      summary: md`Register ${EVIL}`,
      sections: [{ title: md`Hosts ${EVIL}`, lines: [foreign(EVIL), md`• ${EVIL}`] }],
      warnings: [md`careful: ${EVIL}`],
      refused: md`refused because ${EVIL}`,
    },
    confirmId: 'c123',
    expiresAt: Date.now() + 600_000,
    steps: [
      { id: 'a', title: 'Check the Host', state: 'done', detail: EVIL },
      { id: 'b', title: 'Configure', state: 'running', detail: `line1\n> ${EVIL}` },
    ],
    hosts: {
      [`host<!channel>${EVIL}`]: { state: 'failed', detail: EVIL },
      host2: { state: 'ok', detail: `<@U0EVIL2> \`\`\` ${EVIL}` },
    },
    current: `probing ${EVIL}`,
    result: { summary: md`done with ${EVIL}`, sections: [{ lines: [foreign(EVIL)] }], outcome: 'completed' },
    error: `Host said ${EVIL}`,
    ...over,
  };
}

describe('renderJob escapes every foreign string', () => {
  for (const state of JOB_STATES) {
    it(`state ${state}: no ping, no foreign mention, within Block Kit limits`, () => {
      const { text, blocks } = renderJob(hostileView(state));
      const json = JSON.stringify(blocks);
      for (const s of [json, text]) {
        expect(s).not.toContain('<!channel>');
        expect(s).not.toContain('<!here>');
        expect(s).not.toMatch(/<[@#!][^>]*EVIL/);
        expect(s).not.toContain('<http');
        for (const span of spans(s)) expect([`<@${REQUESTER}>`, `<@${CONFIRMER}>`]).toContain(span);
      }
      expect(json).toContain(`requested by <@${REQUESTER}>`);
      expect(blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
      expect(checkMessageLimits(text, blocks)).toBeUndefined();
      // The notification text carries no mention at all.
      expect(spans(text)).toEqual([]);
    });
  }

  it('shows every foreign piece escaped (it is still there for the reader)', () => {
    const { blocks } = renderJob(hostileView('running'));
    const json = JSON.stringify(blocks);
    expect(json).toContain(`confirmed by <@${CONFIRMER}>`);
    expect(json).toContain('probing &lt;!channel&gt;'); // current
    expect(json).toContain('Host said &lt;!channel&gt;'); // error
    expect(json).toContain('&lt;@U0EVIL2&gt;'); // Host detail (code block)
    expect(json).toContain('host&lt;!channel&gt;'); // Host name (code block)
    expect(json).toContain('— &lt;!channel&gt;'); // step detail
    expect(json).not.toContain('\\n> ');
    expect(json).toContain('\\n&gt; ');
    // The Host table is one code block per section: a Host's backticks cannot end it early.
    const table = blocks.find((b) => JSON.stringify(b).includes('host2'));
    const tableText = (table as { text: { text: string } }).text.text;
    expect(tableText.startsWith('```') && tableText.endsWith('```')).toBe(true);
    expect(tableText.slice(3, -3)).not.toContain('`');
  });

  it('a requester or confirmer that is not a Slack user id is shown, never rendered as a mention', () => {
    for (const id of ['<!channel>', '<@U0EVIL1>', 'U0EVIL1> <!channel', '!channel', 'here']) {
      const { text, blocks } = renderJob(
        hostileView('awaiting-confirmation', { requester: id, confirmedBy: id }),
      );
      const s = JSON.stringify(blocks) + text;
      expect(spans(s), id).toEqual([]);
      expect(s).not.toContain('<!channel>');
    }
  });

  it('a message with hundreds of Hosts and steps keeps to 50 blocks and keeps its buttons', () => {
    const hosts = Object.fromEntries(
      Array.from({ length: 400 }, (_, i) => [
        `host${i}-${EVIL}`,
        { state: 'ok' as const, detail: EVIL.repeat(5) },
      ]),
    );
    const steps = Array.from({ length: 200 }, (_, i) => ({
      id: `s${i}`,
      title: `Step ${i}`,
      state: 'pending' as const,
      detail: EVIL.repeat(20),
    }));
    const { text, blocks } = renderJob(hostileView('awaiting-confirmation', { hosts, steps }));
    expect(blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
    expect(checkMessageLimits(text, blocks)).toBeUndefined();
    const json = JSON.stringify(blocks);
    expect(json).toContain('flexvdi_confirm');
    expect(json).toContain('flexvdi_cancel');
    expect(json).toContain('more blocks not shown');
    expect(json).not.toContain('<!channel>');
  });
});

describe('outcome labels', () => {
  const base = { text: 'storage status', requester: REQUESTER } as const;
  it('findings renders as "completed with findings" with :warning:, distinct from completed ✅', () => {
    const findings = renderJob({
      ...base,
      state: 'findings',
      result: { summary: md`2 problems`, sections: [], outcome: 'findings' },
    });
    const completed = renderJob({
      ...base,
      state: 'completed',
      result: { summary: md`all good`, sections: [], outcome: 'completed' },
    });
    const head = (r: { blocks: unknown[] }) => JSON.stringify(r.blocks[0]);
    expect(head(findings)).toContain(':warning:');
    expect(head(findings)).toContain('completed with findings');
    expect(head(findings)).not.toContain(':white_check_mark:');
    expect(findings.text).toContain('completed with findings');
    expect(head(completed)).toContain(':white_check_mark:');
    expect(head(completed)).not.toContain(':warning:');
    expect(head(completed)).not.toContain('findings');
    expect(completed.text).toMatch(/— completed$/);
    expect(stateLabel('findings')).not.toBe(stateLabel('completed'));
    expect(stateLabel('awaiting-confirmation')).toBe('awaiting confirmation');
  });
});
