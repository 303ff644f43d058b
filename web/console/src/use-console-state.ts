/**
 * The workspace as `user` sees it, kept live: one GET /console/state, then a refetch on every
 * `change` event of /console/events. Refetches are coalesced (one in flight, at most one queued), and an
 * answer for an older acting user or an older version is dropped.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { type ConsoleState, getJson, stateUrl } from './api.ts';

export type Link = 'connecting' | 'live' | 'reconnecting';

export interface LiveState {
  state: ConsoleState | null;
  error: string | null;
  link: Link;
  /** Bumped on every change event: panels with their own data (the inspector) refetch on it. */
  changes: number;
  refresh: () => void;
}

export function useConsoleState(user: string | undefined): LiveState {
  const [state, setState] = useState<ConsoleState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [link, setLink] = useState<Link>('connecting');
  const [changes, setChanges] = useState(0);
  const inFlight = useRef(false);
  const queued = useRef(false);
  const userRef = useRef(user);
  userRef.current = user;
  const applied = useRef<{ user: string | undefined; version: number }>({ user: undefined, version: -1 });

  const refresh = useCallback(() => {
    if (inFlight.current) {
      queued.current = true;
      return;
    }
    inFlight.current = true;
    const asked = userRef.current;
    void getJson(stateUrl(asked)).then((a) => {
      inFlight.current = false;
      if (asked === userRef.current) {
        if (a.ok) {
          const next = a as unknown as ConsoleState;
          const last = applied.current;
          if (last.user !== asked || next.version >= last.version) {
            applied.current = { user: asked, version: next.version };
            setState(next);
          }
          setError(null);
        } else setError(a.error);
      } else queued.current = true; // the acting user changed meanwhile: ask again for the new one
      if (queued.current) {
        queued.current = false;
        refresh();
      }
    });
  }, []);

  useEffect(() => {
    if (user !== undefined) refresh();
  }, [user, refresh]);

  useEffect(() => {
    refresh();
    const source = new EventSource('/console/events');
    source.addEventListener('open', () => {
      setLink('live');
      refresh(); // after a reconnect: whatever changed while the stream was down
    });
    source.addEventListener('error', () => setLink('reconnecting'));
    source.addEventListener('change', () => {
      setChanges((n) => n + 1);
      refresh();
    });
    return () => source.close();
  }, [refresh]);

  return { state, error, link, changes, refresh };
}
