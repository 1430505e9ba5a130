// One way to open a Parley SQLite store: the file is created 0600 before
// SQLite touches it (SQLite would follow the umask), WAL with
// synchronous=FULL so a committed transaction survives a crash or power loss.

import { chmodSync, closeSync, openSync } from 'node:fs'
import Database from 'better-sqlite3'

export function openSqlite(path: string): Database.Database {
  if (path !== ':memory:') closeSync(openSync(path, 'a', 0o600))
  const db = new Database(path)
  if (path !== ':memory:') chmodSync(path, 0o600)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  return db
}
