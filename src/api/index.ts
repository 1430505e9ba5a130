// The daemon's local HTTP + WebSocket API on 127.0.0.1, and the client the CLI
// uses to reach it. Security rules and their reasons: ./README.md.

export {
  ApiClient,
  type ApiClientOptions,
  type EventsOptions,
  type RequestOptions,
} from './client.js'
export {
  DAEMON_FILE,
  EVENTS_PATH,
  TOKEN_FILE,
  WS_PROTOCOL,
  WS_TOKEN_PROTOCOL_PREFIX,
} from './constants.js'
export {
  createToken,
  readDaemonInfo,
  readToken,
  removeDaemonInfo,
  writeDaemonInfo,
} from './files.js'
export { ApiServer } from './server.js'
export { statusForCode } from './status.js'
export type {
  ApiEvent,
  ApiServerOptions,
  ApiStats,
  DaemonInfo,
  FieldSpec,
  FieldType,
  Route,
} from './types.js'
