/** The right pane: a thread's parent, its replies and the acting user's ephemerals posted in it. */
import { useEffect, useRef } from 'react';
import type { ConsoleMessage, Ephemeral } from './api.ts';
import type { Directory } from './block-kit.tsx';
import { type OnAction, useStickToBottom } from './channel-view.tsx';
import { Entries, MessageView } from './message-view.tsx';
import { threadTimeline } from './timeline.ts';

interface Props {
  parent: ConsoleMessage;
  channelName: string;
  ephemerals: Ephemeral[];
  botUserId: string;
  botName: string;
  directory: Directory;
  onAction: OnAction;
  onClose: () => void;
}

export function ThreadPane(p: Props) {
  const entries = threadTimeline(p.parent, p.ephemerals);
  const listRef = useStickToBottom(entries);
  const closeRef = useRef<HTMLButtonElement>(null);
  // focus moves in when another thread is opened
  // biome-ignore lint/correctness/useExhaustiveDependencies: the dependency is the trigger, on purpose
  useEffect(() => closeRef.current?.focus(), [p.parent.ts]);
  return (
    <aside className="thread" aria-label="Thread">
      <header className="pane-header">
        <h2>
          Thread <span className="muted"># {p.channelName}</span>
        </h2>
        <button
          type="button"
          className="icon-button"
          aria-label="Close thread"
          ref={closeRef}
          onClick={p.onClose}
        >
          ×
        </button>
      </header>
      <div className="timeline" ref={listRef}>
        <MessageView
          message={p.parent}
          isBot={p.parent.user === p.botUserId}
          directory={p.directory}
          onAction={p.onAction}
        />
        <div className="reply-count">
          {p.parent.replyCount === 1 ? '1 reply' : `${p.parent.replyCount} replies`}
        </div>
        <Entries entries={entries} {...p} />
      </div>
    </aside>
  );
}
