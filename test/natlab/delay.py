#!/usr/bin/env python3
"""Delay line for the NAT lab: holds every packet of an NFQUEUE for a fixed
time, then accepts it. No netem in this kernel and no netfilterqueue binding
in Debian, so this speaks the nfnetlink_queue protocol directly (linux/
netfilter/nfnetlink_queue.h). Usage: delay.py QUEUE_NUM DELAY_MS. Runs until
killed; packets that arrive while it is not bound pass (--queue-bypass)."""
import heapq
import os
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NF_ACCEPT = 1


def attr(kind, payload):
    n = 4 + len(payload)
    return struct.pack('=HH', n, kind) + payload + b'\0' * ((4 - n % 4) % 4)


def message(msg, queue, attrs, flags=NLM_F_REQUEST):
    body = struct.pack('=BBH', socket.AF_UNSPEC, 0, socket.htons(queue)) + b''.join(attrs)
    kind = (NFNL_SUBSYS_QUEUE << 8) | msg
    return struct.pack('=IHHII', 16 + len(body), kind, flags, 0, 0) + body


def main():
    queue, delay_s = int(sys.argv[1]), float(sys.argv[2]) / 1000
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.bind((0, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    bind = struct.pack('=BBH', NFQNL_CFG_CMD_BIND, 0, socket.htons(socket.AF_INET))
    s.send(message(NFQNL_MSG_CONFIG, queue, [attr(NFQA_CFG_CMD, bind)], NLM_F_REQUEST | NLM_F_ACK))
    params = struct.pack('>IB', 0, NFQNL_COPY_META)
    s.send(message(NFQNL_MSG_CONFIG, queue, [attr(NFQA_CFG_PARAMS, params)], NLM_F_REQUEST | NLM_F_ACK))
    print('ready', flush=True)
    held = []  # (release_at, packet_id)
    while True:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else None
        ready, _, _ = select.select([s], [], [], timeout)
        now = time.monotonic()
        if ready:
            data = s.recv(1 << 16)
            at = 0
            while at + 16 <= len(data):
                length, kind, _flags, _seq, _pid = struct.unpack_from('=IHHII', data, at)
                if length < 16:
                    break
                if kind == NLMSG_ERROR:
                    code = struct.unpack_from('=i', data, at + 16)[0]
                    if code != 0:
                        sys.exit(f'nfqueue config failed: {os.strerror(-code)}')
                elif kind & 0xff == NFQNL_MSG_PACKET:
                    a = at + 20
                    while a + 4 <= at + length:
                        alen, akind = struct.unpack_from('=HH', data, a)
                        if alen < 4:
                            break
                        if akind & 0x7fff == NFQA_PACKET_HDR:
                            packet_id = struct.unpack_from('>I', data, a + 4)[0]
                            heapq.heappush(held, (now + delay_s, packet_id))
                        a += (alen + 3) & ~3
                at += (length + 3) & ~3
        while held and held[0][0] <= time.monotonic():
            _, packet_id = heapq.heappop(held)
            verdict = struct.pack('>II', NF_ACCEPT, packet_id)
            s.send(message(NFQNL_MSG_VERDICT, queue, [attr(NFQA_VERDICT_HDR, verdict)]))


if __name__ == '__main__':
    main()
