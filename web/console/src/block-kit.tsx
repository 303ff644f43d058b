/**
 * Renders Block Kit with slack-blocks-to-jsx and makes its buttons do something. The library has no callback
 * for interactive elements, so clicks are delegated: a rendered button is mapped to its element in `blocks`
 * (block-elements.ts); one without `confirm` acts at once; one with `confirm` opens the library's own dialog,
 * and the action is sent when that dialog's confirm button (its last button) is clicked. Its deny button or
 * Escape cancels. The dialog is given role="dialog", a label and focus, which the library leaves out.
 */
import 'slack-blocks-to-jsx/dist/style.css';
import { useEffect, useMemo, useRef } from 'react';
import { type Block, Message } from 'slack-blocks-to-jsx';
import type { SlackBlock } from './api.ts';
import { BUTTON_CLASS, buttonElements, CONFIRM_DIALOG_CLASS, elementForButton } from './block-elements.ts';
import { APP_LOGO } from './logo.ts';

export interface Directory {
  users: { id: string; name: string }[];
  channels: { id: string; name: string }[];
}

interface Props {
  blocks: SlackBlock[];
  onAction: (actionId: string) => void;
  directory?: Directory | undefined;
}

/** The library marks every message with id="slack_blocks_to_jsx" and every button with its action_id as id. */
function tidy(root: HTMLElement): void {
  for (const el of root.querySelectorAll('[id="slack_blocks_to_jsx"]')) el.removeAttribute('id');
  for (const b of root.querySelectorAll<HTMLButtonElement>(`button.${BUTTON_CLASS}[id]`)) {
    b.dataset['actionId'] = b.id;
    b.removeAttribute('id');
  }
  for (const dialog of root.querySelectorAll<HTMLElement>(`.${CONFIRM_DIALOG_CLASS}:not([role])`)) {
    dialog.setAttribute('role', 'dialog');
    dialog.setAttribute('aria-modal', 'true');
    const title = dialog.querySelector('.font-semibold')?.textContent?.trim();
    dialog.setAttribute('aria-label', title || 'Are you sure?');
    dialog.querySelector('button')?.focus(); // deny: the safe default, as Slack does
  }
}

/**
 * The library turns an unknown `:name:` into `name` (so "07:41:50" showed as "074150"); Slack leaves text that
 * is not an emoji it knows as typed. Its emoji hook keeps the colons when the name is not an emoji.
 */
const HOOKS = {
  emoji: <E extends { name: string }>(data: E, parse: (d: E) => string): string => {
    const shown = parse(data);
    return shown === data.name ? `:${data.name}:` : shown;
  },
};

export function BlockKit({ blocks, onAction, directory }: Props) {
  const ref = useRef<HTMLDivElement>(null);
  const elements = useMemo(() => buttonElements(blocks), [blocks]);
  const latest = useRef({ elements, onAction });
  latest.current = { elements, onAction };

  useEffect(() => {
    const root = ref.current;
    if (!root) return;
    let pending: { actionId: string; opener: HTMLButtonElement } | null = null;

    /** Both of the dialog's buttons close it (the library does that); focus goes back to the opener. */
    const closeDialog = (confirmed: boolean) => {
      const was = pending;
      pending = null;
      if (!was) return;
      setTimeout(() => was.opener.isConnected && was.opener.focus(), 0);
      if (confirmed) latest.current.onAction(was.actionId);
    };

    const onClick = (e: MouseEvent) => {
      const target = e.target instanceof Element ? e.target : null;
      const button = target?.closest('button');
      const dialog = target?.closest(`.${CONFIRM_DIALOG_CLASS}`);
      if (dialog) {
        if (!button) return;
        const buttons = dialog.querySelectorAll('button');
        closeDialog(button === buttons[buttons.length - 1]);
        return;
      }
      if (!button?.classList.contains(BUTTON_CLASS)) return;
      const rendered = [...root.querySelectorAll<HTMLButtonElement>(`button.${BUTTON_CLASS}`)];
      const { elements } = latest.current;
      const renderedId = button.dataset['actionId'] ?? button.id;
      const el = elementForButton(elements, rendered.length, rendered.indexOf(button), renderedId);
      if (!el?.action_id) return;
      if (el.confirm) pending = { actionId: el.action_id, opener: button };
      else latest.current.onAction(el.action_id);
    };

    const onKeyDown = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      const dialog = root.querySelector(`.${CONFIRM_DIALOG_CLASS}`);
      if (!dialog) return;
      e.stopPropagation();
      dialog.querySelector('button')?.click(); // deny
    };

    tidy(root);
    const observer = new MutationObserver(() => tidy(root));
    observer.observe(root, { childList: true, subtree: true, attributes: true, attributeFilter: ['id'] });
    root.addEventListener('click', onClick);
    root.addEventListener('keydown', onKeyDown);
    return () => {
      observer.disconnect();
      root.removeEventListener('click', onClick);
      root.removeEventListener('keydown', onKeyDown);
    };
  }, []);

  return (
    <div className="block-kit" ref={ref}>
      <Message
        blocks={blocks as unknown as Block[]}
        logo={APP_LOGO}
        name=""
        theme="light"
        withoutWrapper
        data={directory ?? {}}
        hooks={HOOKS}
      />
    </div>
  );
}
