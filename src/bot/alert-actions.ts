/**
 * The buttons on an alert's parent message (posted by the monitor, src/monitor/messages.ts) and the app's Home
 * tab. Each button's value names the incident and the Host (`alertButtonValue`, src/monitor/board.ts). The
 * handlers are called after the ack (src/bot/app.ts acks first, always) and never post in the alert channel
 * themselves: the monitor tells the thread about an acknowledgement, and a job posts its own message.
 *
 * - Acknowledge: the first acknowledgement is kept on the board (reminders stop; the monitor says who in the
 *   thread), told to the clicker and audited; a later click answers who was first.
 * - Diagnose: `/flexvdi diagnose <host>`, as if the clicker typed it, as a job whose message goes in the
 *   incident's thread.
 * - Replace host…: the plan of `/flexvdi replace-host <host>`, as if the clicker typed it, in the thread.
 * - A plugin's offer (e.g. "Start the Manager on host2"): that command's plan, as Replace.
 * - app_home_opened: the user is remembered (the monitor refreshes their tab on change) and their Home tab
 *   published from the board.
 */
import type { BlockAction, ButtonAction, RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { hostnameRe } from '../config.js';
import { md, mention } from '../core/text.js';
import { asAppError } from '../errors.js';
import { deterministicId } from '../jobs/queue.js';
import { type AlertButtonValue, parseAlertButtonValue, STORM } from '../monitor/board.js';
import { publishHome, readOverview } from '../monitor/home.js';
import { clock } from '../monitor/messages.js';
import { authorize, isAdmin } from './auth.js';
import type { BotContext } from './context.js';
import { parseCommandText } from './parse.js';

const SLACK_TS = /^\d{1,12}\.\d{1,8}$/;

interface Click {
  user: string;
  channel: string;
  value: AlertButtonValue | null;
  say(text: string): Promise<void>;
}

function clickOf(body: BlockAction, action: ButtonAction, respond: RespondFn): Click {
  return {
    user: body.user.id,
    channel: body.channel?.id ?? '',
    value: parseAlertButtonValue(action.value),
    say: (text) =>
      respond({ response_type: 'ephemeral', replace_original: false, text })
        .then(() => undefined)
        .catch(() => undefined),
  };
}

const NOT_OURS =
  "This button's value is not one the bot understands (an alert from another version?): nothing was done. `/flexvdi alerts` lists the open incidents.";

/** The thread the clicked message belongs to: the alert's parent (the message itself when it is the parent). */
export function threadOf(body: BlockAction): string | undefined {
  const m = body.message as { ts?: unknown; thread_ts?: unknown } | undefined;
  const c = body.container as { message_ts?: unknown; thread_ts?: unknown } | undefined;
  const ts = [m?.thread_ts, c?.thread_ts, m?.ts, c?.message_ts].find(
    (x): x is string => typeof x === 'string' && SLACK_TS.test(x),
  );
  return ts;
}

// ------------------------------------------------------------------------------------------ Acknowledge

/**
 * Who may acknowledge: whoever may run a read-only command there (today: anyone in a channel the bot is in),
 * through the same `authorize` as typed commands, so a stricter rule for read-only commands applies here too.
 * Acknowledging changes nothing on the cluster: it says someone is on it and stops the reminders, and whoever
 * sees the alert should be able to take it at 3 a.m. without being a flexVDI admin.
 */
export async function handleAcknowledge(
  ctx: BotContext,
  body: BlockAction,
  action: ButtonAction,
  respond: RespondFn,
): Promise<void> {
  const c = clickOf(body, action, respond);
  if (!c.value) return c.say(NOT_OURS);
  const { incident, host } = c.value;
  const what = `acknowledge ${host} (incident ${incident})`;
  const denied = authorize(ctx.config, 'anyone', false, c.user, c.channel);
  if (denied) {
    await ctx.audit.record({
      user: c.user,
      command: what,
      channel: c.channel,
      outcome: 'refused',
      detail: denied.code,
    });
    return c.say(denied.userMessage);
  }
  const now = Date.now();
  const known = host === STORM || ctx.config.inventory.hosts.some((h) => h.name === host);
  const record = known ? (await ctx.board.incidents([host])).get(host) : undefined;
  if (record?.id !== incident)
    return c.say(
      'This alert is no longer on record as an incident (it may be a copy of an old one); nothing was acknowledged.',
    );
  if (record.state === 'resolved')
    return c.say(
      md`${host === STORM ? 'The storm is over' : md`${host} recovered`}${record.resolvedAt ? md` at ${clock(record.resolvedAt, now)}` : ''}: this incident is resolved, there is nothing to acknowledge.`
        .mrkdwn,
    );
  const r = await ctx.board.acknowledge(incident, c.user, now);
  if (r.first) {
    await ctx.audit.record({ user: c.user, command: what, channel: c.channel, outcome: 'acknowledged' });
    return c.say(
      'Acknowledged: the reminders for this incident stop, and its thread will say you are on it.',
    );
  }
  if (r.ack.by === c.user) return c.say(`You acknowledged this incident at ${clock(r.ack.at, now)}.`);
  await ctx.audit.record({
    user: c.user,
    command: what,
    channel: c.channel,
    outcome: 'noop',
    detail: `already acknowledged by ${r.ack.by}`,
  });
  return c.say(md`Already acknowledged by ${mention(r.ack.by)} at ${clock(r.ack.at, now)}.`.mrkdwn);
}

// ------------------------------------------------------------------------------- Diagnose, Replace host…

/**
 * Enqueues `/flexvdi <command> <host>` as if the clicker had typed it in the alert's channel, its job message
 * in the alert's thread. The job id comes from the click's trigger id, so a redelivered click is a no-op add
 * (audited once). `alertChannelOps`: the alert channel counts as an operations channel for this button (see
 * Replace).
 */
async function enqueueAsTyped(
  ctx: BotContext,
  body: BlockAction,
  c: Click,
  command: string,
  host: string,
  o: { alertChannelOps: boolean },
): Promise<void> {
  // The Host comes from the button's value: only a Host name goes into the command (never more words, such
  // as a flag), whatever the value holds.
  if (!hostnameRe.test(host))
    return c.say('This alert names no single Host (a storm?): use `/flexvdi status` and the Host’s name.');
  const text = `${command} ${host}`;
  const parsed = parseCommandText(ctx.registry, text);
  if (!parsed.ok || parsed.value.kind !== 'command')
    return c.say(
      `Cannot run \`/flexvdi ${text.replace(/[`<>&]/g, '')}\` from this alert: ${parsed.ok ? 'not a command' : parsed.error.userMessage}`,
    );
  const { spec, args } = parsed.value;
  const inAlerts = o.alertChannelOps && c.channel === ctx.config.inventory.slack.alertChannel;
  const denied = authorize(ctx.config, spec.access, spec.mutates && !inAlerts, c.user, c.channel);
  if (denied) {
    await ctx.audit.record({
      user: c.user,
      command: parsed.value.text,
      channel: c.channel,
      outcome: 'refused',
      detail: denied.code,
    });
    ctx.metrics.commands.inc({ command: spec.id, outcome: 'refused' });
    return c.say(denied.userMessage);
  }
  const threadTs = threadOf(body);
  const phase = spec.mutates ? 'plan' : 'run';
  const trigger = body.trigger_id || `${c.user}:${body.actions[0]?.action_ts ?? Date.now()}`;
  const jobId = deterministicId(phase === 'plan' ? 'p' : 'j', `${body.team?.id ?? ''}:${trigger}`);
  try {
    await ctx.enqueuer.enqueue({
      name: spec.id,
      data: {
        phase,
        text: parsed.value.text,
        args,
        requester: c.user,
        isAdmin: isAdmin(ctx.config, c.user),
        channel: c.channel,
        ...(threadTs ? { threadTs } : {}),
        ...(body.response_url ? { responseUrl: body.response_url } : {}),
      },
      jobId,
      audit: { marker: ctx.keys.dedup(jobId), user: c.user, command: parsed.value.text, channel: c.channel },
    });
    ctx.metrics.commands.inc({ command: spec.id, outcome: 'enqueued' });
  } catch (err) {
    const e = asAppError(err);
    ctx.log.error(
      { err: e.message, code: e.code, command: spec.id },
      'could not enqueue from an alert button',
    );
    ctx.metrics.commands.inc({ command: spec.id, outcome: 'error' });
    await c.say(
      `Could not start \`/flexvdi ${parsed.value.text.replace(/[`<>&]/g, '')}\`: the job queue is unavailable (Redis?). Nothing was started; click again in a minute.`,
    );
  }
}

/** Diagnose: read-only, so anyone who may run a read-only command there (see `authorize`). */
export async function handleDiagnose(
  ctx: BotContext,
  body: BlockAction,
  action: ButtonAction,
  respond: RespondFn,
): Promise<void> {
  const c = clickOf(body, action, respond);
  if (!c.value) return c.say(NOT_OURS);
  await enqueueAsTyped(ctx, body, c, 'diagnose', c.value.host, { alertChannelOps: false });
}

/**
 * Replace host…: the plan of `replace-host <host>`, admins only, as typed (a non-admin gets the refusal a
 * typed command gets, audited). The alert channel counts as an operations channel here: the plan is meant to
 * be discussed and confirmed in the incident's thread, where the people handling it are, and still needs an
 * admin (or its requester, an admin) to confirm.
 */
export async function handleReplace(
  ctx: BotContext,
  body: BlockAction,
  action: ButtonAction,
  respond: RespondFn,
): Promise<void> {
  const c = clickOf(body, action, respond);
  if (!c.value) return c.say(NOT_OURS);
  await enqueueAsTyped(ctx, body, c, 'replace-host', c.value.host, { alertChannelOps: true });
}

/**
 * An offer a plugin made for the lost Host (HostRole.offers), e.g. `manager start-on host2`: the command's
 * plan in the thread, as if typed, admins only, as Replace. The value must name a shipped command that takes
 * one Host and nothing else; the Host goes through the same check as a typed one.
 */
export async function handleOffer(
  ctx: BotContext,
  body: BlockAction,
  action: ButtonAction,
  respond: RespondFn,
): Promise<void> {
  const c = clickOf(body, action, respond);
  const run = c.value?.run;
  const on = c.value?.on;
  const spec = run ? ctx.registry.get(run) : undefined;
  if (!c.value || !run || !on || !spec || spec.positionals.length !== 1 || spec.positionals[0] !== 'host')
    return c.say(NOT_OURS);
  await enqueueAsTyped(ctx, body, c, spec.id, on, { alertChannelOps: true });
}

// ------------------------------------------------------------------------------------------ Home tab

/** Remembers the user (the monitor refreshes their tab on change) and publishes their Home tab. */
export async function handleHomeOpened(
  ctx: BotContext,
  slack: Pick<WebClient, 'views'>,
  user: string,
): Promise<void> {
  await ctx.board.addHomeUser(user);
  await publishHome(slack, user, await readOverview(ctx.board, ctx.config));
}
