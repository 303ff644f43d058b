/**
 * The Slack app manifests (slack/manifest.http.yaml, slack/manifest.socket.yaml) against the code: the slash
 * command the bot registers, the HTTP receiver's path, the events it handles, and a bot scope for every Web
 * API method the product calls — found by scanning src/, so a new call without its scope fails here rather
 * than with `missing_scope` in a real workspace — and no scope beyond them (least privilege).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { WebClient } from '@slack/web-api';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';

const root = path.resolve(import.meta.dirname, '../..');
const rel = (f: string) => path.relative(root, f).split(path.sep).join('/');

/**
 * The bot token scopes each Web API method needs, as docs.slack.dev/reference/methods/<method> lists them
 * ("Scopes"); one of them is enough (the history scopes go by the channel's type: channels:history for a
 * public channel, groups:history for a private one); [] for "No scopes required". A method the product
 * calls that is missing here fails the test: add it with its scopes, and the scope to both manifests.
 */
const METHOD_SCOPES: Readonly<Record<string, readonly string[]>> = {
  'auth.test': [],
  'chat.postEphemeral': ['chat:write'],
  'chat.postMessage': ['chat:write'],
  'chat.update': ['chat:write'],
  'conversations.history': ['channels:history', 'groups:history'],
  'conversations.replies': ['channels:history', 'groups:history'],
  'views.open': [],
  'views.publish': [],
};
/** Scopes that features of the manifest need rather than methods, and what the scope's comment names. */
const FEATURE_SCOPES: Readonly<Record<string, string>> = { commands: '/flexvdi' };

const manifestSchema = z.object({
  display_information: z.object({ name: z.string().min(1) }),
  features: z.object({
    app_home: z.object({ home_tab_enabled: z.boolean(), messages_tab_enabled: z.boolean().optional() }),
    bot_user: z.object({ display_name: z.string().min(1) }),
    slash_commands: z.array(z.object({ command: z.string(), url: z.string().optional() })),
  }),
  oauth_config: z.object({ scopes: z.object({ bot: z.array(z.string()) }) }),
  settings: z.object({
    event_subscriptions: z.object({ request_url: z.string().optional(), bot_events: z.array(z.string()) }),
    interactivity: z.object({ is_enabled: z.boolean(), request_url: z.string().optional() }),
    socket_mode_enabled: z.boolean(),
  }),
});
type Manifest = z.infer<typeof manifestSchema>;

const VARIANTS = ['http', 'socket'] as const;
const text = (v: (typeof VARIANTS)[number]) =>
  readFileSync(path.join(root, `slack/manifest.${v}.yaml`), 'utf8');
const manifests = Object.fromEntries(
  VARIANTS.map((v) => [v, manifestSchema.parse(parse(text(v)))]),
) as Record<(typeof VARIANTS)[number], Manifest>;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : p.endsWith('.ts') ? [p] : [];
  });
}
/** The product's sources: not the Slack double (it is Slack's side) nor the testbed, which never call Slack. */
const sources = filesUnder(path.join(root, 'src'))
  .map((f) => ({ file: rel(f), src: readFileSync(f, 'utf8') }))
  .filter(({ file }) => !file.startsWith('src/slack-double/') && !file.startsWith('src/testbed/'));

/** A Web API client that is never used: only its method tree, to tell `x.chat.update(` from `x.pins.get(`. */
const webApi = new WebClient();
function isWebApiMethod(method: string): boolean {
  let node: unknown = webApi;
  for (const part of method.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  return typeof node === 'function';
}

/**
 * The Web API methods a source text calls: any property chain ending in a call (`slack.chat.postMessage(`,
 * also split over lines, `app.client.auth\n  .test()`) whose tail is a method of the Web API client, and
 * `apiCall('…')`. Not caught: a family taken out of the client first (`const { chat } = client`).
 */
function webApiCalls(src: string): { method: string; line: number }[] {
  const lineOf = (i: number) => src.slice(0, i).split('\n').length;
  const calls: { method: string; line: number }[] = [];
  for (const m of src.matchAll(/\.\s*([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)+)\s*\(/g)) {
    const parts = m[1]!.split('.').map((p) => p.trim());
    for (let i = 0; i < parts.length - 1; i++) {
      const method = parts.slice(i).join('.');
      if (isWebApiMethod(method)) {
        calls.push({ method, line: lineOf(m.index) });
        break;
      }
    }
  }
  for (const m of src.matchAll(/\bapiCall\(\s*['"`]([\w.]+)['"`]/g))
    calls.push({ method: m[1]!, line: lineOf(m.index) });
  return calls;
}

const calls = sources.flatMap(({ file, src }) => webApiCalls(src).map((c) => ({ ...c, file })));
const called = [...new Set(calls.map((c) => c.method))].sort();

/** What a manifest lacks for `methods`: one line per method none of whose scopes it grants. */
function missingScopes(methods: readonly string[], granted: readonly string[]): string[] {
  return methods.flatMap((m) => {
    const needs = METHOD_SCOPES[m];
    if (!needs)
      return [`${m}: not in METHOD_SCOPES (look its scopes up on docs.slack.dev/reference/methods/${m})`];
    return needs.length === 0 || needs.some((s) => granted.includes(s))
      ? []
      : [`${m}: needs ${needs.join(' or ')}`];
  });
}

/** The slash command matchers the bot registers (`app.command(/^\/flexvdi/` or `app.command('/flexvdi'`). */
const commandMatchers = sources.flatMap(({ src }) =>
  [...src.matchAll(/\bapp\.command\(\s*(?:\/((?:\\.|[^/\\\n])+)\/([a-z]*)|'([^']+)')/g)].map((m) =>
    m[3] !== undefined
      ? new RegExp(`^${m[3].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`)
      : new RegExp(m[1]!, m[2]),
  ),
);
const appSrc = readFileSync(path.join(root, 'src/bot/app.ts'), 'utf8');
/** The HTTP receiver's endpoints (`new HTTPReceiver({ endpoints: ['/slack/events'] … })`). */
const receiverPaths = [...(appSrc.match(/endpoints:\s*\[([^\]]*)\]/)?.[1] ?? '').matchAll(/'([^']+)'/g)].map(
  (m) => m[1]!,
);
/** The events the bot subscribes to with `app.event('…'`. */
const handledEvents = [
  ...new Set(
    sources.flatMap(({ src }) => [...src.matchAll(/\bapp\.event\(\s*'([^']+)'/g)].map((m) => m[1]!)),
  ),
].sort();
const hasInteractivity = sources.some(({ src }) => /\bapp\.(action|view|shortcut|options)\b/.test(src));

/** Every URL-valued key in a manifest, with where it is. */
function urlsOf(node: unknown, at = ''): { at: string; url: string }[] {
  if (Array.isArray(node)) return node.flatMap((n, i) => urlsOf(n, `${at}[${i}]`));
  if (node && typeof node === 'object')
    return Object.entries(node).flatMap(([k, v]) =>
      (k === 'url' || k === 'request_url') && typeof v === 'string'
        ? [{ at: `${at}.${k}`, url: v }]
        : urlsOf(v, `${at}.${k}`),
    );
  return [];
}

describe('the source scan', () => {
  it('finds calls however they are written, and only Web API methods', () => {
    const src = [
      'await this.d.slack.chat.postMessage({ channel });',
      'await client.chat',
      '  .postEphemeral({ channel, user, text });',
      'void app.client.auth',
      '  .test()',
      "await client.apiCall('users.info', { user });",
      'await receiver.client.apps.connections.open();',
      'const x = c.pins.get(h.name) ?? [...views.map((v) => v)];',
      '// calls chat.postMessage (see below)',
    ].join('\n');
    expect(webApiCalls(src)).toEqual([
      { method: 'chat.postMessage', line: 1 },
      { method: 'chat.postEphemeral', line: 2 },
      { method: 'auth.test', line: 4 },
      { method: 'apps.connections.open', line: 7 },
      { method: 'users.info', line: 6 },
    ]);
  });

  it('finds the calls the product is known to make (the scan is not vacuous)', () => {
    for (const m of [
      'chat.postMessage',
      'chat.update',
      'views.publish',
      'views.open',
      'conversations.history',
    ])
      expect(called, m).toContain(m);
  });

  it('reports a method called without its scope, and one missing from the table', () => {
    expect(missingScopes(['chat.postMessage', 'views.open'], ['commands'])).toEqual([
      'chat.postMessage: needs chat:write',
    ]);
    expect(missingScopes(['example.notInTheTable'], ['chat:write'])).toEqual([
      'example.notInTheTable: not in METHOD_SCOPES (look its scopes up on docs.slack.dev/reference/methods/example.notInTheTable)',
    ]);
  });
});

describe('the scope table', () => {
  it('has every Web API method src/ calls, and none it does not', () => {
    const unknown = calls
      .filter((c) => !(c.method in METHOD_SCOPES))
      .map((c) => `${c.file}:${c.line} ${c.method}`);
    expect(unknown, 'called in src/ but not in METHOD_SCOPES').toEqual([]);
    expect(
      Object.keys(METHOD_SCOPES).filter((m) => !called.includes(m)),
      'in METHOD_SCOPES, called nowhere',
    ).toEqual([]);
  });
});

describe.each(VARIANTS)('slack/manifest.%s.yaml', (variant) => {
  const m = manifests[variant];
  const scopes = m.oauth_config.scopes.bot;

  it('has a bot scope for every Web API method the product calls', () => {
    expect(missingScopes(called, scopes)).toEqual([]);
  });

  it('has no scope beyond what the called methods and its features need (least privilege)', () => {
    const needed = new Set([
      ...called.flatMap((c) => METHOD_SCOPES[c] ?? []),
      ...Object.keys(FEATURE_SCOPES),
    ]);
    expect(scopes.filter((s) => !needed.has(s))).toEqual([]);
    expect(new Set(scopes).size).toBe(scopes.length);
  });

  it("names, next to each scope, the methods that need it (so the comments can't go stale)", () => {
    const lines = text(variant).split('\n');
    for (const s of scopes) {
      const comment = lines.find((l) => l.trim().startsWith(`- ${s} `))?.split('#')[1] ?? '';
      const wanted =
        s in FEATURE_SCOPES ? [FEATURE_SCOPES[s]!] : called.filter((c) => METHOD_SCOPES[c]?.includes(s));
      expect(wanted.length, `${s}: needed by nothing`).toBeGreaterThan(0);
      for (const w of wanted) expect(comment, `the comment of ${s}`).toContain(w);
    }
  });

  it('registers the slash command the bot listens to, and only it', () => {
    expect(commandMatchers.length).toBeGreaterThan(0);
    expect(m.features.slash_commands.map((c) => c.command)).toEqual(['/flexvdi']);
    for (const c of m.features.slash_commands)
      expect(
        commandMatchers.some((re) => re.test(c.command)),
        `${c.command} vs ${commandMatchers.join(', ')}`,
      ).toBe(true);
    expect(scopes).toContain('commands');
  });

  it('subscribes to exactly the events the bot handles', () => {
    expect(handledEvents).toContain('app_home_opened');
    expect([...m.settings.event_subscriptions.bot_events].sort()).toEqual(handledEvents);
  });

  it('enables the Home tab the bot publishes, interactivity for its buttons and modals', () => {
    expect(m.features.app_home.home_tab_enabled).toBe(called.includes('views.publish'));
    expect(m.settings.interactivity.is_enabled).toBe(hasInteractivity);
  });

  it('names the bot as its messages do ("/invite @flexvdi")', () => {
    const invites = new Set(
      sources.flatMap(({ src }) => [...src.matchAll(/\/invite @([\w.-]+)/g)].map((x) => x[1]!)),
    );
    expect([...invites]).toEqual([m.features.bot_user.display_name]);
  });
});

describe('the two variants', () => {
  it('HTTP: every request URL is https://YOUR-HOST plus the receiver path, Socket Mode off', () => {
    const m = manifests.http;
    expect(receiverPaths).toEqual(['/slack/events']);
    const urls = urlsOf(m);
    expect(urls.map((u) => u.at).sort()).toEqual([
      '.features.slash_commands[0].url',
      '.settings.event_subscriptions.request_url',
      '.settings.interactivity.request_url',
    ]);
    for (const { at, url } of urls) {
      expect(url.endsWith(receiverPaths[0]!), at).toBe(true);
      expect(new URL(url).protocol, at).toBe('https:');
      expect(url, at).toBe(`https://YOUR-HOST${receiverPaths[0]}`);
    }
    expect(m.settings.socket_mode_enabled).toBe(false);
  });

  it('Socket Mode: enabled, and no request URL anywhere', () => {
    expect(manifests.socket.settings.socket_mode_enabled).toBe(true);
    expect(urlsOf(manifests.socket)).toEqual([]);
  });

  it('differ in nothing else', () => {
    const strip = (v: (typeof VARIANTS)[number]) =>
      JSON.parse(
        JSON.stringify(parse(text(v)), (k, val: unknown) =>
          k === 'url' || k === 'request_url' || k === 'socket_mode_enabled' ? undefined : val,
        ),
      ) as unknown;
    expect(strip('socket')).toEqual(strip('http'));
  });
});
