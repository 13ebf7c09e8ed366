# Independent oracle for the exact bytes the stack tests expect (plain Python, RFC 1071).
import struct
def csum(b):
    if len(b)%2: b+=b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b))
    while s>>16: s=(s&0xffff)+(s>>16)
    return (~s)&0xffff
def mac(s): return bytes(int(x,16) for x in s.split(':'))
def ip(s): return bytes(int(x) for x in s.split('.'))
ME_MAC=mac('02:00:00:00:00:02'); PEER_MAC=mac('02:00:00:00:00:01')
ME=ip('10.0.0.2'); PEER=ip('10.0.0.1')
def pad(f): return f+b'\0'*max(0,60-len(f))
def iphdr(src,dst,proto,l4len,ident,ttl,tos=0,ra=False):
    ihl=6 if ra else 5
    h=struct.pack('!BBHHHBBH4s4s',0x40|ihl,tos,ihl*4+l4len,ident,0x4000,ttl,proto,0,src,dst)
    if ra: h+=b'\x94\x04\x00\x00'
    c=csum(h); return h[:10]+struct.pack('!H',c)+h[12:]
def hexs(b): return b.hex()
# ARP reply to 10.0.0.1 asking for 10.0.0.2
arp=struct.pack('!HHBBH6s4s6s4s',1,0x800,6,4,2,ME_MAC,ME,PEER_MAC,PEER)
print('arp_reply', hexs(pad(PEER_MAC+ME_MAC+b'\x08\x06'+arp)))
# ICMP echo reply, ident 0x1234 seq 1 data ringlab-ping, our ident 1
data=b'ringlab-ping'
icmp=struct.pack('!BBHHH',0,0,0,0x1234,1)+data
icmp=icmp[:2]+struct.pack('!H',csum(icmp))+icmp[4:]
print('icmp_reply', hexs(pad(PEER_MAC+ME_MAC+b'\x08\x00'+iphdr(ME,PEER,1,len(icmp),1,64)+icmp)))
def igmp_v3(rtype,groups,ident):
    m=struct.pack('!BBHHH',0x22,0,0,0,len(groups))
    for g in groups: m+=struct.pack('!BBH4s',rtype,0,0,ip(g))
    m=m[:2]+struct.pack('!H',csum(m))+m[4:]
    return pad(mac('01:00:5e:00:00:16')+ME_MAC+b'\x08\x00'+iphdr(ME,ip('224.0.0.22'),2,len(m),ident,1,0xc0,True)+m)
def igmp_v2(t,group,dst,dmac,ident):
    m=struct.pack('!BBH4s',t,0,0,ip(group)); m=m[:2]+struct.pack('!H',csum(m))+m[4:]
    return pad(dmac+ME_MAC+b'\x08\x00'+iphdr(ME,ip(dst),2,len(m),ident,1,0xc0,True)+m)
print('v3_join', hexs(igmp_v3(4,['239.1.1.1'],1)))
print('v3_leave', hexs(igmp_v3(3,['239.1.1.1'],2)))
print('v3_query_answer', hexs(igmp_v3(2,['239.1.1.1','239.2.2.2'],3)))
print('v2_join', hexs(igmp_v2(0x16,'239.1.1.1','239.1.1.1',mac('01:00:5e:01:01:01'),1)))
print('v2_leave', hexs(igmp_v2(0x17,'239.1.1.1','224.0.0.2',mac('01:00:5e:00:00:02'),2)))
# UDP 10.0.0.2:40000 -> 10.0.0.1:9000 "hello", ident 1
pl=b'hello'; u=struct.pack('!HHHH',40000,9000,8+len(pl),0)+pl
ph=ME+PEER+struct.pack('!BBH',0,17,len(u)); c=csum(ph+u) or 0xffff
u=u[:6]+struct.pack('!H',c)+u[8:]
print('udp_send', hexs(pad(PEER_MAC+ME_MAC+b'\x08\x00'+iphdr(ME,PEER,17,len(u),1,64)+u)))
