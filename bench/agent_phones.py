#!/usr/bin/env python3
"""bench/queue: N agent phones on one UDP socket (127.0.0.1 only), for the queue benchmark.

Registers users FIRST..FIRST+N-1 (password PASS) with MD5 digest auth (RFC 7616 §3.4, qop=auth),
then auto-answers every INVITE: 180, then 200 with a PCMU SDP whose media address is ECHO (a
SIPp started with -rtp_echo), retransmitted until the ACK (RFC 3261 §13.3.1.4); answers BYE and
OPTIONS with 200. SIPp 3.6 cannot take the digest username from an -inf field
("[authentication username=[field0] ...]" is sent literally), hence this script.
Usage: agent_phones.py SERVER_PORT FIRST N PASS ECHO_PORT SECONDS
Prints "registered K" once every REGISTER got its 200, then runs SECONDS and exits.
"""
import asyncio, hashlib, os, re, sys

REALM_RE = re.compile(r'Digest ([^\r\n]*)')


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def header(msg, name):
    m = re.search(r'^' + name + r':\s*(.*?)\r$', msg, re.M | re.I)
    return m.group(1) if m else ''


class Phones(asyncio.DatagramProtocol):
    def __init__(self, server, first, n, password, echo_port):
        self.server, self.first, self.n, self.pw, self.echo = server, first, n, password, echo_port
        self.registered = 0
        self.done = asyncio.get_event_loop().create_future()
        self.pending_200 = {}  # Call-ID -> (bytes, tries)
        self.tag = os.urandom(4).hex()

    def connection_made(self, transport):
        self.t = transport
        self.port = transport.get_extra_info('sockname')[1]

    def register(self, user, cseq, auth=''):
        uri = 'sip:127.0.0.1:%d' % self.server[1]
        msg = ('REGISTER %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s%d%d;rport\r\n'
               'From: <sip:%s@127.0.0.1>;tag=r%s\r\nTo: <sip:%s@127.0.0.1>\r\nCall-ID: reg-%s-%s\r\n'
               'CSeq: %d REGISTER\r\nContact: <sip:%s@127.0.0.1:%d>\r\n%sExpires: 3600\r\n'
               'Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n') % (
            uri, self.port, self.tag, int(user), cseq, user, self.tag, user, user, self.tag, cseq,
            user, self.port, auth)
        self.t.sendto(msg.encode(), self.server)

    def datagram_received(self, data, addr):
        msg = data.decode(errors='replace')
        first = msg.split('\r\n', 1)[0]
        if first.startswith('SIP/2.0'):
            code = int(first.split()[1])
            cseq = header(msg, 'CSeq')
            if 'REGISTER' not in cseq:
                return
            user = re.search(r'sip:(\d+)@', header(msg, 'To')).group(1)
            if code == 401 and cseq.startswith('1 '):
                for ch in re.findall(r'^WWW-Authenticate:\s*Digest (.*?)\r$', msg, re.M | re.I):
                    p = dict(re.findall(r'(\w+)="?([^",]*)"?', ch))
                    if p.get('algorithm', 'MD5').upper() != 'MD5':
                        continue
                    uri = 'sip:127.0.0.1:%d' % self.server[1]
                    ha1 = md5('%s:%s:%s' % (user, p['realm'], self.pw))
                    ha2 = md5('REGISTER:' + uri)
                    cnonce = os.urandom(4).hex()
                    resp = md5('%s:%s:00000001:%s:auth:%s' % (ha1, p['nonce'], cnonce, ha2))
                    auth = ('Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                            'response="%s", algorithm=MD5, qop=auth, nc=00000001, cnonce="%s"\r\n') % (
                        user, p['realm'], p['nonce'], uri, resp, cnonce)
                    self.register(user, 2, auth)
                    return
            elif code == 200:
                self.registered += 1
                if self.registered == self.n and not self.done.done():
                    self.done.set_result(True)
            elif code >= 300:
                print('REGISTER %s: %s' % (user, first), file=sys.stderr)
            return
        method = first.split(' ', 1)[0]
        callid = header(msg, 'Call-ID')
        if method == 'INVITE':
            if callid in self.pending_200:
                self.t.sendto(self.pending_200[callid][0], addr)
                return
            base = '%s\r\n%s\r\n%s\r\nTo: %s;tag=a%s\r\nCall-ID: %s\r\nCSeq: %s\r\n' % (
                '%s', 'Via: ' + header(msg, 'Via'), 'From: ' + header(msg, 'From'),
                header(msg, 'To'), self.tag, callid, header(msg, 'CSeq'))
            contact = 'Contact: <sip:agent@127.0.0.1:%d>\r\n' % self.port
            self.t.sendto(((base % 'SIP/2.0 180 Ringing') + contact + 'Content-Length: 0\r\n\r\n').encode(), addr)
            sdp = ('v=0\r\no=agent 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n'
                   'm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n') % self.echo
            ok = ((base % 'SIP/2.0 200 OK') + contact + 'Content-Type: application/sdp\r\n'
                  'Content-Length: %d\r\n\r\n%s' % (len(sdp), sdp)).encode()
            self.pending_200[callid] = (ok, 0)
            self.t.sendto(ok, addr)
            asyncio.get_event_loop().call_later(0.5, self.retransmit, callid, addr, 0.5)
        elif method == 'ACK':
            self.pending_200.pop(callid, None)
        elif method in ('BYE', 'OPTIONS', 'CANCEL', 'INFO'):
            resp = 'SIP/2.0 200 OK\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n' % (
                header(msg, 'Via'), header(msg, 'From'), header(msg, 'To'), callid, header(msg, 'CSeq'))
            self.t.sendto(resp.encode(), addr)

    def retransmit(self, callid, addr, interval):
        if callid not in self.pending_200 or interval > 4:
            self.pending_200.pop(callid, None)
            return
        self.t.sendto(self.pending_200[callid][0], addr)
        asyncio.get_event_loop().call_later(interval * 2, self.retransmit, callid, addr, interval * 2)


async def main():
    port, first, n, pw, echo, secs = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                      sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))
    loop = asyncio.get_running_loop()
    t, p = await loop.create_datagram_endpoint(
        lambda: Phones(('127.0.0.1', port), first, n, pw, echo), local_addr=('127.0.0.1', 0))
    for i in range(n):
        p.register(str(first + i), 1)
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    try:
        await asyncio.wait_for(p.done, 30)
    except asyncio.TimeoutError:
        pass
    print('registered %d' % p.registered, flush=True)
    await asyncio.sleep(secs)
    t.close()


asyncio.run(main())
