/**
 * The message box. This workspace has one slash command, the app's: `/flexvdi <text>` is sent as a
 * command with `text` = what follows; anything else is refused here with a hint. Enter sends, Shift+Enter
 * breaks the line.
 */
import { type FormEvent, type KeyboardEvent, useId, useState } from 'react';
import { describeError, post } from './api.ts';

const COMMAND = /^\/flexvdi(?:\s+|$)/;

interface Props {
  channel: { id: string; name: string };
  user: string;
}

export function Composer({ channel, user }: Props) {
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const errorId = useId();

  const send = async () => {
    const line = draft.trim();
    if (!line || sending) return;
    if (!COMMAND.test(line)) {
      setError('Only the app\u2019s slash command works here: start with /flexvdi (try /flexvdi help).');
      return;
    }
    setSending(true);
    setError(null);
    const a = await post('/console/command', { text: line.replace(COMMAND, ''), user, channel: channel.id });
    setSending(false);
    if (a.ok) setDraft('');
    else setError(`The command failed: ${describeError(a)}`);
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void send();
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  };

  return (
    <form className="composer" onSubmit={onSubmit}>
      {error && (
        <p id={errorId} className="composer-error" role="alert">
          {error}
        </p>
      )}
      <div className="composer-box">
        <textarea
          aria-label={`Message #${channel.name}`}
          aria-describedby={error ? errorId : undefined}
          placeholder="/flexvdi help"
          rows={1}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKeyDown}
        />
        <button type="submit" className="primary" aria-busy={sending}>
          Send
        </button>
      </div>
    </form>
  );
}
