/**
 * The Web API methods the product uses, with Slack's argument rules, error codes and response shapes
 * (what @slack/web-api's WebClient and Bolt read back). Handlers return the JSON body; the server adds
 * authentication, fault injection and call recording around them.
 */
import {
  type ApiBody,
  type ApiParams,
  fail,
  flag,
  type Handler,
  isObj,
  messageJson,
  ok,
  str,
} from './api-common.js';
import { CONVERSATION_READS } from './conversations.js';
import { checkMessageLimits, SLACK_LIMITS } from './limits.js';
import { metadataWarning, readMetadata } from './metadata.js';
import type { RecordedView } from './store.js';
import { channelName, SLACK_DOUBLE_IDS as IDS, userName } from './workspace.js';

/** A view as the Web API answers it (and as Slack puts it in events and interactions). */
export function viewJson(v: RecordedView): Record<string, unknown> {
  return {
    private_metadata: '',
    callback_id: '',
    external_id: v.externalId ?? '',
    ...v.view,
    id: v.id,
    team_id: IDS.teamId,
    state: { values: {} },
    hash: v.hash,
    root_view_id: v.id,
    previous_view_id: null,
    app_id: IDS.appId,
    bot_id: IDS.botId,
  };
}

/** Checks the message content arguments shared by chat.postMessage / chat.postEphemeral / chat.update. */
function contentError(p: ApiParams, requireSome: boolean): ApiBody | undefined {
  if (requireSome && str(p, 'text') === undefined && !nonEmpty(p['blocks']) && !nonEmpty(p['attachments'])) {
    return fail('no_text');
  }
  const violation = checkMessageLimits(p['text'], p['blocks']);
  return violation && fail(violation.error, violation.messages);
}
const nonEmpty = (v: unknown) => v !== undefined && !(Array.isArray(v) && v.length === 0);
const blocksOf = (p: ApiParams) => (Array.isArray(p['blocks']) ? (p['blocks'] as unknown[]) : undefined);

function viewArg(p: ApiParams, types: string[]): Record<string, unknown> | ApiBody {
  const view = p['view'];
  if (!isObj(view) || typeof view['type'] !== 'string' || !types.includes(view['type'])) {
    return fail('invalid_arguments', [
      `[ERROR] view.type must be one of: ${types.join(', ')} [json-pointer:/view/type]`,
    ]);
  }
  const violation = checkMessageLimits(undefined, view['blocks'], SLACK_LIMITS.blocksPerView);
  if (violation)
    return fail(
      'invalid_arguments',
      violation.messages.map((m) => m.replace('pointer:/', 'pointer:/view/')),
    );
  return view;
}
const isFailure = (v: Record<string, unknown>): v is ApiBody => v['ok'] === false;

const openView =
  (method: 'views.open' | 'views.push'): Handler =>
  (p, store) => {
    if (str(p, 'trigger_id') === undefined) return fail('invalid_trigger_id');
    const view = viewArg(p, ['modal']);
    if (isFailure(view)) return view;
    const extId = typeof view['external_id'] === 'string' ? { externalId: view['external_id'] } : {};
    const user = store.triggerUser(str(p, 'trigger_id') ?? '');
    return ok({
      view: viewJson(store.saveView({ method, view, ...extId, ...(user ? { userId: user } : {}) })),
    });
  };

export const WEB_API_METHODS: Record<string, Handler> = {
  'auth.test': (_p, _s, baseUrl) =>
    ok({
      url: `${baseUrl}/`,
      team: IDS.teamName,
      user: IDS.botName,
      team_id: IDS.teamId,
      user_id: IDS.botUserId,
      bot_id: IDS.botId,
      is_enterprise_install: false,
    }),

  'chat.postMessage': (p, store) => {
    const channel = str(p, 'channel');
    if (!channel) return fail('channel_not_found');
    const bad = contentError(p, true);
    if (bad) return bad;
    const meta = readMetadata(p['metadata']);
    if (!meta.ok) return meta.error;
    let threadTs = str(p, 'thread_ts');
    if (threadTs !== undefined) {
      const parent = store.findMessage(channel, threadTs);
      if (!parent) return fail('thread_not_found');
      threadTs = parent.threadTs ?? parent.ts; // a reply's ts means its parent's thread
    }
    const m = store.post({
      channel,
      user: IDS.botUserId,
      text: str(p, 'text') ?? '',
      blocks: blocksOf(p) ?? [],
      via: 'chat.postMessage',
      ...(threadTs === undefined ? {} : { threadTs }),
      ...(threadTs !== undefined && flag(p, 'reply_broadcast') ? { broadcast: true } : {}),
      ...(meta.metadata ? { metadata: meta.metadata } : {}),
    });
    return ok({ channel, ts: m.ts, message: messageJson(m), ...metadataWarning(meta) });
  },

  'chat.update': (p, store) => {
    const channel = str(p, 'channel');
    const ts = str(p, 'ts');
    const m = channel && ts ? store.findMessage(channel, ts) : undefined;
    if (!m) return fail(channel ? 'message_not_found' : 'channel_not_found');
    const bad = contentError(p, true);
    if (bad) return bad;
    const meta = readMetadata(p['metadata']);
    if (!meta.ok) return meta.error;
    const blocks = blocksOf(p);
    const text = str(p, 'text') ?? (p['text'] === '' ? '' : undefined);
    const change = {
      ...(text === undefined ? {} : { text }),
      ...(blocks ? { blocks } : {}),
      ...(meta.metadata ? { metadata: meta.metadata } : {}),
    };
    store.edit(m, change, 'chat.update');
    const message = messageJson(m);
    return ok({ channel: m.channel, ts: m.ts, text: m.text, message, ...metadataWarning(meta) });
  },

  'chat.postEphemeral': (p, store) => {
    const channel = str(p, 'channel');
    if (!channel) return fail('channel_not_found');
    const user = str(p, 'user');
    if (!user) return fail('user_not_in_channel');
    const bad = contentError(p, true);
    if (bad) return bad;
    const threadTs = str(p, 'thread_ts');
    const e = store.postEphemeral({
      channel,
      user,
      text: str(p, 'text') ?? '',
      blocks: blocksOf(p) ?? [],
      via: 'chat.postEphemeral',
      ...(threadTs === undefined ? {} : { threadTs }),
    });
    return ok({ message_ts: e.ts });
  },

  'chat.delete': (p, store) => {
    const channel = str(p, 'channel');
    const ts = str(p, 'ts');
    const m = channel && ts ? store.findMessage(channel, ts) : undefined;
    if (!m) return fail(channel ? 'message_not_found' : 'channel_not_found');
    store.remove(m);
    return ok({ channel: m.channel, ts: m.ts });
  },

  'views.open': openView('views.open'),
  'views.push': openView('views.push'),

  'views.update': (p, store) => {
    const existing = store.findView(str(p, 'view_id'), str(p, 'external_id'));
    if (!existing) return fail('not_found');
    const hash = str(p, 'hash');
    if (hash !== undefined && hash !== existing.hash) return fail('hash_conflict');
    const view = viewArg(p, ['modal', 'home']);
    if (isFailure(view)) return view;
    return ok({ view: viewJson(store.saveView({ method: 'views.update', view }, existing.id)) });
  },

  'views.publish': (p, store) => {
    const userId = str(p, 'user_id');
    if (!userId) return fail('invalid_arguments', ['[ERROR] missing required field: user_id']);
    const view = viewArg(p, ['home']);
    if (isFailure(view)) return view;
    const home = store.views().find((v) => v.userId === userId && v.view['type'] === 'home');
    return ok({ view: viewJson(store.saveView({ method: 'views.publish', userId, view }, home?.id)) });
  },

  ...CONVERSATION_READS,

  'conversations.info': (p) => {
    const id = str(p, 'channel');
    if (!id) return fail('channel_not_found');
    const name = channelName(id);
    return ok({
      channel: {
        id,
        name,
        name_normalized: name,
        is_channel: id.startsWith('C'),
        is_group: false,
        is_im: id.startsWith('D'),
        is_private: id.startsWith('G'),
        is_archived: false,
        is_general: false,
        is_member: true,
        created: 1_700_000_000,
        creator: IDS.defaultUser,
        topic: { value: '', creator: '', last_set: 0 },
        purpose: { value: '', creator: '', last_set: 0 },
      },
    });
  },

  'users.info': (p) => {
    const id = str(p, 'user');
    if (!id) return fail('user_not_found');
    const name = userName(id);
    return ok({
      user: {
        id,
        team_id: IDS.teamId,
        name,
        real_name: name,
        deleted: false,
        tz: 'UTC',
        tz_offset: 0,
        is_admin: false,
        is_owner: false,
        is_bot: id === IDS.botUserId,
        is_app_user: false,
        profile: { real_name: name, display_name: name },
      },
    });
  },
};
