/** "Did you mean …?" and help for a group: pure rules, and through the bot's own parser and help. */
import { describe, expect, it } from 'vitest';
import { BUILTINS } from '../../src/bot/builtins.js';
import { helpText } from '../../src/bot/help.js';
import { parseCommandText } from '../../src/bot/parse.js';
import { createRegistry } from '../../src/core/registry.js';
import { editDistance, groupsOf, suggestCommands } from '../../src/core/suggest.js';
import { builtinPlugins } from '../../src/plugins/index.js';

const IDS = [
  'hosts',
  'register-host',
  'replace-host',
  'ocfs2 first-node',
  'ocfs2 join',
  'ocfs2 status',
  'storage status',
  'jobs',
  'job',
];

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and adjacent transpositions, ignoring case', () => {
    expect(editDistance('status', 'status')).toBe(0);
    expect(editDistance('statsu', 'status')).toBe(1);
    expect(editDistance('Hosts', 'hosts')).toBe(0);
    expect(editDistance('host', 'hosts')).toBe(1);
    expect(editDistance('regster-host', 'register-host')).toBe(1);
    expect(editDistance('abc', 'xyz')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });
});

describe('suggestCommands', () => {
  it('a typo inside a group is compared within the group', () => {
    expect(groupsOf(IDS)).toEqual(['ocfs2', 'storage']);
    expect(suggestCommands(['ocfs2', 'statsu'], IDS)).toEqual(['ocfs2 status']);
    expect(suggestCommands(['ocfs2', 'jion', 'host2'], IDS)).toEqual(['ocfs2 join']);
    // nothing close inside the group: the whole group is offered
    expect(suggestCommands(['ocfs2', 'frobnicate'], IDS)).toEqual([
      'ocfs2 first-node',
      'ocfs2 join',
      'ocfs2 status',
    ]);
  });

  it('a mistyped single word or group is compared with the first words', () => {
    expect(suggestCommands(['regster-host', 'h1'], IDS)).toEqual(['register-host']);
    expect(suggestCommands(['hots'], IDS)).toEqual(['hosts']);
    expect(suggestCommands(['ocsf2', 'status'], IDS)).toEqual(['ocfs2 status']);
    expect(suggestCommands(['storag'], IDS)).toEqual(['storage status']);
    expect(suggestCommands(['zzzzzz'], IDS)).toEqual([]);
  });
});

describe('through the bot', () => {
  const registry = createRegistry(builtinPlugins);

  it('`ocfs2 statsu` suggests `ocfs2 status` and points to the group help', () => {
    const r = parseCommandText(registry, 'ocfs2 statsu');
    expect(r.ok).toBe(false);
    const msg = r.ok ? '' : r.error.userMessage;
    expect(msg).toContain('Unknown command `ocfs2 statsu`');
    expect(msg).toContain('Did you mean `ocfs2 status`?');
    expect(msg).toContain('`/flexvdi help ocfs2` lists them');
  });

  it('`help ocfs2` lists the group with usage lines; a mistyped topic gets a suggestion', () => {
    const group = helpText(registry, BUILTINS, 'ocfs2');
    expect(group).toContain('*/flexvdi ocfs2 …* — 3 commands');
    expect(group).toContain('`/flexvdi ocfs2 status`');
    expect(group).toContain('`/flexvdi ocfs2 join');
    expect(group).toContain('`/flexvdi ocfs2 first-node');
    expect(group).not.toContain('register-host');
    const typo = helpText(registry, BUILTINS, 'ocfs2 stauts');
    expect(typo).toContain('No command `ocfs2 stauts`');
    expect(typo).toContain('`/flexvdi help ocfs2 status`');
  });
});
