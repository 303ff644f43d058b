/**
 * Message metadata (`{ event_type, event_payload }`) as chat.postMessage / chat.update take it. A value that
 * is not a JSON object fails the call with `invalid_metadata_format`. An object whose event_type is not
 * letters, digits, `_` and `-` (no periods: docs.slack.dev "Using message metadata"), or whose event_payload
 * is not an object, does not fail it: Slack posts the message without the metadata and answers `ok: true`
 * with the warning `invalid_metadata_schema` — so a caller that dedupes by metadata must check `warning`.
 */

import { parseJson } from '../core/json.js';
import { type ApiBody, fail, isObj } from './api-common.js';

export interface MessageMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
}

const EVENT_TYPE = /^[A-Za-z0-9_-]+$/;
const SCHEMA_WARNING = 'invalid_metadata_schema';

export type MetadataArg =
  | { ok: true; metadata?: MessageMetadata; ignored?: true }
  | { ok: false; error: ApiBody };

/** Reads the `metadata` argument (an object, or its JSON text as a form field carries it). */
export function readMetadata(v: unknown): MetadataArg {
  if (v === undefined || v === '') return { ok: true };
  const parsed = typeof v === 'string' ? parseJson(v) : v;
  if (!isObj(parsed)) return { ok: false, error: fail('invalid_metadata_format') };
  const { event_type: type, event_payload: payload } = parsed;
  if (typeof type !== 'string' || !EVENT_TYPE.test(type) || !isObj(payload))
    return { ok: true, ignored: true };
  return { ok: true, metadata: { event_type: type, event_payload: payload } };
}

/** The warning fields of a successful response whose metadata Slack ignored. */
export function metadataWarning(arg: MetadataArg): Record<string, unknown> {
  return arg.ok && arg.ignored
    ? { warning: SCHEMA_WARNING, response_metadata: { warnings: [SCHEMA_WARNING] } }
    : {};
}
