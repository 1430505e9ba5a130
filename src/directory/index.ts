// The directory (PROTOCOL.md §11): signed profile records on supernodes,
// found by name (every claimant, with its fingerprint) or by ID.

export {
  DirectoryClient,
  type DirectoryClientOptions,
  type DirectoryDrop,
  type DirectoryEntry,
  describeProfile,
} from './client.js'
export * from './constants.js'
export { type DirectoryFrame, decodeDirectoryFrame, encodeDirectoryFrame } from './frames.js'
export {
  decodeProfile,
  encodeProfile,
  type MailboxAddress,
  normaliseName,
  type Profile,
  type ProfileFields,
  signProfile,
} from './record.js'
export { DIRECTORY_DB_FILE, DirectoryServer } from './server.js'
export { DirectoryService, type DirectoryServiceOptions } from './service.js'
