/** Small node:http helpers for the double: bounded body reading, Slack-style parameter parsing, replies. */
import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY_BYTES = 2 * 1024 * 1024;
/** Form fields that WebClient JSON-stringifies (nested values) and Slack decodes. */
const JSON_FIELDS = new Set(['blocks', 'attachments', 'view', 'metadata']);

export class BadRequest extends Error {
  readonly slackError: string;
  constructor(slackError: string) {
    super(slackError);
    this.slackError = slackError;
  }
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) req.destroy(new BadRequest('request_too_large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Parameters as Slack reads them: a JSON object body, or form fields (with JSON-encoded nested values
 * decoded), plus query-string parameters.
 */
export function parseParams(
  contentType: string | undefined,
  raw: string,
  query: URLSearchParams,
): Record<string, unknown> {
  const params: Record<string, unknown> = Object.fromEntries(query);
  if (raw === '') return params;
  if ((contentType ?? '').toLowerCase().startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new BadRequest('invalid_json');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new BadRequest('invalid_json');
    return { ...params, ...(parsed as Record<string, unknown>) };
  }
  for (const [k, v] of new URLSearchParams(raw)) params[k] = JSON_FIELDS.has(k) ? decodeJsonField(v) : v;
  return params;
}

function decodeJsonField(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v; // left as a string: the method reports it as Slack does (e.g. invalid_blocks_format)
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
