/**
 * Slack's request signing (v0): `X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:{ts}:{rawBody}")` with the
 * Unix timestamp in `X-Slack-Request-Timestamp`. Receivers (Bolt) reject signatures whose timestamp is more
 * than 5 minutes away from their clock, so tests can pass an old `timestampSeconds` to check that.
 */
import { createHmac } from 'node:crypto';

export interface SlackSignatureHeaders {
  'x-slack-signature': string;
  'x-slack-request-timestamp': string;
}

export function signSlackRequest(
  secret: string,
  body: string,
  timestampSeconds: number = Math.floor(Date.now() / 1000),
): SlackSignatureHeaders {
  const ts = String(Math.floor(timestampSeconds));
  const digest = createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');
  return { 'x-slack-signature': `v0=${digest}`, 'x-slack-request-timestamp': ts };
}
