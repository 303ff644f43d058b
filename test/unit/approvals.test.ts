/**
 * Four eyes and type-to-confirm, the pure parts: who may approve next (src/jobs/approvals.ts), the
 * inventory setting's validation (src/config.ts) and its check against the registry (src/core/registry.ts),
 * and what the plan message shows (src/slack/job-view.ts).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseInventory } from '../../src/config.js';
import { defineCommand, definePlugin, NO_PINS, type NoDeps } from '../../src/core/plugin.js';
import { assertPlannedCommands, createRegistry } from '../../src/core/registry.js';
import { md } from '../../src/core/text.js';
import { type Approval, approvalsRequired, nextApproval } from '../../src/jobs/approvals.js';
import { type JobView, renderJob } from '../../src/slack/job-view.js';

const REQ = 'U0REQ0001';
const B = 'U0ADMINB1';
const C = 'U0ADMINC1';
const at = (user: string): Approval => ({ user, at: 1 });

describe('nextApproval', () => {
  const pending = (approvals: Approval[]) => ({ requester: REQ, approvals });
  it('one approval needed: any allowed Confirm is final', () => {
    expect(nextApproval(pending([]), REQ, true, 1)).toBe('final');
    expect(nextApproval(pending([]), B, true, 1)).toBe('final');
  });
  it('four eyes: the requester first, then a different admin', () => {
    expect(nextApproval(pending([]), REQ, true, 2)).toBe('record');
    expect(nextApproval(pending([]), B, true, 2)).toBe('requester-first');
    expect(nextApproval(pending([at(REQ)]), REQ, true, 2)).toBe('already');
    expect(nextApproval(pending([at(REQ)]), B, true, 2)).toBe('final');
    expect(nextApproval(pending([at(REQ)]), C, false, 2)).toBe('not-admin');
  });
  it('a requester no longer an admin may still approve first (as they may confirm today), never second', () => {
    expect(nextApproval(pending([]), REQ, false, 2)).toBe('record');
    expect(nextApproval(pending([at(REQ)]), REQ, false, 2)).toBe('already');
  });
});

const base = (slack: string) => `manager: { url: https://m, username: a, password: { env: PW } }
ssh: { privateKeyPath: k, knownHostsPath: kh }
slack:
${slack}
`;

describe('slack.approvals in the inventory', () => {
  it('defaults to no four eyes', () => {
    const inv = parseInventory(base('  admins: [U0ADMIN01]'), 'inv.yaml');
    expect(inv.slack.approvals.commands).toEqual([]);
    expect(approvalsRequired(inv, 'test change')).toBe(1);
  });

  it('lists the commands that need two admins', () => {
    const inv = parseInventory(
      base(
        `  admins: [${REQ}, ${B}]\n  approvals: { commands: ['storage create-volume', 'manager move-to'] }`,
      ),
      'inv.yaml',
    );
    expect(approvalsRequired(inv, 'storage create-volume')).toBe(2);
    expect(approvalsRequired(inv, 'manager move-to')).toBe(2);
    expect(approvalsRequired(inv, 'ocfs2 first-node')).toBe(1);
  });

  it('refuses four eyes with fewer than 2 admins: such a plan could never be confirmed', () => {
    expect(() =>
      parseInventory(base(`  admins: [${REQ}]\n  approvals: { commands: ['test change'] }`), 'inv.yaml'),
    ).toThrow(
      /slack\.approvals\.commands: four eyes needs at least 2 admins in slack\.admins \(there is 1\)/,
    );
    expect(() =>
      parseInventory(
        base(`  admins: [${REQ}, ${REQ}]\n  approvals: { commands: ['test change'] }`),
        'inv.yaml',
      ),
    ).toThrow(/at least 2 admins/);
  });

  it('names a malformed or repeated id, and an unknown key', () => {
    expect(() =>
      parseInventory(
        base(`  admins: [${REQ}, ${B}]\n  approvals: { commands: ['Test_Change'] }`),
        'inv.yaml',
      ),
    ).toThrow(/slack\.approvals\.commands\[0\]: must be a command id such as "ocfs2 first-node"/);
    expect(() =>
      parseInventory(
        base(`  admins: [${REQ}, ${B}]\n  approvals: { commands: ['test change', 'test change'] }`),
        'inv.yaml',
      ),
    ).toThrow(/slack\.approvals\.commands\[1\]: "test change" is listed twice/);
    expect(() =>
      parseInventory(base(`  admins: [${REQ}, ${B}]\n  approvals: { command: ['test change'] }`), 'inv.yaml'),
    ).toThrow(/slack\.approvals/);
  });
});

describe('slack.approvals against the registry', () => {
  const cmd = (id: string, mutates: boolean) =>
    defineCommand<Record<string, never>, null>({
      id,
      summary: 's',
      examples: [],
      args: z.object({}),
      positionals: [],
      mutates,
      access: 'admin',
      pinned: NO_PINS,
      plan: () => ({ summary: md``, sections: [], warnings: [] }),
      steps: [{ id: 'a', title: 'a', output: z.null(), run: async () => null }],
      result: () => ({ summary: md``, sections: [] }),
    });
  const registry = createRegistry([
    definePlugin({
      name: 'p',
      deps: () => ({}) as NoDeps,
      commands: [cmd('p change', true), cmd('p look', false)],
    }),
  ]);

  it('accepts registered commands that make a plan', () => {
    expect(() => assertPlannedCommands(registry, 'slack.approvals.commands', ['p change'])).not.toThrow();
    expect(() => assertPlannedCommands(registry, 'slack.approvals.commands', [])).not.toThrow();
  });

  it('refuses an unknown id, naming it and the known ones, with a config error code', () => {
    let err: unknown;
    try {
      assertPlannedCommands(registry, 'slack.approvals.commands', ['p change', 'storage create-volume']);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({
      code: 'config.invalid',
      message:
        'slack.approvals.commands: unknown command "storage create-volume"; the commands with a plan to confirm are "p change"',
    });
  });

  it('refuses a read-only command: it has no plan to confirm', () => {
    expect(() => assertPlannedCommands(registry, 'slack.approvals.commands', ['p look'])).toThrow(
      '"p look" (read-only: it has no plan to confirm)',
    );
  });
});

describe('the plan message', () => {
  const view = (over: Partial<JobView>): JobView => ({
    text: 'test change h1',
    requester: REQ,
    state: 'awaiting-confirmation',
    plan: { summary: md`Change h1`, sections: [], warnings: [] },
    confirmId: 'c1',
    expiresAt: Date.now() + 600_000,
    ...over,
  });
  const confirmButton = (v: JobView) => {
    const actions = renderJob(v).blocks.find((b) => b['type'] === 'actions') as {
      elements: { action_id: string; text: { text: string }; confirm?: { title: { text: string } } }[];
    };
    return actions.elements.find((e) => e.action_id === 'flexvdi_confirm')!;
  };
  const all = (v: JobView) => JSON.stringify(renderJob(v).blocks);

  it('one approval: who may confirm, as before', () => {
    expect(all(view({}))).toContain(`Only <@${REQ}> or an admin can confirm.`);
    expect(confirmButton(view({})).text.text).toBe('Confirm');
    expect(confirmButton(view({})).confirm?.title.text).toBe('Run this plan?');
  });

  it('four eyes: who confirms first, then who approved and that a second admin is awaited', () => {
    const first = view({ approvals: { required: 2, by: [] } });
    expect(all(first)).toContain(`Four eyes: <@${REQ}> confirms first, then a second admin.`);
    expect(confirmButton(first).confirm?.title.text).toBe('Approve this plan?');
    const second = view({ approvals: { required: 2, by: [REQ] } });
    expect(all(second)).toContain(`Approved by <@${REQ}> · awaiting a second admin.`);
    expect(confirmButton(second).confirm?.title.text).toBe('Run this plan?');
    const queued = view({ state: 'queued', approvals: { required: 2, by: [REQ, B] }, confirmedBy: B });
    expect(all(queued)).toContain(`approved by <@${REQ}> and <@${B}>`);
    expect(all(queued)).not.toContain('flexvdi_confirm');
  });

  it('type-to-confirm: the button says a dialog follows, and has no confirm dialog of its own', () => {
    const v = view({
      plan: {
        summary: md`Format sdb`,
        sections: [],
        warnings: [],
        typeToConfirm: { text: 'vol1', why: md`sdb holds a file system` },
      },
    });
    expect(confirmButton(v).text.text).toBe('Confirm…');
    expect(confirmButton(v).confirm).toBeUndefined();
  });
});
