/**
 * Which Block Kit button a rendered `<button>` is. slack-blocks-to-jsx renders every button element with
 * the class `slack_blocks_to_jsx__button_element` (and `id` = its action_id), in block order: a section's
 * accessory, then an actions block's elements. Other interactive elements (selects, overflow menus) render
 * with other classes and are not clickable actions here.
 */
import type { SlackBlock } from './api.ts';

export const BUTTON_CLASS = 'slack_blocks_to_jsx__button_element';
export const CONFIRM_DIALOG_CLASS = 'slack_blocks_to_jsx__confirm_dialog';

export interface ConfirmObject {
  title?: { text: string };
  text?: { text: string };
  confirm?: { text: string };
  deny?: { text: string };
}

export interface ButtonElement {
  type: 'button';
  action_id?: string;
  text?: { text: string };
  confirm?: ConfirmObject;
}

const isButton = (v: unknown): v is ButtonElement =>
  typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'button';

/** The button elements of `blocks`, in the order the library renders them. */
export function buttonElements(blocks: readonly SlackBlock[]): ButtonElement[] {
  const found: ButtonElement[] = [];
  for (const block of blocks) {
    if (block.type === 'section' && isButton(block['accessory'])) found.push(block['accessory']);
    if (block.type === 'actions' && Array.isArray(block['elements'])) {
      for (const el of block['elements']) if (isButton(el)) found.push(el);
    }
  }
  return found;
}

/**
 * The element behind the `index`-th rendered button whose action id (as rendered) is `renderedId`. Document
 * order is the rule; the action id checks it, and decides alone when the counts disagree (a block type the
 * library renders differently), so a click never goes to the wrong button.
 */
export function elementForButton(
  elements: readonly ButtonElement[],
  renderedCount: number,
  index: number,
  renderedId: string | undefined,
): ButtonElement | undefined {
  const byOrder = renderedCount === elements.length ? elements[index] : undefined;
  if (byOrder && (renderedId === undefined || renderedId === '' || byOrder.action_id === renderedId)) {
    return byOrder;
  }
  const byId = renderedId ? elements.filter((e) => e.action_id === renderedId) : [];
  return byId.length === 1 ? byId[0] : undefined;
}
