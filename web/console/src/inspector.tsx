/**
 * Every Web API call the bot made, newest last: method, HTTP status, time; a row expands to its
 * parameters as JSON. Fetched incrementally on every change event: `since` = the last seq seen, and only
 * higher seqs are kept (so an inclusive or an exclusive `since`, 0- or 1-based seqs, all work).
 */
import { useEffect, useRef, useState } from 'react';
import { type ApiCall, getJson } from './api.ts';
import { useStickToBottom } from './channel-view.tsx';
import { timeOf } from './message-view.tsx';

export function Inspector({ changes }: { changes: number }) {
  const [calls, setCalls] = useState<ApiCall[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [method, setMethod] = useState('');
  const [open, setOpen] = useState<ReadonlySet<number>>(new Set());
  const lastSeq = useRef(-1);
  const busy = useRef(false);

  // each change event may bring new calls
  // biome-ignore lint/correctness/useExhaustiveDependencies: the dependency is the trigger, on purpose
  useEffect(() => {
    if (busy.current) return;
    busy.current = true;
    void getJson(`/console/calls?since=${Math.max(0, lastSeq.current)}`).then((a) => {
      busy.current = false;
      if (!a.ok) {
        setError(a.error);
        return;
      }
      setError(null);
      const fresh = ((a['calls'] ?? []) as ApiCall[]).filter((c) => c.seq > lastSeq.current);
      if (!fresh.length) return;
      lastSeq.current = Math.max(lastSeq.current, ...fresh.map((c) => c.seq));
      setCalls((old) => [...old, ...fresh]);
    });
  }, [changes]);

  const methods = [...new Set(calls.map((c) => c.method))].sort();
  const shown = method ? calls.filter((c) => c.method === method) : calls;
  const listRef = useStickToBottom(shown.length);
  const toggle = (seq: number) =>
    setOpen((old) => {
      const next = new Set(old);
      if (!next.delete(seq)) next.add(seq);
      return next;
    });

  return (
    <section className="inspector" aria-labelledby="inspector-title">
      <header className="pane-header">
        <h1 id="inspector-title">Inspector</h1>
        <label className="filter">
          Method{' '}
          <select aria-label="Filter by method" value={method} onChange={(e) => setMethod(e.target.value)}>
            <option value="">All methods</option>
            {methods.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
      </header>
      <div className="timeline" ref={listRef}>
        {error && (
          <p className="field-error" role="alert">
            Cannot read the calls: {error}
          </p>
        )}
        {shown.length === 0 && <p className="empty">No Web API calls yet.</p>}
        <ol className="calls">
          {shown.map((c) => (
            <li key={c.seq} className={c.ok ? 'call' : 'call call-failed'}>
              <button type="button" aria-expanded={open.has(c.seq)} onClick={() => toggle(c.seq)}>
                <span className="call-method">{c.method}</span>
                <span className="call-status">
                  {c.status} {c.ok ? 'ok' : (c.error ?? 'error')}
                </span>
                <time dateTime={new Date(c.at).toISOString()}>{timeOf(c.at)}</time>
              </button>
              {open.has(c.seq) && <pre className="call-params">{JSON.stringify(c.params, null, 2)}</pre>}
            </li>
          ))}
        </ol>
      </div>
    </section>
  );
}
