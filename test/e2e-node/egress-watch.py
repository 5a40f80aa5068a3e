"""Watches what leaves by one network interface (the default route's) while the e2e-node tests run.

Usage: egress-watch.py <interface> <cidr>...   Prints "ready" once capturing; on SIGTERM prints a JSON
list of "src->dst" for every IPv4 packet seen on the interface, in either direction, whose source or
destination is in one of the CIDRs (at most 100), and exits. An AF_PACKET socket sees packets as the
interface sends them, after every netfilter hook: the ground truth of what left the machine.
"""
import ipaddress
import json
import signal
import socket
import sys

interface, cidrs = sys.argv[1], [ipaddress.ip_network(c) for c in sys.argv[2:]]
ETH_P_ALL = 0x0003
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL))
sock.bind((interface, 0))
seen = []


def stop(*_):
    print(json.dumps(seen[:100]), flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
while True:
    frame = sock.recv(65535)
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":  # IPv4 only (no VLAN tags here)
        continue
    src, dst = ipaddress.ip_address(frame[26:30]), ipaddress.ip_address(frame[30:34])
    if any(src in c or dst in c for c in cidrs):
        seen.append(f"{src}->{dst}")
