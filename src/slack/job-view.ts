/**
 * One job message per job: the same message goes planning → plan with buttons → queued → running (steps,
 * per-Host table) → result. This module turns the job's state into Block Kit within Slack's limits.
 */
import type { CommandResult, Plan } from '../core/plugin.js';
import {
  actions,
  type Block,
  context,
  divider,
  escapeMrkdwn,
  fitBlocks,
  section,
  sectionsFor,
} from './blocks.js';

export type JobState =
  | 'planning'
  | 'awaiting-confirmation'
  | 'refused'
  | 'noop'
  | 'queued'
  | 'waiting'
  | 'running'
  | 'retrying'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'expired';

export type StepState = 'pending' | 'running' | 'done' | 'skipped' | 'failed';
export type HostState = 'pending' | 'running' | 'ok' | 'failed' | 'skipped';

export interface JobView {
  text: string;
  jobId?: string;
  requester: string;
  state: JobState;
  note?: string;
  plan?: Plan;
  confirmId?: string;
  expiresAt?: number;
  confirmedBy?: string;
  /** Extra buttons a command offers beside Confirm/Cancel (e.g. OCFS2's Edit). */
  extraButtons?: { text: string; actionId: string }[];
  steps?: { id: string; title: string; state: StepState; detail?: string }[];
  hosts?: Record<string, { state: HostState; detail?: string }>;
  current?: string;
  result?: CommandResult;
  error?: string;
}

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
  failed: ':x:',
  cancelled: ':octagonal_sign:',
  expired: ':alarm_clock:',
};

const STEP_ICON: Record<StepState, string> = {
  pending: '◻️',
  running: '⏳',
  done: '✅',
  skipped: '⏭️',
  failed: '❌',
};

export const CONFIRM_ACTION = 'flexvdi_confirm';
export const CANCEL_ACTION = 'flexvdi_cancel';

export function stateLabel(state: JobState): string {
  return state.replace('-', ' ');
}

export function renderJob(v: JobView): { text: string; blocks: Block[] } {
  const title = `${ICON[v.state]} *\`/flexvdi ${escapeMrkdwn(v.text)}\`* — ${stateLabel(v.state)}`;
  const head: Block[] = [
    section(v.note ? `${title}\n${v.note}` : title),
    context(
      [
        `requested by <@${v.requester}>`,
        v.jobId ? `job \`${v.jobId}\`` : '',
        v.confirmedBy ? `confirmed by <@${v.confirmedBy}>` : '',
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
    body.push(section(`*Plan:* ${v.plan.summary}`));
    if (v.plan.refused) body.push(section(`:no_entry: *Refused:* ${v.plan.refused}`));
    for (const s of v.plan.sections)
      body.push(...sectionsFor(s.lines, s.title ? { title: `*${s.title}*` } : {}));
    if (v.plan.warnings.length) body.push(...sectionsFor(v.plan.warnings.map((w) => `:warning: ${w}`)));
  }
  if (v.steps?.length) {
    body.push(
      ...sectionsFor(
        v.steps.map((s) => `${STEP_ICON[s.state]} ${s.title}${s.detail ? ` — ${s.detail}` : ''}`),
      ),
    );
  }
  if (v.current && (v.state === 'running' || v.state === 'waiting' || v.state === 'retrying'))
    body.push(context(v.current));
  if (v.hosts && Object.keys(v.hosts).length) {
    const names = Object.keys(v.hosts);
    const w = Math.min(24, Math.max(...names.map((n) => n.length)));
    body.push(
      ...sectionsFor(
        names.map((n) => {
          const h = v.hosts![n]!;
          return `${n.padEnd(w)}  ${h.state.padEnd(7)}  ${h.detail ?? ''}`.trimEnd();
        }),
        { code: true },
      ),
    );
  }
  if (v.result) {
    body.push(divider(), section(`*Result:* ${v.result.summary}`));
    for (const s of v.result.sections)
      body.push(...sectionsFor(s.lines, s.title ? { title: `*${s.title}*` } : {}));
  }
  if (v.error) body.push(section(`:x: ${v.error}`));
  const tail: Block[] = [];
  if (v.state === 'awaiting-confirmation' && v.confirmId) {
    const mins = v.expiresAt ? Math.max(1, Math.round((v.expiresAt - Date.now()) / 60_000)) : undefined;
    tail.push(
      actions(`confirm:${v.confirmId}`, [
        {
          text: 'Confirm',
          actionId: CONFIRM_ACTION,
          value: v.confirmId,
          style: 'primary',
          confirm: {
            title: 'Run this plan?',
            text: `This changes the cluster: ${v.plan?.summary ?? v.text}`,
            confirm: 'Run it',
            deny: 'Back',
          },
        },
        ...(v.extraButtons ?? []).map((b) => ({ text: b.text, actionId: b.actionId, value: v.confirmId! })),
        { text: 'Cancel', actionId: CANCEL_ACTION, value: v.confirmId, style: 'danger' as const },
      ]),
    );
    if (mins) tail.push(context(`Only <@${v.requester}> or an admin can confirm. Expires in ${mins} min.`));
  }
  const blocks = fitBlocks(head, body, tail, '…{n} more blocks not shown; see the thread for details.');
  return { text: `/flexvdi ${v.text} — ${stateLabel(v.state)}`, blocks };
}
