// Offline mailboxes on supernodes (PROTOCOL.md §9.6): sealed blobs kept for
// a recipient who is offline, fetched and deleted by it at login.

export { type FetchedBlob, MailboxClient, type MailboxClientOptions } from './client.js'
export * from './constants.js'
export { decodeMailboxFrame, encodeMailboxFrame, type MailboxFrame } from './frames.js'
export { openSealed, sealTo } from './seal.js'
export { MAILBOX_DB_FILE, MailboxServer } from './server.js'
