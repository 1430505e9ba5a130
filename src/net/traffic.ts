import UDX from 'udx-native'

// udx-native counts bytes it sends on streams, and everything it receives,
// but not datagrams sent with socket.send/trySend (all DHT traffic). We count
// those ourselves so `parley status` and the idle benchmark see both ways.

export interface TrafficCounters {
  datagram_bytes_sent: number
  datagram_packets_sent: number
}

export function countingUdx(): { udx: any; counters: TrafficCounters } {
  const udx = new UDX()
  const counters: TrafficCounters = { datagram_bytes_sent: 0, datagram_packets_sent: 0 }
  const createSocket = udx.createSocket.bind(udx)
  udx.createSocket = (...args: unknown[]) => {
    const socket = createSocket(...args)
    const send = socket.send.bind(socket)
    const trySend = socket.trySend.bind(socket)
    socket.send = (buffer: Uint8Array, ...rest: unknown[]) => {
      counters.datagram_bytes_sent += buffer.byteLength
      counters.datagram_packets_sent++
      return send(buffer, ...rest)
    }
    socket.trySend = (buffer: Uint8Array, ...rest: unknown[]) => {
      counters.datagram_bytes_sent += buffer.byteLength
      counters.datagram_packets_sent++
      return trySend(buffer, ...rest)
    }
    return socket
  }
  return { udx, counters }
}
