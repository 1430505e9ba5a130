#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { CONFIG_FLAG_OPTIONS } from '../config/index.js'
import { resolveHome } from '../daemon/home.js'
import { ParleyError } from '../util/errors.js'
import { type CallFlags, cmdAnswer, cmdCall, cmdHangup } from './commands/call.js'
import { cmdChat, cmdContacts, cmdHistory, cmdPresence, cmdSend } from './commands/chat.js'
import { cmdDaemon, type DaemonFlags } from './commands/daemon.js'
import { cmdDemo } from './commands/demo.js'
import { cmdDirectory } from './commands/directory.js'
import { cmdGroup, cmdGroups } from './commands/group.js'
import { cmdId, cmdInit } from './commands/identity.js'
import { cmdPing, cmdStatus } from './commands/peers.js'
import { cmdTestnet } from './commands/testnet.js'
import { cmdSendFile, cmdTransfers } from './commands/transfer.js'
import { makeOutput, reportError } from './output.js'

const USAGE = `usage: parley <command> [--home DIR] [--json]

  init [--name N] [--no-passphrase]     create an identity and print its ID
  id                                    print this identity's ID and safety fingerprint
  daemon [--bootstrap H:P,...] [--port P] [--api-port P]
         [--supernode [--relay-sessions-max N] [--relay-session-bytes-per-s-max B]
                      [--relay-total-bytes-per-s-max B]]
                      [--gateway-port P [--gateway-host H]]]
         [--no-udp --gateways H:P,... [--proxy http://H:P|socks5://H:P]]
         [--metrics-port P [--metrics-host H]]
                                        run the node in the foreground; --supernode
                                        serves others (needs a public UDP port);
                                        --no-udp reaches peers through a gateway
  testnet [--host H] [--port P] [--nodes N] [--bootstrap H:P]
                                        run a private bootstrap DHT; prints its H:P
  status                                online?, reachability, peers, roles
  ping ID [--count N]                   connect to a peer; print path, connect_ms, rtt_ms
  demo [--pings N]                      two users on an embedded network; prints a report
  call CONTACT [--play F.wav] [--record F.wav]
                                        voice call; live audio (sox) when no file is
                                        given; with --play it hangs up when the file ends
  answer [--auto] [--play F.wav] [--record F.wav]
                                        answer the ringing call (--auto: wait for the
                                        next one and exit when it ends)
  hangup                                end the current call
  contacts add ID|NAME [--note T] | list | accept ID | decline ID | remove ID | block ID
                                        the buddy list with authorization; a NAME is
                                        looked up in the directory and must be unique
  directory search NAME|ID              every identity claiming NAME, each with its
                                        fingerprint (or the record of one ID)
  directory [status] | publish          your own record: when it was last stored / now
  group create NAME [CONTACT...]        a group chat (up to 100 members) that you administer
  group invite GROUP CONTACT | remove GROUP MEMBER | leave GROUP
                                        membership changes (invite/remove: the creator only)
  group send GROUP TEXT                 a message to every member (stored, delivered when reachable)
  group history GROUP [--limit N]       the group's messages; yours with how many members have them
  groups                                your groups (id, members, your status)
  send CONTACT TEXT                     send a message (stored, delivered when reachable)
  history CONTACT [--limit N]           the conversation with receipts
  chat CONTACT                          interactive chat with presence and receipts
  presence [online|away|busy|invisible] show or set presence
  send-file CONTACT PATH [--detach]     offer a file; shows progress until it is delivered
                                        (a folder: every file under it, one transfer each)
  transfers [--json]                    list file transfers (IDs, state, progress)
  transfers accept ID [--to DIR] [--detach] | decline ID | cancel ID
                                        answer an offer, or stop a transfer (either side)
  transfers accept ID --folder [--to DIR]
                                        accept a file of a folder and the rest of that folder

--home DIR defaults to $PARLEY_HOME, else $XDG_DATA_HOME/parley.
The passphrase comes from $PARLEY_PASSPHRASE or a prompt.
Every daemon setting is also a PARLEY_* variable and a key in <home>/config.json
or /etc/parley/config.json; docs/ADMIN.md lists them all.`

type Flags = Record<string, string | boolean | undefined>

const COMMAND_FLAGS: Record<string, Record<string, { type: 'string' | 'boolean' }>> = {
  init: {
    name: { type: 'string' },
    'no-passphrase': { type: 'boolean' },
    'device-name': { type: 'string' },
  },
  id: {},
  // Every administrator switch is a flag too (src/config); --metrics-host is not a policy.
  daemon: {
    ...CONFIG_FLAG_OPTIONS,
    'metrics-host': { type: 'string' },
    'gateway-host': { type: 'string' },
  },
  testnet: {
    host: { type: 'string' },
    port: { type: 'string' },
    nodes: { type: 'string' },
    bootstrap: { type: 'string' },
  },
  status: {},
  ping: { count: { type: 'string' } },
  demo: { pings: { type: 'string' } },
  call: { play: { type: 'string' }, record: { type: 'string' } },
  answer: { auto: { type: 'boolean' }, play: { type: 'string' }, record: { type: 'string' } },
  hangup: {},
  contacts: { note: { type: 'string' } },
  send: { 'message-id': { type: 'string' } },
  history: { limit: { type: 'string' } },
  chat: {},
  presence: {},
  directory: {},
  group: { limit: { type: 'string' } },
  groups: {},
  'send-file': { detach: { type: 'boolean' } },
  transfers: { to: { type: 'string' }, detach: { type: 'boolean' }, folder: { type: 'boolean' } },
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0]
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`)
    return command === undefined ? 2 : 0
  }
  const json = argv.includes('--json')
  const flagSpec = COMMAND_FLAGS[command]
  if (flagSpec === undefined) {
    return reportError(
      new ParleyError('USAGE', `unknown command "${command}"; run \`parley help\``),
      json,
    )
  }
  let values: Flags
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: argv.slice(1),
      options: { ...flagSpec, home: { type: 'string' }, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    }))
  } catch (err) {
    return reportError(
      new ParleyError('USAGE', `${(err as Error).message}; run \`parley help\``),
      json,
    )
  }
  const out = makeOutput(json)
  const home = resolveHome(values.home as string | undefined)
  try {
    switch (command) {
      case 'init':
        await cmdInit(home, values, out)
        break
      case 'id':
        await cmdId(home, out)
        break
      case 'daemon':
        await cmdDaemon(home, values as DaemonFlags, out)
        break
      case 'testnet':
        await cmdTestnet(values as Record<string, string>, out)
        break
      case 'status':
        await cmdStatus(home, out)
        break
      case 'ping':
        await cmdPing(home, positionals[0], values as Record<string, string>, out)
        break
      case 'demo':
        return await cmdDemo(values as Record<string, string>, out)
      case 'call':
        await cmdCall(home, positionals[0], values as CallFlags, out)
        break
      case 'answer':
        await cmdAnswer(home, values as CallFlags, out)
        break
      case 'hangup':
        await cmdHangup(home, out)
        break
      case 'contacts':
        await cmdContacts(home, positionals, values as { note?: string }, out)
        break
      case 'send':
        await cmdSend(home, positionals, values as Record<string, string>, out)
        break
      case 'history':
        await cmdHistory(home, positionals, values as Record<string, string>, out)
        break
      case 'chat':
        await cmdChat(home, positionals, out)
        break
      case 'presence':
        await cmdPresence(home, positionals, out)
        break
      case 'directory':
        await cmdDirectory(home, positionals, out)
        break
      case 'group':
        await cmdGroup(home, positionals, values as { limit?: string }, out)
        break
      case 'groups':
        await cmdGroups(home, out)
        break
      case 'send-file':
        await cmdSendFile(home, positionals, values, out)
        break
      case 'transfers':
        await cmdTransfers(home, positionals, values as { to?: string; detach?: boolean }, out)
        break
    }
    return 0
  } catch (err) {
    return reportError(err, json)
  }
}

// Exit explicitly: a finished command must not linger on a stray handle.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => process.exit(reportError(err, false)),
)
