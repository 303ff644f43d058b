import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { BotContext } from '../../src/bot/context.js';
import { parseCommandText } from '../../src/bot/parse.js';
import { ipv4 } from '../../src/config.js';
import { commandText, parseArgs, quoteToken, tokenize, unescapeSlack, usage } from '../../src/core/args.js';
import { defineCommand, definePlugin, NO_PINS } from '../../src/core/plugin.js';
import { createRegistry } from '../../src/core/registry.js';
import { md } from '../../src/core/text.js';

const command = defineCommand({
  id: 'register-host',
  summary: 's',
  examples: [],
  args: z
    .object({
      fqdn: z.string().regex(/^[a-z0-9.-]+$/, 'must be a FQDN'),
      ip: ipv4,
      maxNodes: z.number().int().max(255).optional(),
      force: z.boolean().default(false),
    })
    .strict(),
  positionals: ['fqdn', 'ip'],
  mutates: true,
  access: 'admin',
  pinned: NO_PINS,
  plan: () => ({ summary: md``, sections: [], warnings: [] }),
  steps: [{ id: 'x', title: 'x', output: z.null(), run: async () => null }],
  result: () => ({ summary: md``, sections: [] }),
});
const spec = command.info;

/** A stand-in for the OCFS2 plugin's two-word command (the real plugin is not needed to parse). */
const join = defineCommand({
  id: 'ocfs2 join',
  summary: 'Join a Host to the OCFS2 cluster',
  examples: ['/flexvdi ocfs2 join host2'],
  args: z.object({ host: z.string(), firstNode: z.string().optional() }).strict(),
  positionals: ['host'],
  mutates: true,
  access: 'admin',
  pinned: NO_PINS,
  plan: () => ({ summary: md``, sections: [], warnings: [] }),
  steps: [{ id: 'x', title: 'x', output: z.null(), run: async () => null }],
  result: () => ({ summary: md``, sections: [] }),
});

const registry = createRegistry([definePlugin({ name: 'p', deps: () => ({}), commands: [command, join] })]);

describe('tokenize', () => {
  it('splits on whitespace and keeps quoted text together, smart quotes included', () => {
    expect(tokenize('a  "b c" \'d e\' “f g”')).toEqual({ ok: true, value: ['a', 'b c', 'd e', 'f g'] });
    expect(tokenize('a "b').ok).toBe(false);
  });
  it("undoes Slack's escaping and auto-links", () => {
    expect(unescapeSlack('<http://host1.example.com|host1.example.com> &lt;x&gt; &amp;')).toBe(
      'host1.example.com <x> &',
    );
    expect(unescapeSlack('<@U123|bob> <#C1|ops>')).toBe('U123 C1');
  });
});

describe('parseArgs', () => {
  it('maps positionals and kebab-case flags onto the schema, coercing numbers and booleans', () => {
    const r = parseArgs(spec, ['h4.example.com', '10.0.0.4', '--max-nodes', '8', '--force']);
    expect(r).toEqual({
      ok: true,
      value: { fqdn: 'h4.example.com', ip: '10.0.0.4', maxNodes: 8, force: true },
    });
    expect(parseArgs(spec, ['h4.example.com', '10.0.0.4', '--max-nodes=9']).ok).toBe(true);
  });
  it('names the bad field and shows the usage line', () => {
    const r = parseArgs(spec, ['h4.example.com', 'fe80::1']);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.userMessage).toContain('`ip`: must be an IPv4 address');
      expect(r.error.userMessage).toContain(
        'Usage: `/flexvdi register-host <fqdn> <ip> [--max-nodes N] [--force]`',
      );
    }
    const missing = parseArgs(spec, ['h4.example.com']);
    expect(!missing.ok && missing.error.userMessage).toContain('`ip`: is required');
    const extra = parseArgs(spec, ['a', '10.0.0.1', 'extra']);
    expect(!extra.ok && extra.error.userMessage).toContain('unexpected argument `extra`');
    const big = parseArgs(spec, ['a', '10.0.0.1', '--max-nodes', '300']);
    expect(!big.ok && big.error.userMessage).toContain('`max-nodes`');
    const noValue = parseArgs(spec, ['a', '10.0.0.1', '--max-nodes']);
    expect(!noValue.ok && noValue.error.userMessage).toContain('needs a value');
  });
  it('usage is generated from the schema', () => {
    expect(usage(spec)).toBe('/flexvdi register-host <fqdn> <ip> [--max-nodes N] [--force]');
  });
  it('a plugin command’s info is what the parser reads (the same object as the registry’s)', () => {
    expect(registry.get('register-host')).toBe(spec);
  });
});

describe('parseCommandText', () => {
  it('matches built-ins, plugin commands (case-insensitively) and refuses unknown ones', () => {
    const b = parseCommandText(registry, 'jobs');
    expect(b.ok && b.value.kind).toBe('builtin');
    const c = parseCommandText(registry, 'Register-Host h.example.com 10.1.1.1');
    expect(c.ok && c.value.kind).toBe('command');
    expect(c.ok && c.value.kind === 'command' && c.value.spec).toBe(spec);
    expect(c.ok && c.value.kind === 'command' && c.value.args).toEqual({
      fqdn: 'h.example.com',
      ip: '10.1.1.1',
      force: false,
    });
    const u = parseCommandText(registry, 'regster-host x');
    expect(!u.ok && u.error.userMessage).toContain('Unknown command `regster-host`');
    expect(!u.ok && u.error.userMessage).toContain('Did you mean `register-host`');
    const empty = parseCommandText(registry, '   ');
    expect(empty.ok && empty.value.kind === 'builtin' && empty.value.builtin.info.id).toBe('help');
  });

  it('refuses `--__proto__` and `--constructor` on a plugin command as unknown options', () => {
    for (const flag of ['--__proto__', '--constructor', '--to-string', '--has-own-property']) {
      const r = parseCommandText(registry, `register-host h.example.com 10.1.1.1 ${flag} x`);
      expect(r.ok, flag).toBe(false);
      expect(!r.ok && r.error.code).toBe('args.invalid');
      expect(!r.ok && r.error.userMessage).toContain(`unknown option \`${flag}\``);
      expect(!r.ok && r.error.userMessage).toContain('Usage: `/flexvdi register-host');
    }
    const eq = parseCommandText(registry, 'register-host h.example.com 10.1.1.1 --__proto__={"polluted":1}');
    expect(eq.ok).toBe(false);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('built-ins through parseCommandText', () => {
  const failure = (text: string) => {
    const r = parseCommandText(registry, text);
    expect(r.ok, text).toBe(false);
    return r.ok ? '' : r.error.userMessage;
  };

  it('`audit 1.5` and `audit 0` are refused, naming `count` and showing the usage line', () => {
    const frac = failure('audit 1.5');
    expect(frac).toContain('`count`');
    expect(frac).toContain('Usage: `/flexvdi audit [<count>]`');
    const zero = failure('audit 0');
    expect(zero).toContain('`count`');
    expect(zero).toContain('Usage: `/flexvdi audit [<count>]`');
    expect(failure('audit 101')).toContain('`count`');
    const fine = parseCommandText(registry, 'audit 50');
    expect(fine.ok && fine.value.kind === 'builtin' && fine.value.builtin.info.id).toBe('audit');
  });

  it('`job x` is refused, naming `id`', () => {
    const m = failure('job x');
    expect(m).toContain('`id`');
    expect(m).toContain('Usage: `/flexvdi job <id> [--host HOST]`');
    expect(failure('job')).toContain('`id`: is required');
    const fine = parseCommandText(registry, 'job J-3K9X0A1B2C');
    expect(fine.ok && fine.value.kind === 'builtin' && fine.value.builtin.info.id).toBe('job');
  });

  it('`help ocfs2 join` parses with topic "ocfs2 join" (the rest positional takes every word)', async () => {
    const r = parseCommandText(registry, 'help ocfs2 join');
    expect(r.ok).toBe(true);
    if (!r.ok || r.value.kind !== 'builtin') throw new Error('not a builtin');
    expect(r.value.builtin.info.id).toBe('help');
    expect(r.value.text).toBe('help ocfs2 join');
    // help reads only the registry: the answer for topic "ocfs2 join" is that command's help.
    const ctx = { registry } as unknown as BotContext;
    const answer = await r.value.answer({ ctx, user: 'U1', channel: 'C1' });
    expect(answer).toContain('*/flexvdi ocfs2 join* — Join a Host to the OCFS2 cluster');
    expect(answer).toContain('Usage: `/flexvdi ocfs2 join <host> [--first-node FIRST_NODE]`');
    const bare = parseCommandText(registry, 'help');
    if (!bare.ok || bare.value.kind !== 'builtin') throw new Error('not a builtin');
    expect(await bare.value.answer({ ctx, user: 'U1', channel: 'C1' })).toContain(
      '*flexVDI cluster commands*',
    );
  });

  it('built-ins refuse unknown options too', () => {
    expect(failure('jobs --__proto__ x')).toContain('unknown option');
    expect(failure('audit --constructor 1')).toContain('unknown option');
  });
});

describe('commandText: args back to a command text (the Edit modal), read back by the parser', () => {
  const edited = defineCommand({
    id: 'ocfs2 first-node',
    summary: 's',
    examples: [],
    args: z
      .object({
        host: z.string(),
        clusterName: z.string().optional(),
        maxNodes: z.number().int().optional(),
        reserve: z.string().optional(),
        force: z.boolean().default(false),
      })
      .strict(),
    positionals: ['host'],
    mutates: true,
    access: 'admin',
    pinned: NO_PINS,
    plan: () => ({ summary: md``, sections: [], warnings: [] }),
    steps: [{ id: 'x', title: 'x', output: z.null(), run: async () => null }],
    result: () => ({ summary: md``, sections: [] }),
  }).info;

  const roundTrip = (args: Record<string, unknown>) => {
    const text = commandText(edited, args);
    const tokens = tokenize(text);
    if (!tokens.ok) throw new Error(`${text}: ${tokens.error.userMessage}`);
    expect(tokens.value.slice(0, 2)).toEqual(['ocfs2', 'first-node']);
    const back = parseArgs(edited, tokens.value.slice(2));
    if (!back.ok) throw new Error(`${text}: ${back.error.userMessage}`);
    return { text, back: back.value };
  };

  it('writes plain values bare, flags in kebab case, true booleans bare and false ones not at all', () => {
    const args = {
      host: 'host1',
      clusterName: 'fvdi',
      maxNodes: 8,
      reserve: 'host5=10.0.0.15,host6=10.0.0.16',
      force: true,
    };
    const { text, back } = roundTrip(args);
    expect(text).toBe(
      'ocfs2 first-node host1 --cluster-name fvdi --max-nodes 8 --reserve host5=10.0.0.15,host6=10.0.0.16 --force',
    );
    expect(back).toEqual(args);
    expect(roundTrip({ host: 'host1', force: false })).toEqual({
      text: 'ocfs2 first-node host1',
      back: { host: 'host1', force: false },
    });
  });

  it('quotes what the tokenizer would split or strip: spaces, both quote kinds, Slack’s curly quotes, empty', () => {
    for (const v of [
      'two words',
      'tab\there',
      `it's`,
      'say "hi"',
      `both " and ' in one`,
      '“curly”',
      '‘single’ curly',
      '"',
      "'",
      '',
    ]) {
      const { back } = roundTrip({ host: 'host1', clusterName: v, force: false });
      expect(back, JSON.stringify(v)).toEqual({ host: 'host1', clusterName: v, force: false });
    }
    expect(quoteToken('plain-value_1.2')).toBe('plain-value_1.2');
    expect(quoteToken(`a"b`)).toBe(`"a"'"'"b"`);
  });
});
