/**
 * The example motd plugin's pure parts, no testbed: every rule of `decide` (refuse with a code / no-op / go
 * with what is pinned), the args schema through the bot's real parser, and the escaping of a Host's line.
 */
import { describe, expect, it } from 'vitest';
import { hostLine } from '../../examples/plugins/motd/commands/show.js';
import { decide, MAX_MOTD_LENGTH, motdPinSchema } from '../../examples/plugins/motd/decide.js';
import { motdPlugin } from '../../examples/plugins/motd/index.js';
import { type HostMotd, headline } from '../../examples/plugins/motd/motd-file.js';
import { parseArgs } from '../../src/core/args.js';

const has = (host: string, content: string | null): HostMotd => ({ host, reachable: true, content });
const down = (host: string): HostMotd => ({ host, reachable: false, error: 'host2 did not answer' });

describe('decide', () => {
  it('refuses an empty text, a text over the limit and control characters, with a code', () => {
    const hosts = [has('host1', null)];
    expect(decide('  ', hosts)).toMatchObject({ kind: 'refuse', code: 'motd.invalid_text' });
    expect(decide('x'.repeat(MAX_MOTD_LENGTH + 1), hosts)).toMatchObject({
      kind: 'refuse',
      code: 'motd.invalid_text',
      reason: `the text is ${MAX_MOTD_LENGTH + 1} characters long; the limit is ${MAX_MOTD_LENGTH}`,
    });
    for (const bad of ['a\nb', 'a\tb', 'a\u0007b', 'a\u009bb'])
      expect(decide(bad, hosts)).toMatchObject({ kind: 'refuse', code: 'motd.invalid_text' });
    expect(decide('x'.repeat(MAX_MOTD_LENGTH), hosts).kind).toBe('go');
  });

  it('refuses when no Host is registered', () => {
    expect(decide('hi', [])).toMatchObject({ kind: 'refuse', code: 'motd.no_hosts' });
  });

  it('is a no-op when every Host already has exactly that file', () => {
    expect(decide('hi', [has('host1', 'hi\n'), has('host2', 'hi\n')])).toEqual({ kind: 'noop' });
  });

  it('goes with the Hosts whose file differs (missing, other text, extra lines) and the unreachable ones', () => {
    const d = decide('hi', [
      has('host1', 'hi\n'),
      has('host2', null),
      has('host3', 'hi\nmore\n'),
      has('host4', 'hi'),
      down('host5'),
    ]);
    expect(d).toEqual({
      kind: 'go',
      pinned: { text: 'hi', targets: ['host2', 'host3', 'host4', 'host5'] },
      unreachable: ['host5'],
    });
  });

  it('pins what the worker parses again: the same rules apply to the pinned text', () => {
    expect(motdPinSchema.safeParse({ text: 'hi', targets: ['host1'] }).success).toBe(true);
    expect(motdPinSchema.safeParse({ text: 'a\nb', targets: ['host1'] }).success).toBe(false);
    expect(motdPinSchema.safeParse({ text: 'hi', targets: [] }).success).toBe(false);
  });
});

describe('args and rendering', () => {
  const set = motdPlugin.commands.find((c) => c.id === 'motd set')!;

  it('takes the rest of the line as the text; the schema names the problem', () => {
    expect(parseArgs(set, ['Maintenance', 'on', 'Sunday'])).toEqual({
      ok: true,
      value: { text: 'Maintenance on Sunday' },
    });
    const long = parseArgs(set, ['x'.repeat(MAX_MOTD_LENGTH + 1)]);
    expect(long.ok).toBe(false);
    if (!long.ok) expect(long.error.userMessage).toContain('the limit is 200');
    expect(parseArgs(set, []).ok).toBe(false);
  });

  it('shows the first non-blank line, escaped: no ping, no formatting', () => {
    expect(headline('\nThe programs included with Debian\nmore\n')).toBe('The programs included with Debian');
    const line = hostLine(has('host1', '<!channel> *hi* <@U0EVIL1>\n')).mrkdwn;
    expect(line).not.toContain('<!channel>');
    expect(line).not.toContain('<@U0EVIL1>');
    expect(line).not.toMatch(/(^|[^\u200b])\*hi/);
    expect(line.replace(/\u200b/g, '')).toContain('&lt;!channel&gt; *hi* &lt;@U0EVIL1&gt;');
    expect(hostLine(down('host2')).mrkdwn).toBe('• *host2*: unreachable — host2 did not answer');
  });
});
