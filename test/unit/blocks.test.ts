import { describe, expect, it } from 'vitest';
import { text as foreign, md } from '../../src/core/text.js';
import { LIMITS } from '../../src/slack/blocks.js';
import { renderJob } from '../../src/slack/job-view.js';
import { checkMessageLimits } from '../../src/slack-double/index.js';

describe('job message rendering', () => {
  it('a plan with 64 nodes and long lines stays within Block Kit limits and keeps its buttons', () => {
    const lines = Array.from({ length: 64 }, (_, i) =>
      foreign(`node ${i}  host-${i}.example.com  10.0.${i}.1:7777 ${'x'.repeat(200)}`),
    );
    const sections = Array.from({ length: 60 }, (_, i) => ({ title: md`Section ${i}`, lines }));
    const { text, blocks } = renderJob({
      text: 'ocfs2 first-node host1',
      requester: 'U1',
      state: 'awaiting-confirmation',
      confirmId: 'cabc',
      expiresAt: Date.now() + 900_000,
      plan: { summary: md`Create the cluster`, sections, warnings: [foreign('w'.repeat(5000))] },
    });
    expect(blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
    expect(checkMessageLimits(text, blocks)).toBeUndefined();
    expect(JSON.stringify(blocks)).toContain('flexvdi_confirm');
    expect(JSON.stringify(blocks)).toContain('more blocks not shown');
  });

  it('escapes user text but keeps our own mentions', () => {
    const { blocks } = renderJob({
      text: 'probe <script> & co',
      requester: 'U1',
      state: 'cancelled',
      note: md`Cancelled by <@U2>.`,
    });
    const s = JSON.stringify(blocks);
    expect(s).toContain('&lt;script&gt; &amp; co');
    expect(s).toContain('<@U2>');
  });
});
