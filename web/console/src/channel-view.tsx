/** A channel: its header (with the transcript export), its timeline, and the composer. */
import { useEffect, useRef } from 'react';
import type { ConsoleMessage, Ephemeral } from './api.ts';
import type { Directory } from './block-kit.tsx';
import { Composer } from './composer.tsx';
import { Entries } from './message-view.tsx';
import { channelTimeline } from './timeline.ts';

export type OnAction = (message: { channel: string; ts: string }, actionId: string) => void;

interface Props {
  channel: { id: string; name: string };
  messages: ConsoleMessage[];
  ephemerals: Ephemeral[];
  user: string;
  botUserId: string;
  botName: string;
  directory: Directory;
  onAction: OnAction;
  onOpenThread: (ts: string) => void;
}

/** Keeps a scrolled list at its bottom when something arrives, unless the reader scrolled up. */
export function useStickToBottom(dep: unknown) {
  const ref = useRef<HTMLDivElement>(null);
  const stuck = useRef(true);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const onScroll = () => {
      stuck.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    };
    el.addEventListener('scroll', onScroll);
    return () => el.removeEventListener('scroll', onScroll);
  }, []);
  // runs on purpose whenever the content changes
  // biome-ignore lint/correctness/useExhaustiveDependencies: the dependency is the trigger, on purpose
  useEffect(() => {
    const el = ref.current;
    if (el && stuck.current) el.scrollTop = el.scrollHeight;
  }, [dep]);
  return ref;
}

export function ChannelView(p: Props) {
  const entries = channelTimeline(p.messages, p.ephemerals, p.channel.id);
  const listRef = useStickToBottom(entries);
  const transcript = (format: 'md' | 'json') =>
    `/console/transcript?channel=${encodeURIComponent(p.channel.id)}&format=${format}`;
  return (
    <section className="channel" aria-labelledby="channel-title">
      <header className="pane-header">
        <h1 id="channel-title"># {p.channel.name}</h1>
        <span className="export">
          <a href={transcript('md')} download={`${p.channel.name}.md`}>
            Export transcript
          </a>
          <a href={transcript('json')} download={`${p.channel.name}.json`}>
            Export as JSON
          </a>
        </span>
      </header>
      <div className="timeline" ref={listRef}>
        {entries.length === 0 && (
          <p className="empty">
            No messages yet. Type <code>/flexvdi help</code> below.
          </p>
        )}
        <Entries entries={entries} {...p} />
      </div>
      <Composer channel={p.channel} user={p.user} />
    </section>
  );
}
