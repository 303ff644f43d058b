/** The local Slack (Web API double + console) and the helpers that send what Slack sends. */
export * from './client.js';
export { type Fault, FaultInjector, type Rejection } from './faults.js';
export { checkMessageLimits, type LimitViolation, SLACK_LIMITS } from './limits.js';
export type { MessageMetadata } from './metadata.js';
export { RESPONSE_URL_LIMITS, type ResponseOrigin } from './response-urls.js';
export { type DeliveryOptions, SlackDouble, type SlackDoubleOptions, startSlackDouble } from './server.js';
export * from './signing.js';
export type { EnvelopeType } from './socket-mode.js';
export type {
  MessageSource,
  RecordedCall,
  RecordedConnection,
  RecordedEdit,
  RecordedEphemeral,
  RecordedMessage,
  RecordedView,
  WaitForOptions,
} from './store.js';
export { channelName, newTriggerId, SLACK_DOUBLE_IDS, userName } from './workspace.js';
