export * from './constants.js'
export {
  chunkBytesFor,
  type PeerLink,
  TransferEngine,
  type TransferEngineOptions,
  type TransferView,
} from './engine.js'
export { fileHash, hashFile } from './hash.js'
export { nameProblem } from './names.js'
export { decodeTransfer, encodeTransfer, type TransferMessage } from './wire.js'
