/**
 * One job message per job: the same message goes planning → plan with buttons → queued → running (steps,
 * per-Host table) → result. This is the one renderer of job messages: it turns a job-state record into
 * Block Kit within Slack's limits. Plans and results arrive as `Md` (escaped where they were made); every
 * other string that did not come from this file — the command as typed, step details, Host names and
 * details, error messages — is escaped here.
 */
import type { Section } from '../core/plugin.js';
import { escapeEntities, escapeMd, joinMd, type Md, md, mention } from '../core/text.js';
import type { JobRecord, JobState, StepState } from '../jobs/job-state.js';
import { actions, type Block, context, divider, fitBlocks, section, sectionsFor } from './blocks.js';

/** What the renderer needs of a record (the record itself, or a view made up before one exists). */
export type JobView = Omit<JobRecord, 'recordId' | 'channel' | 'messageTs' | 'updatedAt'>;

const ICON: Record<JobState, string> = {
  planning: ':mag:',
  'awaiting-confirmation': ':raised_hand:',
  refused: ':no_entry:',
  noop: ':white_check_mark:',
  queued: ':hourglass_flowing_sand:',
  waiting: ':lock:',
  running: ':gear:',
  retrying: ':repeat:',
  completed: ':white_check_mark:',
  findings: ':warning:',
  partial: ':large_orange_diamond:',
  failed: ':x:',
  cancelled: ':octagonal_sign:',
  expired: ':alarm_clock:',
};

const STEP_ICON: Record<StepState, string> = {
  pending: '◻️',
  running: '⏳',
  done: '✅',
  warning: '⚠️',
  skipped: '⏭️',
  failed: '❌',
};

export const CONFIRM_ACTION = 'flexvdi_confirm';
export const CANCEL_ACTION = 'flexvdi_cancel';

const LABEL: Partial<Record<JobState, string>> = {
  findings: 'completed with findings',
  partial: 'partly done',
};
export function stateLabel(state: JobState): string {
  return LABEL[state] ?? state.replace('-', ' ');
}

const m = (x: Md): string => x.mrkdwn;
const sectionBlocks = (sections: readonly Section[]): Block[] =>
  sections.flatMap((s) => sectionsFor(s.lines.map(m), s.title ? { title: `*${m(s.title)}*` } : {}));

/** Who may confirm a pending plan, and with four eyes who has approved and who is awaited. */
function approvalLine(v: JobView): Md {
  const by = v.approvals?.by ?? [];
  if ((v.approvals?.required ?? 1) <= 1) return md`Only ${mention(v.requester)} or an admin can confirm.`;
  if (!by.length) return md`Four eyes: ${mention(v.requester)} confirms first, then a second admin.`;
  return md`Approved by ${joinMd(by.map(mention), ' and ')} · awaiting a second admin.`;
}

export function renderJob(v: JobView): { text: string; blocks: Block[] } {
  // The command as typed stays copyable: inside a code span only what could end it or ping is escaped.
  const command = md`\`/flexvdi ${v.text}\``;
  // Not in bold: a `*` typed in the command must not pair with a bold marker around the code span.
  const title = `${ICON[v.state]} ${m(command)} — ${stateLabel(v.state)}`;
  const head: Block[] = [
    section(v.note ? `${title}\n${m(v.note)}` : title),
    context(
      [
        m(md`requested by ${mention(v.requester)}`),
        v.jobId ? m(md`job \`${v.jobId}\``) : '',
        // Four eyes: both approvers once it runs (while it waits, the line under the buttons says who).
        v.approvals && v.state !== 'awaiting-confirmation' && v.approvals.by.length
          ? m(md`approved by ${joinMd(v.approvals.by.map(mention), ' and ')}`)
          : v.confirmedBy
            ? m(md`confirmed by ${mention(v.confirmedBy)}`)
            : '',
      ]
        .filter(Boolean)
        .join(' · '),
    ),
  ];
  const body: Block[] = [];
  if (
    v.plan &&
    (v.state === 'awaiting-confirmation' ||
      v.state === 'refused' ||
      v.state === 'noop' ||
      v.state === 'expired')
  ) {
    body.push(section(`*Plan:* ${m(v.plan.summary)}`));
    if (v.plan.refused) body.push(section(`:no_entry: *Refused:* ${m(v.plan.refused)}`));
    body.push(...sectionBlocks(v.plan.sections));
    if (v.plan.warnings.length) body.push(...sectionsFor(v.plan.warnings.map((w) => `:warning: ${m(w)}`)));
  }
  if (v.steps?.length) {
    body.push(
      ...sectionsFor(
        v.steps.map((s) => `${STEP_ICON[s.state]} ${m(md`${s.title}${s.detail ? md` — ${s.detail}` : ''}`)}`),
      ),
    );
  }
  if (v.current && (v.state === 'running' || v.state === 'waiting' || v.state === 'retrying'))
    body.push(context(escapeMd(v.current)));
  if (v.hosts && Object.keys(v.hosts).length) {
    const names = Object.keys(v.hosts);
    const w = Math.min(24, Math.max(...names.map((n) => n.length)));
    // A code block: formatting characters are inert there, but `&`, `<`, `>` still need escaping.
    body.push(
      ...sectionsFor(
        names.map((n) => {
          const h = v.hosts?.[n];
          const line = `${n.padEnd(w)}  ${(h?.state ?? '').padEnd(7)}  ${h?.detail ?? ''}`.trimEnd();
          return escapeEntities(line.replace(/`/g, 'ˋ'));
        }),
        { code: true },
      ),
    );
  }
  if (v.result) {
    body.push(divider(), section(`*Result:* ${m(v.result.summary)}`), ...sectionBlocks(v.result.sections));
  }
  if (v.error) body.push(section(`:x: ${escapeEntities(v.error)}`));
  const tail: Block[] = [];
  if (v.state === 'awaiting-confirmation' && v.confirmId) {
    const mins = v.expiresAt ? Math.max(1, Math.round((v.expiresAt - Date.now()) / 60_000)) : undefined;
    const firstOfTwo = (v.approvals?.required ?? 1) > 1 && !v.approvals?.by.length;
    tail.push(
      actions(`confirm:${v.confirmId}`, [
        {
          // A plan with typeToConfirm: the click opens a modal that is the confirmation (no dialog first).
          text: v.plan?.typeToConfirm ? 'Confirm…' : 'Confirm',
          actionId: CONFIRM_ACTION,
          value: v.confirmId,
          style: 'primary',
          ...(v.plan?.typeToConfirm
            ? {}
            : {
                confirm: firstOfTwo
                  ? {
                      title: 'Approve this plan?',
                      text: `A second admin must confirm it before it runs: ${m(v.plan ? v.plan.summary : command)}`,
                      confirm: 'Approve',
                      deny: 'Back',
                    }
                  : {
                      title: 'Run this plan?',
                      text: `This changes the cluster: ${m(v.plan ? v.plan.summary : command)}`,
                      confirm: 'Run it',
                      deny: 'Back',
                    },
              }),
        },
        ...(v.extraButtons ?? []).map((b) => ({
          text: b.text,
          actionId: b.actionId,
          value: v.confirmId ?? '',
        })),
        { text: 'Cancel', actionId: CANCEL_ACTION, value: v.confirmId, style: 'danger' as const },
      ]),
    );
    const who = approvalLine(v);
    tail.push(context(m(mins ? md`${who} Expires in ${mins} min.` : who)));
  }
  const blocks = fitBlocks(head, body, tail, '…{n} more blocks not shown; see the thread for details.');
  // The notification text is plain: no markup at all, and nothing that could ping.
  return { text: escapeEntities(`/flexvdi ${v.text} — ${stateLabel(v.state)}`), blocks };
}
