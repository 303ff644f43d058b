/**
 * The Block Kit and message limits Slack enforces, reported the way Slack reports them: an error code
 * (`invalid_blocks`, `invalid_blocks_format`, `msg_too_long`) plus `response_metadata.messages` lines such as
 * "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]", which WebClient logs.
 */

export const SLACK_LIMITS = {
  messageText: 40_000,
  blocksPerMessage: 50,
  blocksPerView: 100,
  blockId: 255,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  headerText: 150,
  actionsElements: 25,
  contextElements: 10,
  actionId: 255,
  buttonText: 75,
  buttonValue: 2000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
} as const;

export interface LimitViolation {
  error: 'invalid_blocks' | 'invalid_blocks_format' | 'msg_too_long';
  messages: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const textOf = (v: unknown): string | undefined =>
  isObj(v) && typeof v['text'] === 'string' ? v['text'] : typeof v === 'string' ? v : undefined;

/** Checks a message (or view) body; `undefined` means Slack would accept it. */
export function checkMessageLimits(
  text: unknown,
  blocks: unknown,
  maxBlocks: number = SLACK_LIMITS.blocksPerMessage,
): LimitViolation | undefined {
  if (typeof text === 'string' && text.length > SLACK_LIMITS.messageText) {
    return { error: 'msg_too_long', messages: [] };
  }
  if (blocks === undefined) return undefined;
  if (!Array.isArray(blocks)) {
    return {
      error: 'invalid_blocks_format',
      messages: ['[ERROR] must provide an array [json-pointer:/blocks]'],
    };
  }
  const c = new Checker();
  if (blocks.length > maxBlocks) c.fail('/blocks', `no more than ${maxBlocks} items allowed`);
  const blockIds = new Set<string>();
  for (const [i, block] of blocks.entries()) {
    const id = isObj(block) ? block['block_id'] : undefined;
    if (typeof id === 'string' && blockIds.has(id))
      c.fail(`/blocks/${i}/block_id`, `duplicate block_id "${id}"`);
    if (typeof id === 'string') blockIds.add(id);
    c.block(block, `/blocks/${i}`);
  }
  return c.errors.length ? { error: 'invalid_blocks', messages: c.errors } : undefined;
}

class Checker {
  readonly errors: string[] = [];

  fail(pointer: string, what: string): void {
    this.errors.push(`[ERROR] ${what} [json-pointer:${pointer}]`);
  }

  maxLen(v: unknown, limit: number, pointer: string): void {
    const s = textOf(v);
    if (s !== undefined && s.length > limit) this.fail(pointer, `must be less than ${limit + 1} characters`);
  }

  block(block: unknown, at: string): void {
    if (!isObj(block) || typeof block['type'] !== 'string') {
      this.fail(at, 'missing required field: type');
      return;
    }
    if (typeof block['block_id'] === 'string')
      this.maxLen(block['block_id'], SLACK_LIMITS.blockId, `${at}/block_id`);
    const elements = Array.isArray(block['elements']) ? (block['elements'] as unknown[]) : [];
    switch (block['type']) {
      case 'section': {
        this.maxLen(block['text'], SLACK_LIMITS.sectionText, `${at}/text/text`);
        const fields = Array.isArray(block['fields']) ? (block['fields'] as unknown[]) : [];
        if (fields.length > SLACK_LIMITS.sectionFields)
          this.fail(`${at}/fields`, 'no more than 10 items allowed');
        for (const [j, f] of fields.entries())
          this.maxLen(f, SLACK_LIMITS.sectionFieldText, `${at}/fields/${j}/text`);
        if (block['text'] === undefined && fields.length === 0)
          this.fail(at, 'must provide either text or fields');
        if (block['accessory'] !== undefined) this.element(block['accessory'], `${at}/accessory`);
        break;
      }
      case 'header':
        this.maxLen(block['text'], SLACK_LIMITS.headerText, `${at}/text/text`);
        break;
      case 'actions': {
        if (elements.length > SLACK_LIMITS.actionsElements)
          this.fail(`${at}/elements`, 'no more than 25 items allowed');
        const actionIds = new Set<unknown>();
        for (const [j, e] of elements.entries()) {
          const aid = isObj(e) ? e['action_id'] : undefined;
          if (aid !== undefined && actionIds.has(aid))
            this.fail(`${at}/elements/${j}`, `duplicate action_id "${aid}"`);
          actionIds.add(aid);
          this.element(e, `${at}/elements/${j}`);
        }
        break;
      }
      case 'context':
        if (elements.length > SLACK_LIMITS.contextElements)
          this.fail(`${at}/elements`, 'no more than 10 items allowed');
        break;
    }
  }

  element(el: unknown, at: string): void {
    if (!isObj(el) || typeof el['type'] !== 'string') {
      this.fail(at, 'missing required field: type');
      return;
    }
    this.maxLen(el['action_id'], SLACK_LIMITS.actionId, `${at}/action_id`);
    if (el['type'] === 'button') {
      this.maxLen(el['text'], SLACK_LIMITS.buttonText, `${at}/text/text`);
      this.maxLen(el['value'], SLACK_LIMITS.buttonValue, `${at}/value`);
    }
    const confirm = el['confirm'];
    if (isObj(confirm)) {
      this.maxLen(confirm['title'], SLACK_LIMITS.confirmTitle, `${at}/confirm/title/text`);
      this.maxLen(confirm['text'], SLACK_LIMITS.confirmText, `${at}/confirm/text/text`);
      this.maxLen(confirm['confirm'], SLACK_LIMITS.confirmButton, `${at}/confirm/confirm/text`);
      this.maxLen(confirm['deny'], SLACK_LIMITS.confirmButton, `${at}/confirm/deny/text`);
    }
  }
}
