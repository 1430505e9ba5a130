// Contacts, presence and chat (PROTOCOL.md §9): the wire envelope and
// frames, the SQLite store, and the service that runs them over sessions.

export * from './constants.js'
export {
  decodeEnvelope,
  type Envelope,
  type EnvelopeBody,
  type EnvelopeFields,
  encodeEnvelope,
  signEnvelope,
} from './envelope.js'
export { type ChatFrame, decodeChatFrame, encodeChatFrame } from './frames.js'
export {
  decodeGroupState,
  encodeGroupState,
  type GroupState,
  type GroupStateFields,
  groupIdOf,
  signGroupState,
  sortMembers,
} from './group-state.js'
export type { GroupMessageRow, GroupRow, GroupStatus } from './groups.js'
export {
  type ChatEvent,
  ChatService,
  describeMessage,
  PRESENCE_VALUES,
  type Presence,
} from './service.js'
export {
  CHAT_DB_FILE,
  ChatStore,
  type Contact,
  type ContactState,
  type MessageRow,
} from './store.js'
