import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { escapeEntities, escapeMd, joinMd, Md, md, mdSchema, prose, text } from '../../src/core/text.js';

const ZWSP = '\u200b';

const HOSTILE = [
  '<!channel>',
  '<!here|here>',
  '<@U123>',
  '<#C0123|ops>',
  '<http://x|y>',
  'a & b',
  '&lt;!channel&gt;',
  '*bold*',
  '_it_',
  '~s~',
  '`code`',
  '```block```',
  '> quoted',
  'mix *a* _b_ ~c~ `d` <e> &f',
] as const;

/** A `<…>` span that Slack would read as a mention, a special command or a link. */
const slackSpan = /<[^>]*>/;
/** A bare `&` that is not one of the three entities mrkdwn understands. */
const bareAmp = /&(?!(amp|lt|gt);)/;
/**
 * A mrkdwn formatting run: a marker, then text that does not start or end with (zero-width) space, then the
 * same marker. The escaper fences every marker with zero-width spaces, so none may remain.
 */
const formattingRun = /([*_~])(?![\s\u200b])[^\n]*?(?<![\s\u200b])\1/;

/** What a reader sees: entities decoded, zero-width spaces dropped. */
const visible = (s: string) =>
  s.replaceAll(ZWSP, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

describe('md: interpolated strings are escaped', () => {
  it('(the detectors used below do catch raw markup)', () => {
    for (const raw of ['*bold*', '_it_', '~s~', 'a *b c* d']) expect(raw).toMatch(formattingRun);
    for (const raw of ['* a *', `${ZWSP}*${ZWSP}a${ZWSP}*${ZWSP}`]) expect(raw).not.toMatch(formattingRun);
    expect('<!channel>').toMatch(slackSpan);
    expect('a & b').toMatch(bareAmp);
    expect('a &amp; b').not.toMatch(bareAmp);
  });

  for (const value of HOSTILE) {
    it(`escapes ${JSON.stringify(value)}`, () => {
      const out = md`Host ${value} is down`.mrkdwn;
      const inner = out.slice('Host '.length, -' is down'.length);
      expect(inner).toBe(escapeMd(value));
      expect(inner).not.toMatch(/[<>]/);
      expect(inner).not.toMatch(slackSpan);
      expect(inner).not.toMatch(bareAmp);
      expect(inner).not.toMatch(formattingRun);
      expect(inner).not.toContain('`');
      // The reader still sees the text itself (the backtick as a look-alike).
      expect(visible(inner)).toBe(value.replaceAll('`', '\u02cb'));
    });
  }

  it('keeps a mention out even when the value is wrapped in our own markup', () => {
    const out = md`*${'<!channel>'}* in \`${'<@U123>'}\``.mrkdwn;
    expect(out).toBe('*&lt;!channel&gt;* in `&lt;@U123&gt;`');
    expect(out).not.toMatch(slackSpan);
  });

  it('a backtick in a value cannot close our code span', () => {
    const out = md`\`${'x` <!channel> `y'}\``.mrkdwn;
    expect(out.match(/`/g)).toHaveLength(2);
    expect(out).not.toMatch(slackSpan);
  });

  it('keeps the literal parts as written (our own markup)', () => {
    expect(md`*Plan:* _${'h1'}_ ~x~ <@U1>`.mrkdwn).toBe('*Plan:* _h1_ ~x~ <@U1>');
    expect(md`no values`.mrkdwn).toBe('no values');
    expect(md``.mrkdwn).toBe('');
  });

  it('keeps interpolated Md as is: no double escaping', () => {
    expect(md`${md`*a*`}`.mrkdwn).toBe('*a*');
    expect(md`${text('a & <b>')}`.mrkdwn).toBe('a &amp; &lt;b&gt;');
    const once = md`x ${'*y*'}`;
    expect(md`${once}`.mrkdwn).toBe(once.mrkdwn);
    expect(md`[${md`${md`${'&'}`}`}]`.mrkdwn).toBe('[&amp;]');
  });

  it('interpolates numbers and bigints as they are', () => {
    expect(md`${3} of ${2.5} (${-1}) ${10n}`.mrkdwn).toBe('3 of 2.5 (-1) 10');
    expect(md`${0}`.mrkdwn).toBe('0');
  });

  it('Md serializes as its mrkdwn', () => {
    const m = md`*${'a_b'}*`;
    expect(String(m)).toBe(m.mrkdwn);
    expect(`${m}`).toBe(m.mrkdwn);
    expect(JSON.stringify({ m })).toBe(JSON.stringify({ m: m.mrkdwn }));
  });
});

describe('md: values inside a code span', () => {
  it('are kept exactly as typed where Slack does not format (copy-paste gives the value)', () => {
    expect(md`Host \`${'host_1.example'}\` and path \`${'/var/lib/a*b~c'}\``.mrkdwn).toBe(
      'Host `host_1.example` and path `/var/lib/a*b~c`',
    );
    expect(md`\`\`\`${'x_y'}\`\`\``.mrkdwn).toBe('```x_y```');
  });

  it('still cannot ping, link or end the span', () => {
    const out = md`\`${'<!channel> & `rm`'}\` *${'_v_'}*`.mrkdwn;
    expect(out).toBe('`&lt;!channel&gt; &amp; \u02cbrm\u02cb` *\u200b_\u200bv\u200b_\u200b*');
    expect(out.match(/`/g)).toHaveLength(2);
  });
});

describe('text, prose, escapeEntities', () => {
  it('text escapes like an interpolated value', () => {
    for (const v of HOSTILE) {
      expect(text(v)).toBeInstanceOf(Md);
      expect(text(v).mrkdwn).toBe(md`${v}`.mrkdwn);
    }
  });

  it('prose escapes only & < > (our backticks and markup keep working)', () => {
    const p = prose('Host `h1` said <!channel> & *bold* _it_ ~s~');
    expect(p).toBeInstanceOf(Md);
    expect(p.mrkdwn).toBe('Host `h1` said &lt;!channel&gt; &amp; *bold* _it_ ~s~');
    expect(p.mrkdwn).not.toMatch(slackSpan);
    expect(escapeEntities('<@U1> &amp;')).toBe('&lt;@U1&gt; &amp;amp;');
  });
});

describe('joinMd', () => {
  it('joins Md as is, with a default, a string (escaped) or an Md separator', () => {
    const parts = [md`*a*`, text('<b>'), md`${'c_d'}`];
    expect(joinMd(parts).mrkdwn).toBe(`*a*, &lt;b&gt;, c${ZWSP}_${ZWSP}d`);
    expect(joinMd(parts, ' & ').mrkdwn).toBe(`*a* &amp; &lt;b&gt; &amp; c${ZWSP}_${ZWSP}d`);
    expect(joinMd(parts, md`\n• `).mrkdwn).toBe(`*a*\n• &lt;b&gt;\n• c${ZWSP}_${ZWSP}d`);
    expect(joinMd(parts, '<!channel>').mrkdwn).not.toContain('<!channel>');
    expect(joinMd([]).mrkdwn).toBe('');
    expect(joinMd([md`x`])).toBeInstanceOf(Md);
  });
});

describe('mdSchema', () => {
  const record = z.object({ summary: mdSchema, lines: z.array(mdSchema), note: mdSchema.optional() });

  it('a JSON round trip gives Md instances with the same mrkdwn', () => {
    const original = {
      summary: md`*Register* ${'<!channel> & *x*'}`,
      lines: HOSTILE.map((v) => md`• ${v}`),
    };
    const back = record.parse(JSON.parse(JSON.stringify(original)));
    expect(back.summary).toBeInstanceOf(Md);
    expect(back.summary.mrkdwn).toBe(original.summary.mrkdwn);
    expect(back.lines).toHaveLength(original.lines.length);
    back.lines.forEach((l, i) => {
      expect(l).toBeInstanceOf(Md);
      expect(l.mrkdwn).toBe(original.lines[i]?.mrkdwn);
    });
    expect(back.note).toBeUndefined();
  });

  it('keeps an Md instance as the same object, and refuses what is neither a string nor Md', () => {
    const m = md`x`;
    expect(mdSchema.parse(m)).toBe(m);
    expect(mdSchema.safeParse(3).success).toBe(false);
    expect(mdSchema.safeParse({ mrkdwn: 'x' }).success).toBe(false);
    expect(mdSchema.safeParse(null).success).toBe(false);
  });
});

describe('raw output redaction', () => {
  it('removes private keys, password/secret/token values and Slack tokens; leaves the rest', async () => {
    const { redact } = await import('../../src/jobs/raw-output.js');
    const out = redact(
      'ok\n-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\nBBBB\n-----END OPENSSH PRIVATE KEY-----\npassword=hunter2 secret: "s 3" token=abc xoxb-123-456 end',
    );
    expect(out).not.toMatch(/AAAA|BBBB|hunter2|s 3|abc|xoxb-123/);
    expect(out).toContain('[redacted private key]');
    expect(out).toContain('password=[redacted]');
    expect(out).toContain('secret: [redacted]');
    expect(out).toContain('[redacted slack token]');
    expect(out.startsWith('ok\n')).toBe(true);
    expect(out.endsWith(' end')).toBe(true);
  });
});
