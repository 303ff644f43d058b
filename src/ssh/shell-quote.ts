/**
 * Quoting for the remote POSIX shell (sshd runs every command as `$SHELL -c '<command>'`; root's shell on
 * flexVDI Hosts is bash). Single quotes make every character literal, newlines included; a single quote
 * itself is closed, escaped and reopened (`'\''`). NUL cannot travel in an argv and is refused.
 */
/** Words made only of these need no quotes (no `=`: a leading `A=b` word would be an assignment). */
const SAFE = /^[A-Za-z0-9_@%+:,./-]+$/;

export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new TypeError('shellQuote: argument contains a NUL byte');
  if (SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** An argv as one command line for the remote shell: each word quoted, joined by spaces. */
export function shellJoin(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError('shellJoin: empty argv');
  return argv.map(shellQuote).join(' ');
}
