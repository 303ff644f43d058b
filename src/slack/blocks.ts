/**
 * Block Kit within Slack's limits: ≤ 50 blocks per message, section text ≤ 3000 chars, confirm dialog text
 * ≤ 300, top-level `text` fallback ≤ 40000. Long content is split across sections and, past the block
 * budget, cut with a note that the rest is in the thread.
 */

export const LIMITS = {
  blocks: 50,
  sectionText: 3000,
  confirmText: 300,
  text: 40_000,
  buttonValue: 2000,
} as const;

export type Block = Record<string, unknown>;

export const mrkdwn = (text: string) => ({ type: 'mrkdwn', text });

export function section(text: string): Block {
  return {
    type: 'section',
    text: mrkdwn(text.length > LIMITS.sectionText ? `${text.slice(0, LIMITS.sectionText - 1)}…` : text),
  };
}

export function context(text: string): Block {
  return { type: 'context', elements: [mrkdwn(text.slice(0, LIMITS.sectionText))] };
}

export const divider = (): Block => ({ type: 'divider' });

export interface ButtonSpec {
  text: string;
  actionId: string;
  value: string;
  style?: 'primary' | 'danger';
  confirm?: { title: string; text: string; confirm: string; deny: string };
}

export function actions(blockId: string, buttons: ButtonSpec[]): Block {
  return {
    type: 'actions',
    block_id: blockId,
    elements: buttons.map((b) => ({
      type: 'button',
      action_id: b.actionId,
      text: { type: 'plain_text', text: b.text.slice(0, 75) },
      value: b.value.slice(0, LIMITS.buttonValue),
      ...(b.style ? { style: b.style } : {}),
      ...(b.confirm
        ? {
            confirm: {
              title: { type: 'plain_text', text: b.confirm.title.slice(0, 100) },
              text: mrkdwn(b.confirm.text.slice(0, LIMITS.confirmText)),
              confirm: { type: 'plain_text', text: b.confirm.confirm.slice(0, 30) },
              deny: { type: 'plain_text', text: b.confirm.deny.slice(0, 30) },
            },
          }
        : {}),
    })),
  };
}

/** Splits lines into sections of ≤ 3000 chars (a code block stays a code block in every chunk). */
export function sectionsFor(lines: string[], opts: { title?: string; code?: boolean } = {}): Block[] {
  const fence = opts.code ? '```' : '';
  const budget = LIMITS.sectionText - 2 * fence.length - 2 - (opts.title ? opts.title.length + 1 : 0);
  const chunks: string[][] = [[]];
  let size = 0;
  for (const raw of lines) {
    const line = raw.length > budget ? `${raw.slice(0, budget - 1)}…` : raw;
    if (size + line.length + 1 > budget && chunks[chunks.length - 1]!.length) {
      chunks.push([]);
      size = 0;
    }
    chunks[chunks.length - 1]!.push(line);
    size += line.length + 1;
  }
  return chunks
    .filter((c) => c.length)
    .map((c, i) =>
      section(`${i === 0 && opts.title ? `${opts.title}\n` : ''}${fence}${c.join('\n')}${fence}`),
    );
}

/**
 * Keeps a message within 50 blocks: the blocks listed in `tail` (e.g. the buttons) are always kept; the
 * middle is cut with a note when it would not fit.
 */
export function fitBlocks(head: Block[], body: Block[], tail: Block[], overflowNote: string): Block[] {
  const room = LIMITS.blocks - head.length - tail.length;
  if (body.length <= room) return [...head, ...body, ...tail];
  const kept = body.slice(0, Math.max(0, room - 1));
  return [...head, ...kept, context(overflowNote.replace('{n}', String(body.length - kept.length))), ...tail];
}
