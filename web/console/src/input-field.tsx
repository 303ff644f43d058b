/**
 * An input block of a modal, rendered by the console rather than the library so that every field has a
 * real <label> (the block's `label`), its hint and its error are tied to it, and its value is read back
 * for view_submission. plain_text_input (multiline → textarea) and number_input; any other element gets
 * a text box, which is what the bot's modals need.
 */
import { useId } from 'react';
import type { SlackBlock } from './api.ts';

interface InputElement {
  type: string;
  action_id?: string;
  multiline?: boolean;
  initial_value?: string;
  max_length?: number;
  placeholder?: { text: string };
}

const textOf = (v: unknown): string | undefined =>
  typeof v === 'object' && v !== null && typeof (v as { text?: unknown }).text === 'string'
    ? (v as { text: string }).text
    : undefined;

export const inputElementOf = (block: SlackBlock): InputElement =>
  typeof block['element'] === 'object' && block['element'] !== null
    ? (block['element'] as InputElement)
    : { type: 'plain_text_input' };

/** The action id the value is reported under: the element's, or Slack's made-up one when it has none. */
export const actionIdOf = (block: SlackBlock): string => inputElementOf(block).action_id ?? 'value';

interface Props {
  block: SlackBlock;
  value: string;
  error: string | undefined;
  onChange: (value: string) => void;
}

export function InputField({ block, value, error, onChange }: Props) {
  const id = useId();
  const el = inputElementOf(block);
  const hint = textOf(block['hint']);
  const optional = block['optional'] === true;
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  const common = {
    id,
    value,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': describedBy || undefined,
    placeholder: textOf(el.placeholder),
    maxLength: el.max_length,
    'aria-required': !optional,
  } as const;
  return (
    <div className="input-block">
      <label htmlFor={id}>
        {textOf(block['label']) ?? actionIdOf(block)}
        {optional && <span className="muted"> (optional)</span>}
      </label>
      {el.multiline ? (
        <textarea {...common} rows={4} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input
          {...common}
          type="text"
          inputMode={el.type === 'number_input' ? 'numeric' : undefined}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
      {hint && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
