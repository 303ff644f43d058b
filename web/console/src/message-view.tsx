/**
 * One message or ephemeral as Slack shows it: avatar, author, time, "(edited)", the blocks (or its text as
 * mrkdwn when there are none), and for a channel message its "N replies" button.
 * Test hooks: `<article aria-label="Message from <userName>" data-ts data-channel>` and, for ephemerals,
 * `<article aria-label="Only visible to you" ...>`.
 */
import type { ConsoleMessage, Ephemeral } from './api.ts';
import { BlockKit, type Directory } from './block-kit.tsx';
import { APP_LOGO } from './logo.ts';
import type { Entry } from './timeline.ts';

export const timeOf = (ms: number) =>
  new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

function Body({
  text,
  blocks,
  onAction,
  directory,
}: Pick<ConsoleMessage, 'text' | 'blocks'> & { onAction: (id: string) => void; directory: Directory }) {
  // Slack formats a message's top-level `text` as mrkdwn (mentions, *bold*, `code`) when it has no blocks:
  // the same renderer shows it, as one mrkdwn section (it builds React elements, never HTML from the text).
  const shown = blocks.length ? blocks : [{ type: 'section', text: { type: 'mrkdwn', text } }];
  return <BlockKit blocks={shown} onAction={onAction} directory={directory} />;
}

function Avatar({ name, bot }: { name: string; bot: boolean }) {
  if (bot) return <img className="avatar" src={APP_LOGO} alt="" />;
  return (
    <span className="avatar avatar-user" aria-hidden="true">
      {name.slice(0, 1).toUpperCase()}
    </span>
  );
}

interface MessageProps {
  message: ConsoleMessage;
  isBot: boolean;
  directory: Directory;
  onAction: (message: { channel: string; ts: string }, actionId: string) => void;
  onOpenThread?: ((ts: string) => void) | undefined;
}

export function MessageView({ message: m, isBot, directory, onAction, onOpenThread }: MessageProps) {
  const replies = m.replyCount;
  return (
    <article
      className="message"
      aria-label={`Message from ${m.userName}`}
      data-ts={m.ts}
      data-channel={m.channel}
    >
      <Avatar name={m.userName} bot={isBot} />
      <div className="message-content">
        <div className="message-meta">
          <span className="author">{m.userName}</span>
          {isBot && <span className="badge">APP</span>}
          <time dateTime={new Date(m.postedAt).toISOString()}>{timeOf(m.postedAt)}</time>
          {m.editCount > 0 && <span className="edited">(edited)</span>}
          {m.broadcast && m.threadTs && <span className="edited">replied to a thread</span>}
        </div>
        <Body text={m.text} blocks={m.blocks} directory={directory} onAction={(id) => onAction(m, id)} />
        {onOpenThread && replies > 0 && (
          <button type="button" className="link-button replies" onClick={() => onOpenThread(m.ts)}>
            {replies === 1 ? '1 reply' : `${replies} replies`}
          </button>
        )}
      </div>
    </article>
  );
}

interface EphemeralProps {
  ephemeral: Ephemeral;
  botName: string;
  directory: Directory;
  onAction: (message: { channel: string; ts: string }, actionId: string) => void;
}

export function EphemeralView({ ephemeral: e, botName, directory, onAction }: EphemeralProps) {
  return (
    <article
      className="message ephemeral"
      aria-label="Only visible to you"
      data-ts={e.ts}
      data-channel={e.channel}
    >
      <Avatar name={botName} bot />
      <div className="message-content">
        <div className="message-meta">
          <span className="author">{botName}</span>
          <span className="badge">APP</span>
          <time dateTime={new Date(e.postedAt).toISOString()}>{timeOf(e.postedAt)}</time>
          <span className="only-you">Only visible to you</span>
        </div>
        <Body text={e.text} blocks={e.blocks} directory={directory} onAction={(id) => onAction(e, id)} />
      </div>
    </article>
  );
}

interface EntriesProps {
  entries: readonly Entry[];
  botUserId: string;
  botName: string;
  directory: Directory;
  onAction: (message: { channel: string; ts: string }, actionId: string) => void;
  /** A channel's messages open their thread; a thread's do not. */
  onOpenThread?: ((ts: string) => void) | undefined;
}

/** A timeline (a channel's or a thread's): its messages and the acting user's ephemerals, in order. */
export function Entries(p: EntriesProps) {
  return p.entries.map((e) =>
    e.kind === 'message' ? (
      <MessageView
        key={`m${e.message.ts}`}
        message={e.message}
        isBot={e.message.user === p.botUserId}
        directory={p.directory}
        onAction={p.onAction}
        onOpenThread={p.onOpenThread}
      />
    ) : (
      <EphemeralView
        key={`e${e.ephemeral.ts}`}
        ephemeral={e.ephemeral}
        botName={p.botName}
        directory={p.directory}
        onAction={p.onAction}
      />
    ),
  );
}
