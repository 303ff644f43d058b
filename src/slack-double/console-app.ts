/**
 * The browser console's delivery: its built page and assets (web/console, built by Vite into dist/console
 * by the set-up) and a Server-Sent Events stream that says "something changed" so the page refetches its
 * state: edits show in place and new thread replies appear without a reload.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterPanel } from './console-state.js';
import type { SlackStore } from './store.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/**
 * Where the built console is: dist/console of this checkout, found from this file whether it runs built
 * (dist/src/slack-double) or from source (src/slack-double, under tsx or vitest).
 */
export function consoleDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = path.resolve(here, '..', '..');
  const found = [path.join(up, 'console'), path.join(up, 'dist', 'console')].find((d) =>
    existsSync(path.join(d, 'index.html')),
  );
  return found;
}

/** Serves the page at `/` and its files at `/console/app/<file>`; false when there is no built console. */
export function serveConsoleFile(
  dir: string | undefined,
  urlPath: string,
  res: http.ServerResponse,
): boolean {
  if (!dir) return false;
  const rel = urlPath === '/' ? 'index.html' : urlPath.slice('/console/app/'.length);
  const file = path.resolve(dir, rel);
  if (!file.startsWith(dir + path.sep) || !statSync(file, { throwIfNoEntry: false })?.isFile()) return false;
  const body = readFileSync(file);
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'content-length': body.length,
    'cache-control': rel === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable',
  });
  res.end(body);
  return true;
}

/** How often the cluster's state is read while a page listens (the testbed has no change feed). */
const CLUSTER_POLL_MS = 2000;
/** Changes within this window make one event (a job's progress edits come in bursts). */
const COALESCE_MS = 100;

/**
 * `GET /console/events`: `event: change` with the store's version after every change (coalesced), and after
 * a change of the cluster's state in demo mode; ends when the page goes away.
 */
export function serveConsoleEvents(
  store: SlackStore,
  cluster: ClusterPanel | undefined,
  res: http.ServerResponse,
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  let seq = 0;
  const send = () => {
    seq += 1;
    res.write(`event: change\ndata: ${JSON.stringify({ version: store.version, seq })}\n\n`);
  };
  res.write('retry: 2000\n\n');
  send();
  let pending: NodeJS.Timeout | undefined;
  const off = store.onChange(() => {
    pending ??= setTimeout(() => {
      pending = undefined;
      send();
    }, COALESCE_MS);
  });
  let lastCluster = '';
  const poll = cluster
    ? setInterval(() => {
        cluster.status().then(
          (s) => {
            const now = JSON.stringify(s);
            if (lastCluster && now !== lastCluster) send();
            lastCluster = now;
          },
          () => undefined, // a failed read is shown by the next state fetch
        );
      }, CLUSTER_POLL_MS)
    : undefined;
  // The request was read to its end before routing (its 'close' has fired): the response closes with the page.
  res.on('close', () => {
    off();
    clearTimeout(pending);
    clearInterval(poll);
  });
}
