import type { FieldSpec, Route } from '../api/index.js'
import type { Daemon } from './daemon.js'

// File transfer over the local API (README "Local API"). Progress is also
// pushed on the event stream as `transfer.offered` and `transfer.updated`.

const TRANSFER_ID: FieldSpec = {
  type: 'string',
  required: true,
  max_length: 32,
  pattern: /^[0-9a-fA-F]{4,32}$/,
  description: 'a transfer ID or a unique prefix of at least 4 hex digits',
}

export function transferRoutes(daemon: Daemon): Route[] {
  // Looked up per request: the routes are built before the engine exists.
  const t = () => daemon.transfers
  return [
    {
      method: 'GET',
      path: '/v1/transfers',
      handler: async () => ({ transfers: t().list(), folders: t().folders.list() }),
    },
    {
      method: 'POST',
      path: '/v1/transfers/send',
      body: {
        to: {
          type: 'string',
          required: true,
          max_length: 128,
          description: 'the Parley ID to send to',
        },
        path: {
          type: 'string',
          required: true,
          max_length: 4096,
          description: 'absolute path of the file, or folder, on the daemon machine',
        },
      },
      handler: async (body) => t().sendPath(String(body.to), String(body.path)),
    },
    {
      method: 'POST',
      path: '/v1/transfers/accept',
      body: {
        id: TRANSFER_ID,
        to: {
          type: 'string',
          max_length: 4096,
          description: 'folder to save into (default: <home>/downloads)',
        },
        folder: {
          type: 'boolean',
          description: 'for a file of a folder: accept the whole folder from that sender',
        },
      },
      handler: async (body) =>
        t().accept(
          String(body.id),
          typeof body.to === 'string' ? body.to : undefined,
          body.folder === true,
        ),
    },
    {
      method: 'POST',
      path: '/v1/transfers/decline',
      body: { id: TRANSFER_ID },
      handler: async (body) => t().decline(String(body.id)),
    },
    {
      method: 'POST',
      path: '/v1/transfers/cancel',
      body: { id: TRANSFER_ID },
      handler: async (body) => t().cancel(String(body.id)),
    },
  ]
}
