export {
  type Alignment,
  align,
  alignSegments,
  type SegmentMatch,
  segmentSimilarity,
} from './align.js'
export { OpusScriptCodec, type VoiceCodec } from './codec.js'
export * from './constants.js'
export { JitterBuffer, type JitterCounters, type PullKind } from './jitter.js'
export { decodeMediaPacket, encodeMediaPacket, type MediaPacket } from './packet.js'
export { estimateMos, mosFromR, rFactor } from './quality.js'
export { RateController, type RateDecision } from './ratecontrol.js'
export { MediaReceiver, type ReceiverStats } from './receiver.js'
export { MediaSender } from './sender.js'
export { speechLikeSignal } from './testsignal.js'
export { parseWav, resample, WavError, wavTo48k, writeWav } from './wav.js'
