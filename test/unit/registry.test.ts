import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type AnyCommand, defineCommand } from '../../src/core/plugin.js';
import { createRegistry } from '../../src/core/registry.js';
import { builtinPlugins } from '../../src/plugins/index.js';

const cmd = (id: string, over: Partial<AnyCommand> = {}): AnyCommand =>
  ({
    ...defineCommand({
      id,
      summary: 's',
      examples: [],
      args: z.object({}),
      positionals: [],
      mutates: false,
      access: 'anyone',
      plan: () => ({ summary: '', sections: [], warnings: [] }),
      steps: [{ id: 'a', title: 'a', run: async () => null }],
      result: () => ({ summary: '', sections: [] }),
    }),
    ...over,
  }) as AnyCommand;

describe('registry', () => {
  it('registers the shipped plugins', () => {
    const r = createRegistry(builtinPlugins);
    expect(r.get('hosts')?.id).toBe('hosts');
  });
  it('rejects duplicate command ids with a coded error naming both plugins', () => {
    expect(() =>
      createRegistry([
        { name: 'a', commands: [cmd('x')] },
        { name: 'b', commands: [cmd('x')] },
      ]),
    ).toThrow(
      expect.objectContaining({
        code: 'registry.duplicate_command',
        message: expect.stringContaining('plugin "a"'),
      }),
    );
  });
  it('rejects a command that shadows a built-in, a missing dependency, a mutating command open to anyone', () => {
    expect(() => createRegistry([{ name: 'a', commands: [cmd('jobs')] }])).toThrow(
      expect.objectContaining({ code: 'registry.duplicate_command' }),
    );
    expect(() => createRegistry([{ name: 'a', commands: [cmd('x')], dependsOn: ['ghost'] }])).toThrow(
      expect.objectContaining({ code: 'registry.invalid_command' }),
    );
    expect(() => createRegistry([{ name: 'a', commands: [cmd('x', { mutates: true })] }])).toThrow(
      /must be "admin"/,
    );
    expect(() => createRegistry([{ name: 'a', commands: [cmd('x', { steps: [] })] }])).toThrow(/no steps/);
    expect(() => createRegistry([{ name: 'a', commands: [cmd('Bad Id')] }])).toThrow(/lower-case/);
  });
});
