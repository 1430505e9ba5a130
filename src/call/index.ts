export {
  type AudioSink,
  type AudioSource,
  NullSink,
  RecordingSink,
  SamplesSource,
  SilenceSource,
  SoxSink,
  SoxSource,
} from './audio.js'
export { Call, type CallAudio, type CallState, type CallStats, type EndReason } from './call.js'
export * from './constants.js'
export {
  deriveCallKeys,
  ephemeralKeyPair,
  openEnvelope,
  ReplayWindow,
  sealEnvelope,
} from './crypto.js'
export { CallManager } from './manager.js'
export { decodeReport, encodeReport, type Report } from './report.js'
export { decodeSignal, encodeSignal, type Signal } from './signal.js'
