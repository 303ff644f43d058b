/**
 * The double's console HTTP contract, as the browser sees it (documented in ../README.md). Every POST
 * answers JSON `{ ok, ... }`; a transport failure or a non-JSON answer becomes `{ ok: false, error }`
 * so callers handle one shape.
 */
import type { ClusterHost, ConsoleUser } from '../../../src/slack-double/console-contract.ts';

export type { ClusterHost, ConsoleUser };

/** A Block Kit block as the bot sent it: only the fields the console reads are typed. */
export interface SlackBlock {
  type: string;
  block_id?: string;
  [field: string]: unknown;
}

export interface ConsoleMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  broadcast?: boolean;
  user: string;
  userName: string;
  text: string;
  blocks: SlackBlock[];
  replyCount: number;
  editCount: number;
  postedAt: number;
  replies?: ConsoleMessage[];
}

export interface Ephemeral {
  channel: string;
  ts: string;
  threadTs?: string;
  user: string;
  text: string;
  blocks: SlackBlock[];
  postedAt: number;
}

export interface TextObject {
  text: string;
}

export interface ViewBody {
  type: 'modal' | 'home';
  title?: TextObject;
  submit?: TextObject;
  close?: TextObject;
  blocks: SlackBlock[];
  callback_id?: string;
  private_metadata?: string;
}

export interface ConsoleView {
  id: string;
  userId: string;
  view: ViewBody;
}

export interface Cluster {
  hosts: ClusterHost[];
  modes: string[];
}

export interface ConsoleState {
  ok: true;
  version: number;
  workspace: { teamName: string; botName: string; botUserId: string };
  users: ConsoleUser[];
  channels: { id: string; name: string }[];
  messages: ConsoleMessage[];
  ephemerals: Ephemeral[];
  views: ConsoleView[];
  cluster: Cluster | null;
}

export interface ApiCall {
  seq: number;
  method: string;
  at: number;
  params: unknown;
  status: number;
  ok: boolean;
  error?: string;
}

export type Answer =
  | { ok: true; [field: string]: unknown }
  | { ok: false; error: string; [field: string]: unknown };

export type InputValues = Record<string, Record<string, string>>;

async function readAnswer(res: Response): Promise<Answer> {
  const raw = await res.text();
  try {
    const body: unknown = JSON.parse(raw);
    if (body && typeof body === 'object' && 'ok' in body) return body as Answer;
  } catch {
    // falls through: not JSON
  }
  return { ok: false, error: `HTTP ${res.status}${raw ? `: ${raw.slice(0, 200)}` : ''}` };
}

export async function post(path: string, body: Record<string, unknown>): Promise<Answer> {
  try {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return await readAnswer(res);
  } catch (err) {
    return { ok: false, error: `cannot reach the console server (${(err as Error).message})` };
  }
}

export async function getJson(path: string): Promise<Answer> {
  try {
    return await readAnswer(await fetch(path, { headers: { accept: 'application/json' } }));
  } catch (err) {
    return { ok: false, error: `cannot reach the console server (${(err as Error).message})` };
  }
}

/** The sentence to show for a failed answer: its error code, and a detail when the server gave one. */
export function describeError(a: Answer): string {
  if (a.ok) return '';
  const detail = typeof a['detail'] === 'string' ? ` (${a['detail']})` : '';
  return `${a.error}${detail}`;
}

/** Slack's rule, which the server follows too: a block without block_id is `b<index>` in its view. */
export const blockIdOf = (block: SlackBlock, index: number): string =>
  typeof block.block_id === 'string' && block.block_id !== '' ? block.block_id : `b${index}`;

export const stateUrl = (user: string | undefined) =>
  user ? `/console/state?user=${encodeURIComponent(user)}` : '/console/state';
