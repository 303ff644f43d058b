import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseCommandText } from '../../src/bot/parse.js';
import { commandText } from '../../src/core/args.js';
import {
  type Command,
  type CommandSpec,
  defineCommand,
  definePlugin,
  NO_PINS,
  type NoDeps,
} from '../../src/core/plugin.js';
import { createRegistry } from '../../src/core/registry.js';
import { md } from '../../src/core/text.js';
import { builtinPlugins } from '../../src/plugins/index.js';

type Spec = CommandSpec<Record<string, never>, null, NoDeps>;

const cmd = (id: string, over: Partial<Spec> = {}): Command<NoDeps> =>
  defineCommand<Record<string, never>, null>({
    id,
    summary: 's',
    examples: [],
    args: z.object({}),
    positionals: [],
    mutates: false,
    access: 'anyone',
    pinned: NO_PINS,
    plan: () => ({ summary: md``, sections: [], warnings: [] }),
    steps: [{ id: 'a', title: 'a', output: z.null(), run: async () => null }],
    result: () => ({ summary: md``, sections: [] }),
    ...over,
  });

const plugin = (name: string, commands: Command<NoDeps>[]) =>
  definePlugin({ name, deps: () => ({}), commands });

describe('registry', () => {
  it('registers every shipped command, each with a summary, examples and safe access', () => {
    const r = createRegistry(builtinPlugins);
    expect(r.commands.map((c) => c.id).sort()).toEqual([
      'alerts',
      'diagnose',
      'hosts',
      'maintenance',
      'manager move-to',
      'manager start-on',
      'ocfs2 first-node',
      'ocfs2 join',
      'ocfs2 status',
      'register-host',
      'replace-host',
      'status',
      'storage create-volume',
      'storage devices',
      'storage status',
      'storage volumes',
    ]);
    for (const c of r.commands) {
      expect(r.get(c.id), c.id).toBe(c);
      expect(c.summary.length, c.id).toBeGreaterThan(10);
      expect(c.examples.length, c.id).toBeGreaterThan(0);
      if (c.mutates) expect(c.access, c.id).toBe('admin');
    }
  });

  it('parses every shipped example to its own command, and the args print back to a text that parses the same', () => {
    const r = createRegistry(builtinPlugins);
    let examples = 0;
    for (const c of r.commands) {
      for (const example of c.examples) {
        examples++;
        const parsed = parseCommandText(r, example.replace(/^\/flexvdi\s+/, ''));
        if (!parsed.ok) throw new Error(`${example}: ${parsed.error.userMessage}`);
        expect(parsed.value.kind === 'command' && parsed.value.spec.id, example).toBe(c.id);
        if (parsed.value.kind !== 'command') continue;
        // the Edit modal's way back from args to a command text (src/bot/edit.ts)
        const args = z.record(z.unknown()).parse(parsed.value.args);
        const again = parseCommandText(r, commandText(c, args));
        expect(again.ok && again.value.kind === 'command' && again.value.args, example).toEqual(args);
      }
    }
    expect(examples).toBeGreaterThanOrEqual(r.commands.length);
  });
  it('rejects duplicate command ids with a coded error naming both plugins', () => {
    expect(() => createRegistry([plugin('a', [cmd('x')]), plugin('b', [cmd('x')])])).toThrow(
      expect.objectContaining({
        code: 'registry.duplicate_command',
        message: expect.stringContaining('plugin "a"'),
      }),
    );
    expect(() => createRegistry([plugin('a', [cmd('x')]), plugin('b', [cmd('x')])])).toThrow(/plugin "b"/);
  });
  it('rejects a plugin registered twice', () => {
    const p = plugin('a', [cmd('x')]);
    expect(() => createRegistry([p, p])).toThrow(
      expect.objectContaining({ code: 'registry.duplicate_command' }),
    );
  });
  it('rejects a command that shadows a built-in, a missing dependency, a mutating command open to anyone', () => {
    expect(() => createRegistry([plugin('a', [cmd('jobs')])])).toThrow(
      expect.objectContaining({ code: 'registry.duplicate_command' }),
    );
    const ghost = plugin('ghost', [cmd('boo')]);
    const dependant = definePlugin({ name: 'a', dependsOn: [ghost], deps: () => ({}), commands: [cmd('x')] });
    expect(() => createRegistry([dependant])).toThrow(
      expect.objectContaining({
        code: 'registry.invalid_command',
        message: expect.stringContaining('"ghost"'),
      }),
    );
    expect(() => createRegistry([ghost, dependant])).not.toThrow();
    expect(() => createRegistry([plugin('a', [cmd('x', { mutates: true })])])).toThrow(/must be "admin"/);
    expect(() => createRegistry([plugin('a', [cmd('x', { steps: [] })])])).toThrow(/no steps/);
    expect(() => createRegistry([plugin('a', [cmd('Bad Id')])])).toThrow(/lower-case/);
  });
  it('rejects duplicate step ids within a command', () => {
    const s = { id: 'a', title: 'a', output: z.null(), run: async () => null };
    expect(() => createRegistry([plugin('a', [cmd('x', { steps: [s, s] })])])).toThrow(/duplicate step ids/);
  });
  it('matches the longest command id and exposes each command’s info', () => {
    const one = cmd('ocfs2');
    const two = cmd('ocfs2 join');
    const r = createRegistry([plugin('a', [one, two])]);
    expect(r.match(['ocfs2', 'join', 'h2'])).toEqual({ spec: two.info, rest: ['h2'] });
    expect(r.match(['OCFS2', 'status'])).toEqual({ spec: one.info, rest: ['status'] });
    expect(r.commands).toEqual([one.info, two.info]);
  });
});
