/**
 * `response_url` as Slack serves it: a URL minted per slash command or interaction, valid 30 minutes and
 * for 5 accepted posts, taking JSON `{ text, blocks, response_type, replace_original, delete_original,
 * thread_ts }`. Ephemeral responses (the default) are recorded as ephemeral messages for the user who
 * acted; `replace_original` / `delete_original` act on the message the interaction came from.
 */

import { randomBytes } from 'node:crypto';
import { isObj } from './api-common.js';
import { checkMessageLimits } from './limits.js';
import type { RecordedEphemeral, RecordedMessage, SlackStore } from './store.js';
import { SLACK_DOUBLE_IDS } from './workspace.js';

export const RESPONSE_URL_LIMITS = { ttlMs: 30 * 60_000, uses: 5 } as const;

export interface ResponseOrigin {
  channel: string;
  /** Who ran the command or clicked: the recipient of ephemeral responses. */
  user: string;
  /** The message an interaction came from (absent for slash commands). */
  messageTs?: string;
  isEphemeral?: boolean;
  threadTs?: string;
}

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
}

const refuse = (status: number, error: string): HttpAnswer => ({ status, body: { ok: false, error } });

export class ResponseUrls {
  readonly #entries = new Map<string, ResponseOrigin & { createdAt: number; uses: number }>();
  readonly #store: SlackStore;
  readonly #now: () => number;

  constructor(store: SlackStore, now: () => number) {
    this.#store = store;
    this.#now = now;
  }

  create(baseUrl: string, origin: ResponseOrigin): string {
    const id = randomBytes(12).toString('hex');
    this.#entries.set(id, { ...origin, createdAt: this.#now(), uses: 0 });
    return `${baseUrl}/response/${id}`;
  }

  reset(): void {
    this.#entries.clear();
  }

  handle(id: string, payload: unknown): HttpAnswer {
    const entry = this.#entries.get(id);
    if (!entry) return refuse(404, 'no_service');
    if (this.#now() - entry.createdAt > RESPONSE_URL_LIMITS.ttlMs) return refuse(404, 'expired_url');
    if (entry.uses >= RESPONSE_URL_LIMITS.uses) return refuse(404, 'used_url');
    if (!isObj(payload)) return refuse(400, 'invalid_payload');

    const original = this.#original(entry);
    if (payload['delete_original'] === true) {
      if (!original) return refuse(404, 'message_not_found');
      this.#store.remove(original);
      entry.uses += 1;
      return { status: 200, body: { ok: true } };
    }
    const text = typeof payload['text'] === 'string' ? payload['text'] : undefined;
    const blocks = Array.isArray(payload['blocks']) ? (payload['blocks'] as unknown[]) : undefined;
    if (!text && !blocks?.length) return refuse(400, 'no_text');
    const violation = checkMessageLimits(text, payload['blocks']);
    if (violation) return refuse(400, violation.error);

    const content = { text: text ?? '', blocks: blocks ?? [] };
    if (payload['replace_original'] === true && original) {
      this.#store.edit(original, content, 'response_url');
    } else {
      const threadTs = typeof payload['thread_ts'] === 'string' ? payload['thread_ts'] : entry.threadTs;
      const where = {
        channel: entry.channel,
        via: 'response_url' as const,
        ...(threadTs ? { threadTs } : {}),
      };
      if (payload['response_type'] === 'in_channel') {
        this.#store.post({ ...where, ...content, user: SLACK_DOUBLE_IDS.botUserId });
      } else {
        this.#store.postEphemeral({ ...where, ...content, user: entry.user });
      }
    }
    entry.uses += 1;
    return { status: 200, body: { ok: true } };
  }

  #original(o: ResponseOrigin): RecordedMessage | RecordedEphemeral | undefined {
    if (o.messageTs === undefined) return undefined;
    return o.isEphemeral
      ? this.#store.findEphemeral(o.channel, o.messageTs)
      : this.#store.findMessage(o.channel, o.messageTs);
  }
}
