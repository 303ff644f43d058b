/**
 * "Did you mean …?" for mistyped commands: command ids are one or two words (`hosts`, `ocfs2 status`); a
 * group is the first word of two-word ids (`ocfs2`, `storage`). Pure, so every rule is a unit test.
 */

/** Optimal string alignment distance (Damerau–Levenshtein with adjacent transpositions), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) =>
    Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const row = d[i]!;
      const up = d[i - 1]!;
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      row[j] = Math.min(up[j]! + 1, row[j - 1]! + 1, up[j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1])
        row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[s.length]![t.length]!;
}

/** Close enough to be a typo: ≤ 1 edit for short words, ≤ 2 from 5 letters on, or a 3-letter prefix. */
function close(typed: string, word: string): boolean {
  const limit = word.length >= 5 ? 2 : 1;
  return editDistance(typed, word) <= limit || (typed.length >= 3 && word.startsWith(typed.toLowerCase()));
}

/** The groups among the command ids: first words of multi-word ids. */
export function groupsOf(ids: readonly string[]): string[] {
  return [...new Set(ids.filter((id) => id.includes(' ')).map((id) => id.split(' ')[0] ?? ''))];
}

/**
 * The ids the user probably meant by `words` (the words typed, none of which matched a command). Inside a
 * known group (`ocfs2 statsu`) the second word is compared within that group; otherwise the first word is
 * compared with every id's first word (and a mistyped group, `ocsf2 status`, with the groups).
 */
export function suggestCommands(words: readonly string[], ids: readonly string[]): string[] {
  const [first = '', second = ''] = words.map((w) => w.toLowerCase());
  const groups = groupsOf(ids);
  if (groups.includes(first)) {
    const inGroup = ids.filter((id) => id.startsWith(`${first} `));
    const near = inGroup.filter((id) => second && close(second, id.split(' ')[1] ?? ''));
    return near.length ? near : inGroup;
  }
  const byFirst = ids.filter((id) => close(first, id.split(' ')[0] ?? ''));
  if (second) {
    const exact = byFirst.filter((id) => id.split(' ')[1] === second);
    if (exact.length) return exact;
  }
  return byFirst;
}

/** Two names that differ only in their digits (`host9`, `host1`) are two Hosts, not a typo. */
const digitsOnly = (a: string, b: string): boolean =>
  a !== b && a.replace(/\d/g, '') === b.replace(/\d/g, '');

/**
 * The inventory names close to a Host name that matched none (`hots2` → `host2`): compared with each Host's
 * name and with the first label of its FQDN; the closest ones only, at most three. A name that differs only in
 * its digits is another Host, never suggested.
 */
export function closeHostNames(typed: string, hosts: readonly { name: string; fqdn: string }[]): string[] {
  const t = typed.toLowerCase();
  const first = t.split('.')[0] ?? t;
  const scored = hosts.flatMap((h) => {
    const name = h.name.toLowerCase();
    const label = h.fqdn.toLowerCase().split('.')[0] ?? '';
    if (digitsOnly(first, name) || digitsOnly(first, label)) return [];
    const d = Math.min(editDistance(first, name), editDistance(first, label), editDistance(t, h.fqdn));
    return d <= (first.length >= 5 ? 2 : 1) ? [{ name: h.name, d }] : [];
  });
  // The closest only: `hots2` is a typo of host2, not of host1 as well.
  const best = Math.min(...scored.map((s) => s.d));
  return scored
    .filter((s) => s.d === best)
    .sort((a, b) => a.name.localeCompare(b.name))
    .slice(0, 3)
    .map((s) => s.name);
}
