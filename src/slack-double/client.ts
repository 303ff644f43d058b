/**
 * What Slack sends to an app, built byte-for-byte the way Slack builds it (form-encoded slash commands,
 * `payload=<JSON>` interactions), signed, and sent with node:http. Used by tests, the local console and the
 * latency benchmark, so the sending path stays minimal: one request, optional caller-supplied keep-alive agent.
 */
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { signSlackRequest } from './signing.js';
import { channelName, newEventId, newTriggerId, SLACK_DOUBLE_IDS, userName } from './workspace.js';

/** Slack gives an app 3 s to acknowledge a command or interaction. */
export const ACK_TIMEOUT_MS = 3000;
/**
 * How long a delivery waits for the app's answer unless told otherwise, over HTTP or Socket Mode alike: a
 * test's patience on a loaded machine. Each delivery reports its `ms`; the console and the tests of Slack's
 * 3 s rule pass `ACK_TIMEOUT_MS` or assert on `ms`.
 */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** Slack still sends the deprecated verification token; Bolt ignores it in favour of the signature. */
const VERIFICATION_TOKEN = 'dbl0verification0token';

export interface SlashCommandFields {
  command?: string;
  text: string;
  userId: string;
  userName?: string;
  channelId: string;
  channelName?: string;
  teamId?: string;
  teamDomain?: string;
  apiAppId?: string;
  responseUrl: string;
  triggerId?: string;
}

/**
 * A slash command's fields in Slack's order: the form body of an HTTP delivery, the `payload` object of a
 * Socket Mode `slash_commands` envelope.
 */
export function slashCommandPayload(f: SlashCommandFields): Record<string, string> {
  return {
    token: VERIFICATION_TOKEN,
    team_id: f.teamId ?? SLACK_DOUBLE_IDS.teamId,
    team_domain: f.teamDomain ?? SLACK_DOUBLE_IDS.teamDomain,
    channel_id: f.channelId,
    channel_name: f.channelName ?? channelName(f.channelId),
    user_id: f.userId,
    user_name: f.userName ?? userName(f.userId),
    command: f.command ?? '/flexvdi',
    text: f.text,
    api_app_id: f.apiAppId ?? SLACK_DOUBLE_IDS.appId,
    is_enterprise_install: 'false',
    response_url: f.responseUrl,
    trigger_id: f.triggerId ?? newTriggerId(),
  };
}

/** The form body of a slash command, fields in Slack's order. */
export function slashCommandBody(f: SlashCommandFields): string {
  return new URLSearchParams(slashCommandPayload(f)).toString();
}

export interface ClickedAction {
  actionId: string;
  blockId?: string;
  value?: string;
  /** The button's label. */
  text?: string;
  type?: string;
  style?: string;
}

export interface BlockActionsFields {
  userId: string;
  userName?: string;
  teamId?: string;
  teamDomain?: string;
  apiAppId?: string;
  channelId: string;
  channelName?: string;
  responseUrl: string;
  triggerId?: string;
  messageTs: string;
  threadTs?: string;
  isEphemeral?: boolean;
  /** The message as Slack renders it in payloads; Slack omits it for clicks on ephemeral messages. */
  message?: Record<string, unknown>;
  action: ClickedAction;
  actionTs?: string;
}

/** The block_actions payload object (what `blockActionsBody` encodes). */
export function blockActionsPayload(f: BlockActionsFields): Record<string, unknown> {
  const teamId = f.teamId ?? SLACK_DOUBLE_IDS.teamId;
  const name = f.userName ?? userName(f.userId);
  const a = f.action;
  return {
    type: 'block_actions',
    user: { id: f.userId, username: name, name, team_id: teamId },
    api_app_id: f.apiAppId ?? SLACK_DOUBLE_IDS.appId,
    token: VERIFICATION_TOKEN,
    container: {
      type: 'message',
      message_ts: f.messageTs,
      channel_id: f.channelId,
      is_ephemeral: f.isEphemeral ?? false,
      ...(f.threadTs === undefined ? {} : { thread_ts: f.threadTs }),
    },
    trigger_id: f.triggerId ?? newTriggerId(),
    team: { id: teamId, domain: f.teamDomain ?? SLACK_DOUBLE_IDS.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: f.channelId, name: f.channelName ?? channelName(f.channelId) },
    ...(f.message === undefined ? {} : { message: f.message }),
    state: { values: {} },
    response_url: f.responseUrl,
    actions: [actionJson(a, f.actionTs)],
  };
}

/** One clicked element as it appears in a block_actions payload's `actions`. */
function actionJson(a: ClickedAction, actionTs?: string): Record<string, unknown> {
  return {
    action_id: a.actionId,
    block_id: a.blockId ?? 'actions',
    text: { type: 'plain_text', text: a.text ?? a.actionId, emoji: true },
    ...(a.value === undefined ? {} : { value: a.value }),
    ...(a.style === undefined ? {} : { style: a.style }),
    type: a.type ?? 'button',
    action_ts: actionTs ?? (Date.now() / 1000).toFixed(6),
  };
}

export interface EventCallbackFields {
  /** The event itself, e.g. `appHomeOpenedEvent(user)`. */
  event: Record<string, unknown>;
  teamId?: string;
  apiAppId?: string;
  /** Slack's id of this delivery (the same on a redelivery); default a fresh one. */
  eventId?: string;
  /** Unix seconds; default now. */
  eventTime?: number;
}

/**
 * An Events API delivery (`type: event_callback`): the JSON body of an HTTP delivery (signed like the
 * others, `application/json`), the `payload` of a Socket Mode `events_api` envelope.
 */
export function eventCallbackPayload(f: EventCallbackFields): Record<string, unknown> {
  const teamId = f.teamId ?? SLACK_DOUBLE_IDS.teamId;
  return {
    token: VERIFICATION_TOKEN,
    team_id: teamId,
    context_team_id: teamId,
    context_enterprise_id: null,
    api_app_id: f.apiAppId ?? SLACK_DOUBLE_IDS.appId,
    event: f.event,
    type: 'event_callback',
    event_id: f.eventId ?? newEventId(),
    event_time: f.eventTime ?? Math.floor(Date.now() / 1000),
    authorizations: [
      {
        enterprise_id: null,
        team_id: teamId,
        user_id: SLACK_DOUBLE_IDS.botUserId,
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
  };
}

/**
 * `app_home_opened` as Slack sends it when `user` opens the app's Home tab (`tab: 'messages'` for its
 * Messages tab); `view` is the Home view Slack holds for the user, when one was published.
 */
export function appHomeOpenedEvent(
  user: string,
  o: { tab?: 'home' | 'messages'; view?: Record<string, unknown> } = {},
): Record<string, unknown> {
  return {
    type: 'app_home_opened',
    user,
    // The app's DM with the user: Slack names it here whichever tab was opened.
    channel: `D${user.replace(/^[UW]/, '').slice(0, 10)}`,
    tab: o.tab ?? 'home',
    event_ts: (Date.now() / 1000).toFixed(6),
    ...(o.view ? { view: o.view } : {}),
  };
}

/** The form body of an interaction (block_actions, view_submission…): `payload=<urlencoded JSON>`. */
export function interactionBody(payload: Record<string, unknown>): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** The form body of a block_actions interaction. */
export function blockActionsBody(f: BlockActionsFields): string {
  return interactionBody(blockActionsPayload(f));
}

export interface SendSignedOptions {
  secret: string;
  /** Default `application/x-www-form-urlencoded` (commands, interactions); events use `application/json`. */
  contentType?: string;
  /** Unix seconds to sign with; default now. An old value lets tests check replay rejection. */
  timestamp?: number;
  /** Simulates a Slack redelivery (`X-Slack-Retry-Num` / `X-Slack-Retry-Reason`). */
  retryNum?: number;
  retryReason?: string;
  headers?: Record<string, string>;
  agent?: http.Agent;
  timeoutMs?: number;
}

export interface SendResult {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  /** Wall time from sending the request to the last byte of the response. */
  ms: number;
}

export function sendSigned(url: string, body: string, opts: SendSignedOptions): Promise<SendResult> {
  const target = new URL(url);
  const headers: Record<string, string> = {
    'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    ...signSlackRequest(opts.secret, body, opts.timestamp),
    ...(opts.retryNum === undefined ? {} : { 'x-slack-retry-num': String(opts.retryNum) }),
    ...(opts.retryReason === undefined ? {} : { 'x-slack-retry-reason': opts.retryReason }),
    ...opts.headers,
  };
  const request = target.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      target,
      {
        method: 'POST',
        headers,
        timeout: opts.timeoutMs ?? DELIVERY_TIMEOUT_MS,
        ...(opts.agent ? { agent: opts.agent } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
            ms: performance.now() - started,
          }),
        );
      },
    );
    req.on('timeout', () => {
      const err = new Error(
        `no response from ${target.origin} within ${opts.timeoutMs ?? DELIVERY_TIMEOUT_MS} ms`,
      );
      req.destroy(Object.assign(err, { code: 'ETIMEDOUT' }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export type SendExtras = Omit<SendSignedOptions, 'secret' | 'contentType'>;

export function sendSlashCommand(
  botEventsUrl: string,
  secret: string,
  fields: SlashCommandFields,
  extras: SendExtras = {},
): Promise<SendResult> {
  return sendSigned(botEventsUrl, slashCommandBody(fields), { ...extras, secret });
}

export function clickButton(
  botEventsUrl: string,
  secret: string,
  fields: BlockActionsFields,
  extras: SendExtras = {},
): Promise<SendResult> {
  return sendSigned(botEventsUrl, blockActionsBody(fields), { ...extras, secret });
}

/** What Slack puts in `view.state.values`: per block, per action, the element's type and value. */
export type ViewStateValues = Record<string, Record<string, { type: string; value: string | null }>>;

export interface ViewSubmissionFields {
  userId: string;
  /** The view as the Web API answers it (`viewJson`): id, hash, callback_id, private_metadata, blocks… */
  view: Record<string, unknown>;
  values: ViewStateValues;
  triggerId?: string;
}

/** A `view_submission` payload: the modal as Slack holds it, with what the user typed in `state.values`. */
export function viewSubmissionPayload(f: ViewSubmissionFields): Record<string, unknown> {
  const name = userName(f.userId);
  return {
    type: 'view_submission',
    team: { id: SLACK_DOUBLE_IDS.teamId, domain: SLACK_DOUBLE_IDS.teamDomain },
    user: { id: f.userId, username: name, name, team_id: SLACK_DOUBLE_IDS.teamId },
    api_app_id: SLACK_DOUBLE_IDS.appId,
    token: VERIFICATION_TOKEN,
    trigger_id: f.triggerId ?? newTriggerId(),
    view: { ...f.view, state: { values: f.values } },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

export interface ViewActionsFields {
  userId: string;
  view: Record<string, unknown>;
  action: ClickedAction;
  triggerId?: string;
}

/** A block_actions payload for a button in a view (a modal or the Home tab): `container.type` is `view`. */
export function viewActionsPayload(f: ViewActionsFields): Record<string, unknown> {
  const name = userName(f.userId);
  return {
    type: 'block_actions',
    user: { id: f.userId, username: name, name, team_id: SLACK_DOUBLE_IDS.teamId },
    api_app_id: SLACK_DOUBLE_IDS.appId,
    token: VERIFICATION_TOKEN,
    container: { type: 'view', view_id: f.view['id'] },
    trigger_id: f.triggerId ?? newTriggerId(),
    team: { id: SLACK_DOUBLE_IDS.teamId, domain: SLACK_DOUBLE_IDS.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    view: f.view,
    actions: [actionJson(f.action)],
  };
}
