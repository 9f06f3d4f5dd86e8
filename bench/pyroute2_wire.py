#!/usr/bin/python3
"""Wires (or tears down) N containers with pyroute2 in one Python process, for bench/run.ts.

Run inside the namespace playing the host (nsenter --net=/run/netns/HOST): the bridge already
exists there. Reads a JSON job on stdin:
  {"mode": "setup"|"teardown", "bridge": "br0", "gateway": "10.200.0.1", "prefix": 16,
   "containers": [{"ns": NAME, "veth": NAME, "ip": "10.200.0.2", "port": 20000}, ...]}
Setup per container: netns.create, a veth with its peer created inside the namespace as eth0,
master + up, then (inside the namespace) the address, eth0 and lo up, a default route. The
published ports go into one `nft -f` at the end (pyroute2 0.7 has no nftables NAT helpers).
Teardown: one `nft -f` removing the port rules, then per container the veth and the namespace.
Prints {"seconds": total, "perContainer": [...]} as JSON on stdout.
"""
import json
import subprocess
import sys
import time

from pyroute2 import IPRoute, netns


def setup(job, ipr):
    br = ipr.link_lookup(ifname=job['bridge'])[0]
    times = []
    for c in job['containers']:
        t0 = time.perf_counter()
        netns.create(c['ns'])
        ipr.link('add', ifname=c['veth'], kind='veth', peer={'ifname': 'eth0', 'net_ns_fd': c['ns']})
        idx = ipr.link_lookup(ifname=c['veth'])[0]
        ipr.link('set', index=idx, master=br, state='up')
        netns.pushns(c['ns'])
        try:
            with IPRoute() as inner:
                eth0 = inner.link_lookup(ifname='eth0')[0]
                lo = inner.link_lookup(ifname='lo')[0]
                inner.addr('add', index=eth0, address=c['ip'], prefixlen=job['prefix'])
                inner.link('set', index=eth0, state='up')
                inner.link('set', index=lo, state='up')
                inner.route('add', dst='0.0.0.0/0', gateway=job['gateway'])
        finally:
            netns.popns()
        times.append(time.perf_counter() - t0)
    rules = ''.join(
        f"add rule ip nkbench prerouting fib daddr type local tcp dport {c['port']} dnat to {c['ip']}:80\n"
        for c in job['containers'])
    subprocess.run(['nft', '-f', '-'], input=rules.encode(), check=True)
    return times


def teardown(job, ipr):
    subprocess.run(['nft', '-f', '-'], input=b'flush chain ip nkbench prerouting\n', check=True)
    times = []
    for c in job['containers']:
        t0 = time.perf_counter()
        ipr.link('del', ifname=c['veth'])
        netns.remove(c['ns'])
        times.append(time.perf_counter() - t0)
    return times


def main():
    job = json.load(sys.stdin)
    t0 = time.perf_counter()
    with IPRoute() as ipr:
        times = setup(job, ipr) if job['mode'] == 'setup' else teardown(job, ipr)
    json.dump({'seconds': time.perf_counter() - t0, 'perContainer': times}, sys.stdout)


if __name__ == '__main__':
    main()
