export * from './constants.js'
export {
  type PeerLink,
  TransferEngine,
  type TransferEngineOptions,
  type TransferView,
} from './engine.js'
export { fileHash, hashFile } from './hash.js'
export { nameProblem } from './names.js'
export { chunkBytesFor } from './rules.js'
export { decodeTransfer, encodeTransfer, type TransferMessage } from './wire.js'
