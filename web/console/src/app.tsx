/**
 * The console: a Slack-like workspace for the bot. Sidebar (channels with unread dots, the app's Home tab,
 * the API call inspector, and in demo mode the cluster), a top bar with the acting user, the main pane,
 * a thread pane, and the acting user's open modal. Everything comes from /console/state, kept live.
 */
import { useEffect, useMemo, useState } from 'react';
import { describeError, post } from './api.ts';
import type { Directory } from './block-kit.tsx';
import { ChannelView } from './channel-view.tsx';
import { ClusterPanel } from './cluster-panel.tsx';
import { HomeTab } from './home-tab.tsx';
import { Inspector } from './inspector.tsx';
import { ThreadPane } from './thread-pane.tsx';
import { lastActivity } from './timeline.ts';
import { useConsoleState } from './use-console-state.ts';
import { ViewModal } from './view-modal.tsx';

type Place = { kind: 'channel'; id: string } | { kind: 'home' } | { kind: 'inspector' } | { kind: 'cluster' };

const userFromUrl = () => new URLSearchParams(window.location.search).get('user') ?? undefined;

export function App() {
  const [user, setUser] = useState<string | undefined>(userFromUrl);
  const live = useConsoleState(user);
  const state = live.state;
  const [place, setPlace] = useState<Place | null>(null);
  const [thread, setThread] = useState<{ channel: string; ts: string } | null>(null);
  const [seen, setSeen] = useState<Record<string, number>>({});
  const [notice, setNotice] = useState<string | null>(null);

  const people = useMemo(
    () => (state ? state.users.filter((u) => u.id !== state.workspace.botUserId) : []),
    [state],
  );
  useEffect(() => {
    if (user === undefined && people.length) setUser((people.find((u) => u.admin) ?? people[0])?.id);
  }, [user, people]);
  useEffect(() => {
    if (!user) return;
    const url = new URL(window.location.href);
    url.searchParams.set('user', user);
    window.history.replaceState(null, '', url);
  }, [user]);

  const current: Place | null =
    place ?? (state?.channels[0] ? { kind: 'channel', id: state.channels[0].id } : null);
  const activeChannel = current?.kind === 'channel' ? current.id : undefined;
  const activity = activeChannel && state ? lastActivity(state.messages, activeChannel) : 0;
  useEffect(() => {
    if (activeChannel)
      setSeen((old) => (old[activeChannel] === activity ? old : { ...old, [activeChannel]: activity }));
  }, [activeChannel, activity]);

  const directory: Directory = useMemo(
    () => ({ users: state?.users ?? [], channels: state?.channels ?? [] }),
    [state?.users, state?.channels],
  );

  if (!state || !user) {
    return (
      <main className="loading">
        <p role="status">
          {live.error ? `Cannot load the workspace: ${live.error}` : 'Loading the workspace…'}
        </p>
      </main>
    );
  }

  const onAction = (m: { channel: string; ts: string }, actionId: string) => {
    void post('/console/click', { channel: m.channel, ts: m.ts, actionId, user }).then((a) => {
      setNotice(a.ok ? null : `The click failed: ${describeError(a)}`);
    });
  };
  const go = (p: Place) => {
    setPlace(p);
    if (p.kind !== 'channel') setThread(null);
  };

  const channel = state.channels.find((c) => c.id === activeChannel);
  const parent = thread
    ? state.messages.find((m) => m.channel === thread.channel && m.ts === thread.ts)
    : undefined;
  const mine = state.views.filter((v) => v.userId === user);
  const modal = mine.filter((v) => v.view.type === 'modal').at(-1);
  const home = mine.find((v) => v.view.type === 'home');
  const navButton = (p: Place, label: string, extra?: string) => {
    const active =
      current?.kind === p.kind &&
      (p.kind !== 'channel' || (current.kind === 'channel' && current.id === p.id));
    return (
      <button
        type="button"
        className="nav-item"
        aria-current={active ? 'page' : undefined}
        onClick={() => go(p)}
      >
        {label}
        {extra && (
          <span className="unread-dot">
            <span className="visually-hidden">{extra}</span>
          </span>
        )}
      </button>
    );
  };

  return (
    <div className={thread && parent ? 'app with-thread' : 'app'}>
      <nav className="sidebar" aria-label="Workspace">
        <div className="workspace-name">{state.workspace.teamName}</div>
        <h2>Channels</h2>
        <ul>
          {state.channels.map((c) => {
            const unread = c.id !== activeChannel && lastActivity(state.messages, c.id) > (seen[c.id] ?? 0);
            return (
              <li key={c.id}>
                {navButton({ kind: 'channel', id: c.id }, `#${c.name}`, unread ? ' (unread)' : undefined)}
              </li>
            );
          })}
        </ul>
        <h2>Apps</h2>
        <ul>
          <li>{navButton({ kind: 'home' }, 'Home')}</li>
          <li>{navButton({ kind: 'inspector' }, 'Inspector')}</li>
          {state.cluster && <li>{navButton({ kind: 'cluster' }, 'Cluster')}</li>}
        </ul>
      </nav>
      <header className="topbar">
        <label className="acting">
          Acting as{' '}
          <select aria-label="Acting user" value={user} onChange={(e) => setUser(e.target.value)}>
            {people.map((u) => (
              <option key={u.id} value={u.id}>
                {u.name} ({u.admin ? 'admin' : 'not admin'})
              </option>
            ))}
          </select>
        </label>
        <span className={`link link-${live.link}`} role="status">
          {live.link === 'live' ? 'Live' : live.link === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
        </span>
        {(notice ?? live.error) && (
          <p className="notice" role="alert">
            {notice ?? `Cannot refresh: ${live.error}`}
            {notice && (
              <button
                type="button"
                className="icon-button"
                aria-label="Dismiss"
                onClick={() => setNotice(null)}
              >
                ×
              </button>
            )}
          </p>
        )}
      </header>
      <main className="main">
        {current?.kind === 'channel' && channel && (
          <ChannelView
            channel={channel}
            messages={state.messages}
            ephemerals={state.ephemerals}
            user={user}
            botUserId={state.workspace.botUserId}
            botName={state.workspace.botName}
            directory={directory}
            onAction={onAction}
            onOpenThread={(ts) => setThread({ channel: channel.id, ts })}
          />
        )}
        {current?.kind === 'home' && (
          <HomeTab view={home} user={user} botName={state.workspace.botName} directory={directory} />
        )}
        {current?.kind === 'inspector' && <Inspector changes={live.changes} />}
        {current?.kind === 'cluster' && state.cluster && <ClusterPanel cluster={state.cluster} />}
      </main>
      {thread && parent && (
        <ThreadPane
          parent={parent}
          channelName={state.channels.find((c) => c.id === parent.channel)?.name ?? parent.channel}
          ephemerals={state.ephemerals}
          botUserId={state.workspace.botUserId}
          botName={state.workspace.botName}
          directory={directory}
          onAction={onAction}
          onClose={() => setThread(null)}
        />
      )}
      {modal && <ViewModal key={modal.id} view={modal} user={user} directory={directory} />}
    </div>
  );
}
