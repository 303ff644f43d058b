/**
 * The acting user's open modal (the last one opened, as on a views.push stack). Input blocks are the
 * console's own fields (input-field.tsx); every other run of blocks goes to the library. Submit posts the
 * values by block id and action id; errors the app answers with are shown under their fields and the modal
 * stays. Cancel, the close button and Escape post /console/close. Focus moves in on open, Tab stays in,
 * and focus goes back where it was on close.
 */
import { type KeyboardEvent, useEffect, useMemo, useRef, useState } from 'react';
import {
  blockIdOf,
  type ConsoleView,
  describeError,
  type InputValues,
  post,
  type SlackBlock,
} from './api.ts';
import { BlockKit, type Directory } from './block-kit.tsx';
import { actionIdOf, InputField, inputElementOf } from './input-field.tsx';

type Part =
  | { kind: 'blocks'; blocks: SlackBlock[]; key: string }
  | { kind: 'input'; block: SlackBlock; blockId: string };

/** Consecutive non-input blocks stay together so the library renders them as one message. */
function partsOf(blocks: readonly SlackBlock[]): Part[] {
  const parts: Part[] = [];
  blocks.forEach((block, i) => {
    if (block.type === 'input') parts.push({ kind: 'input', block, blockId: blockIdOf(block, i) });
    else {
      const last = parts[parts.length - 1];
      if (last?.kind === 'blocks') last.blocks.push(block);
      else parts.push({ kind: 'blocks', blocks: [block], key: `b${i}` });
    }
  });
  return parts;
}

const initialValues = (blocks: readonly SlackBlock[]): Record<string, string> =>
  Object.fromEntries(
    blocks.flatMap((b, i) =>
      b.type === 'input' ? [[blockIdOf(b, i), inputElementOf(b).initial_value ?? '']] : [],
    ),
  );

const FOCUSABLE = 'button, input, textarea, select, a[href], [tabindex]:not([tabindex="-1"])';

interface Props {
  view: ConsoleView;
  user: string;
  directory: Directory;
}

export function ViewModal({ view, user, directory }: Props) {
  const body = view.view;
  const parts = useMemo(() => partsOf(body.blocks), [body.blocks]);
  const [values, setValues] = useState(() => initialValues(body.blocks));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const dialogRef = useRef<HTMLDivElement>(null);
  const title = body.title?.text ?? 'Modal';
  const hasInputs = parts.some((p) => p.kind === 'input');

  useEffect(() => {
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const first = dialogRef.current?.querySelector<HTMLElement>('input, textarea, select');
    (first ?? dialogRef.current?.querySelector<HTMLElement>(FOCUSABLE))?.focus();
    return () => {
      if (before?.isConnected) before.focus();
    };
  }, []);

  const close = () => void post('/console/close', { viewId: view.id, user });

  const submit = async () => {
    if (busy) return;
    const payload: InputValues = {};
    for (const p of parts) {
      if (p.kind === 'input') payload[p.blockId] = { [actionIdOf(p.block)]: values[p.blockId] ?? '' };
    }
    setBusy(true);
    const a = await post('/console/submit', { viewId: view.id, user, values: payload });
    setBusy(false);
    const fieldErrors = (a['errors'] ?? null) as Record<string, string> | null;
    setErrors(fieldErrors ?? {});
    setFailure(a.ok || fieldErrors ? null : `Submitting failed: ${describeError(a)}`);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
      return;
    }
    if (e.key !== 'Tab' || !dialogRef.current) return;
    const focusable = [...dialogRef.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
      (el) => !el.hasAttribute('disabled'),
    );
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last?.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first?.focus();
    }
  };

  const onViewAction = (actionId: string) => {
    void post('/console/view-click', { viewId: view.id, actionId, user }).then((a) => {
      setFailure(a.ok ? null : `The click failed: ${describeError(a)}`);
    });
  };

  return (
    <div className="modal-backdrop">
      <div
        className="modal"
        role="dialog"
        aria-modal="true"
        aria-label={title}
        ref={dialogRef}
        onKeyDown={onKeyDown}
      >
        <header className="modal-header">
          <h2>{title}</h2>
          <button type="button" className="icon-button" aria-label="Close" onClick={close}>
            ×
          </button>
        </header>
        <form
          className="modal-body"
          id={`form-${view.id}`}
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          {parts.map((p) =>
            p.kind === 'blocks' ? (
              <BlockKit key={p.key} blocks={p.blocks} onAction={onViewAction} directory={directory} />
            ) : (
              <InputField
                key={p.blockId}
                block={p.block}
                value={values[p.blockId] ?? ''}
                error={errors[p.blockId]}
                onChange={(v) => setValues((old) => ({ ...old, [p.blockId]: v }))}
              />
            ),
          )}
          {failure && (
            <p className="field-error" role="alert">
              {failure}
            </p>
          )}
        </form>
        <footer className="modal-footer">
          <button type="button" onClick={close}>
            {body.close?.text ?? 'Cancel'}
          </button>
          {(body.submit || hasInputs) && (
            <button type="submit" className="primary" form={`form-${view.id}`} aria-busy={busy}>
              {body.submit?.text ?? 'Submit'}
            </button>
          )}
        </footer>
      </div>
    </div>
  );
}
