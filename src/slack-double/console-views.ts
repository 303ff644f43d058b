/**
 * The console acting in views: a button in a modal or the Home tab (block_actions with a `view` container),
 * a modal submitted (view_submission, with what the user typed) or closed. Slack keeps a modal open when the
 * app answers `response_action: errors` (shown under the inputs) and closes it otherwise.
 */
import { isObj } from './api-common.js';
import { ACK_TIMEOUT_MS, type ViewStateValues, viewActionsPayload, viewSubmissionPayload } from './client.js';
import {
  answer,
  bad,
  type ConsoleHost,
  clickedAction,
  deliver,
  findAction,
  str,
  triggerFor,
  unreachable,
} from './console.js';
import type { HttpAnswer } from './response-urls.js';
import type { RecordedView } from './store.js';
import { viewJson } from './web-api.js';

/** The view `p.viewId` if `p.user` may act in it (their modal or Home tab), else the error to answer. */
function viewOf(
  host: ConsoleHost,
  p: Record<string, unknown>,
): { view: RecordedView; user: string } | HttpAnswer {
  const id = str(p['viewId']);
  const user = str(p['user']);
  if (!id || !user) return bad(400, 'missing_view_id_or_user');
  const view = host.store.findView(id, undefined);
  if (!view || view.userId !== user) return bad(404, 'view_not_found'); // only its user sees it
  return { view, user };
}
const isAnswer = (v: unknown): v is HttpAnswer => isObj(v) && 'status' in v && 'body' in v;

export async function consoleViewClick(host: ConsoleHost, p: Record<string, unknown>): Promise<HttpAnswer> {
  const found = viewOf(host, p);
  if (isAnswer(found)) return found;
  const actionId = str(p['actionId']);
  if (!actionId) return bad(400, 'missing_action_id');
  if (unreachable(host)) return bad(409, 'bot_url_not_configured');
  const blocks = Array.isArray(found.view.view['blocks']) ? (found.view.view['blocks'] as unknown[]) : [];
  const element = findAction(blocks, actionId);
  if (!element) return bad(404, 'action_not_found');
  const payload = viewActionsPayload({
    userId: found.user,
    view: viewJson(found.view),
    action: clickedAction(element),
    triggerId: triggerFor(host.store, found.user),
  });
  return answer(await deliver(() => host.sendInteraction(payload, { timeoutMs: ACK_TIMEOUT_MS })), {});
}

/**
 * Submits `p.values` ({blockId: {actionId: text}}) as the modal's state. The answer carries the app's
 * `errors` when it refused the input (the modal stays); otherwise the modal is closed.
 */
export async function consoleSubmit(host: ConsoleHost, p: Record<string, unknown>): Promise<HttpAnswer> {
  const found = viewOf(host, p);
  if (isAnswer(found)) return found;
  if (found.view.view['type'] !== 'modal') return bad(400, 'not_a_modal');
  if (unreachable(host)) return bad(409, 'bot_url_not_configured');
  const values = stateValues(found.view, isObj(p['values']) ? p['values'] : {});
  const payload = viewSubmissionPayload({
    userId: found.user,
    view: viewJson(found.view),
    values,
    triggerId: triggerFor(host.store, found.user),
  });
  const sent = await deliver(() => host.sendInteraction(payload, { timeoutMs: ACK_TIMEOUT_MS }));
  const reply = sent.ok ? parseAck(sent.result.body) : undefined;
  if (sent.ok && sent.result.status === 200 && reply?.['response_action'] === 'errors') {
    const errors = isObj(reply['errors']) ? reply['errors'] : {};
    return answer(sent, { errors });
  }
  if (sent.ok && sent.result.status === 200) host.store.closeView(found.view.id);
  return answer(sent, {});
}

/** The user closes (cancels) their modal. */
export function consoleClose(host: ConsoleHost, p: Record<string, unknown>): HttpAnswer {
  const found = viewOf(host, p);
  if (isAnswer(found)) return found;
  if (found.view.view['type'] !== 'modal') return bad(400, 'not_a_modal');
  host.store.closeView(found.view.id);
  return { status: 200, body: { ok: true } };
}

/**
 * `view.state.values` for the modal's input blocks: the typed text per block and action id (an input left
 * empty is `null`, as Slack sends it). Text for blocks or actions the modal does not have is ignored.
 */
function stateValues(view: RecordedView, typed: Record<string, unknown>): ViewStateValues {
  const values: ViewStateValues = {};
  const blocks = Array.isArray(view.view['blocks']) ? (view.view['blocks'] as unknown[]) : [];
  for (const [i, block] of blocks.entries()) {
    if (!isObj(block) || block['type'] !== 'input' || !isObj(block['element'])) continue;
    const el = block['element'];
    const blockId = typeof block['block_id'] === 'string' ? block['block_id'] : `b${i}`;
    const actionId = typeof el['action_id'] === 'string' ? el['action_id'] : `a${i}`;
    const given = isObj(typed[blockId]) ? typed[blockId][actionId] : undefined;
    const value = typeof given === 'string' && given !== '' ? given : null;
    values[blockId] = {
      [actionId]: { type: typeof el['type'] === 'string' ? el['type'] : 'plain_text_input', value },
    };
  }
  return values;
}

function parseAck(body: string): Record<string, unknown> | undefined {
  if (body.trim() === '') return undefined;
  try {
    const v: unknown = JSON.parse(body);
    return isObj(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
