# Writes the known frames of frames.hpp (frames.inc) and a pcap of them (wire_frames.pcap) for
# tshark to check. Independent of stack/wire on purpose. Run: python3 make_frames.py
import struct
def csum(b):
    if len(b)%2: b+=b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b))
    while s>>16: s=(s&0xffff)+(s>>16)
    return (~s)&0xffff
def ip(a): return bytes(int(x) for x in a.split('.'))
def mac(m): return bytes(int(x,16) for x in m.split(':'))
def eth(dst,src,typ,vlan=None):
    h=mac(dst)+mac(src)
    if vlan is not None: h+=struct.pack('!HH',0x8100,vlan)
    return h+struct.pack('!H',typ)
def ipv4(src,dst,proto,payload,ttl=64,ident=0,df=True,opts=b'',tos=0):
    ihl=5+len(opts)//4
    h=struct.pack('!BBHHHBBH4s4s',0x40|ihl,tos,ihl*4+len(payload),ident,0x4000 if df else 0,ttl,proto,0,ip(src),ip(dst))+opts
    c=csum(h); h=h[:10]+struct.pack('!H',c)+h[12:]
    return h+payload
def udp(src,dst,sp,dp,payload):
    l=8+len(payload)
    ph=ip(src)+ip(dst)+struct.pack('!BBH',0,17,l)
    u=struct.pack('!HHHH',sp,dp,l,0)+payload
    c=csum(ph+u) or 0xffff
    return u[:6]+struct.pack('!H',c)+u[8:]
RA=bytes([0x94,0x04,0,0])
frames={}
frames['arp_request']=eth('ff:ff:ff:ff:ff:ff','02:00:00:00:00:01',0x0806)+struct.pack('!HHBBH',1,0x0800,6,4,1)+mac('02:00:00:00:00:01')+ip('10.0.0.1')+bytes(6)+ip('10.0.0.2')
icmp=struct.pack('!BBHHH',8,0,0,0x1234,1)+b'ringlab!ping0123'
icmp=icmp[:2]+struct.pack('!H',csum(icmp))+icmp[4:]
frames['icmp_echo_request']=eth('02:00:00:00:00:02','02:00:00:00:00:01',0x0800)+ipv4('10.0.0.1','10.0.0.2',1,icmp,ident=0x1c46)
ig=struct.pack('!BBH4s',0x16,0,0,ip('239.1.1.1')); ig=ig[:2]+struct.pack('!H',csum(ig))+ig[4:]
frames['igmpv2_report']=eth('01:00:5e:01:01:01','02:00:00:00:00:02',0x0800)+ipv4('10.0.0.2','239.1.1.1',2,ig,ttl=1,opts=RA,tos=0xc0)
recs=struct.pack('!BBH4s',4,0,0,ip('239.1.1.1'))+struct.pack('!BBH4s',1,0,2,ip('239.1.1.2'))+ip('10.0.0.7')+ip('10.0.0.8')
ig3=struct.pack('!BBHHH',0x22,0,0,0,2)+recs; ig3=ig3[:2]+struct.pack('!H',csum(ig3))+ig3[4:]
frames['igmpv3_report']=eth('01:00:5e:00:00:16','02:00:00:00:00:02',0x0800)+ipv4('10.0.0.2','224.0.0.22',2,ig3,ttl=1,opts=RA,tos=0xc0)
q=struct.pack('!BBH4sBBH',0x11,100,0,ip('239.1.1.1'),0x02,125,2)+ip('10.0.0.7')+ip('10.0.0.9'); q=q[:2]+struct.pack('!H',csum(q))+q[4:]
frames['igmpv3_query']=eth('01:00:5e:01:01:01','02:00:00:00:00:01',0x0800)+ipv4('10.0.0.1','239.1.1.1',2,q,ttl=1,opts=RA,tos=0xc0)
u=udp('10.0.0.1','239.1.1.1',40000,5001,b'RLSQ\x00\x00\x00\x00\x00\x00\x00\x2a')
frames['udp_mcast']=eth('01:00:5e:01:01:01','02:00:00:00:00:01',0x0800)+ipv4('10.0.0.1','239.1.1.1',17,u,ident=0x0102)
u=udp('10.0.0.1','10.0.0.2',1234,5001,b'hello')
frames['udp_vlan']=eth('02:00:00:00:00:02','02:00:00:00:00:01',0x0800,vlan=(3<<13)|100)+ipv4('10.0.0.1','10.0.0.2',17,u,ident=7)
with open("wire_frames.pcap",'wb') as f:
    f.write(struct.pack('<IHHiIII',0xa1b2c3d4,2,4,0,0,65535,1))
    for i,(k,v) in enumerate(frames.items()):
        f.write(struct.pack('<IIII',i,0,len(v),len(v))+v)
with open("frames.inc",'w') as f:
    for k,v in frames.items():
        f.write('// %s (%d bytes)\nconstexpr auto %s = bytes_of<%d>({\n' % (k,len(v),k,len(v)))
        for i in range(0,len(v),16):
            f.write('    '+', '.join('0x%02x'%b for b in v[i:i+16])+',\n')
        f.write('});\n')
