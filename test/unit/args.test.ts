import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseCommandText } from '../../src/bot/parse.js';
import { ipv4 } from '../../src/config.js';
import { parseArgs, tokenize, unescapeSlack, usage } from '../../src/core/args.js';
import { defineCommand } from '../../src/core/plugin.js';
import { createRegistry } from '../../src/core/registry.js';

const spec = defineCommand({
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
  plan: () => ({ summary: '', sections: [], warnings: [] }),
  steps: [{ id: 'x', title: 'x', run: async () => null }],
  result: () => ({ summary: '', sections: [] }),
});

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
});

describe('parseCommandText', () => {
  const registry = createRegistry([{ name: 'p', commands: [spec] }]);
  it('matches built-ins, plugin commands (case-insensitively) and refuses unknown ones', () => {
    const b = parseCommandText(registry, 'jobs');
    expect(b.ok && b.value.kind).toBe('builtin');
    const c = parseCommandText(registry, 'Register-Host h.example.com 10.1.1.1');
    expect(c.ok && c.value.kind).toBe('command');
    const u = parseCommandText(registry, 'regster-host x');
    expect(!u.ok && u.error.userMessage).toContain('Unknown command `regster-host`');
    expect(!u.ok && u.error.userMessage).toContain('Did you mean `register-host`');
    const empty = parseCommandText(registry, '   ');
    expect(empty.ok && empty.value.kind === 'builtin' && empty.value.id).toBe('help');
  });
});
