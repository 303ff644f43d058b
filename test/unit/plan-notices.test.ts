/**
 * The bot's notices about a plan's buttons name users with `mention`: a real Slack user id pings, anything
 * else stored as one (a corrupt or forged record) is shown as escaped text, never as `<!channel>` or a link.
 */
import { describe, expect, it } from 'vitest';
import { alreadyUsed, onlyRequesterOrAdmin } from '../../src/bot/plan-notices.js';

const EVIL = 'U1> <!channel> <https://x|y';

describe('plan notices', () => {
  it('mention a real user id and escape anything else', () => {
    expect(onlyRequesterOrAdmin('U0123ABC', 'confirm').mrkdwn).toBe(
      'Only <@U0123ABC> (who asked) or a flexVDI admin can confirm this plan.',
    );
    expect(onlyRequesterOrAdmin(undefined, 'cancel').mrkdwn).toBe(
      'Only a flexVDI admin can cancel this plan.',
    );
    const evil = onlyRequesterOrAdmin(EVIL, 'edit').mrkdwn;
    expect(evil).not.toMatch(/<[@!h]/);
    expect(evil).toContain('U1&gt; &lt;!channel&gt; &lt;https://x|y');
  });

  it('say who used the plan, whatever that record holds', () => {
    expect(alreadyUsed({ by: 'W0ABC9', outcome: 'confirmed', jobId: 'j-1' }).mrkdwn).toBe(
      'Already confirmed by <@W0ABC9>: job `j-1`. `/flexvdi job j-1` shows it.',
    );
    for (const outcome of ['confirmed', 'edited', 'cancelled']) {
      const text = alreadyUsed({ by: EVIL, outcome, jobId: 'j-1' }).mrkdwn;
      expect(text, outcome).not.toMatch(/<[@!h]/);
      expect(text, outcome).toContain('&lt;!channel&gt;');
    }
  });
});
