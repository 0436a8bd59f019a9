// Socket numbers for Linux x86_64 (from <sys/socket.h>, <netinet/in.h>, <linux/netlink.h>,
// <linux/if_packet.h>, <linux/if_ether.h>), checked against the C headers on the build machine.

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;

export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_BROADCAST = 6;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_PRIORITY = 12;
export const SO_REUSEPORT = 15;
export const SO_BINDTODEVICE = 25;
export const SO_ATTACH_FILTER = 26;
export const SO_DETACH_FILTER = 27;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_TIMESTAMPNS = 35;
export const SO_MARK = 36;
export const SO_PROTOCOL = 38;
export const SO_DOMAIN = 39;
export const SO_RXQ_OVFL = 40;

export const IPPROTO_IP = 0;
export const SOL_IP = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const SOL_IPV6 = 41;
export const IPPROTO_ICMPV6 = 58;
export const SOL_ICMPV6 = 58;
/** VRRP's IP protocol number (IANA); libc has no name for it. */
export const IPPROTO_VRRP = 112;
export const IPPROTO_SCTP = 132;
export const IPPROTO_RAW = 255;

export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_HDRINCL = 3;
export const IP_PKTINFO = 8;
export const IP_MTU_DISCOVER = 10;
export const IP_RECVERR = 11;
export const IP_RECVTTL = 12;
export const IP_RECVTOS = 13;
export const IP_FREEBIND = 15;
export const IP_MULTICAST_IF = 32;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
export const IP_ADD_MEMBERSHIP = 35;
export const IP_DROP_MEMBERSHIP = 36;
export const IP_PMTUDISC_DONT = 0;
export const IP_PMTUDISC_DO = 2;

export const IPV6_CHECKSUM = 7;
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MULTICAST_IF = 17;
export const IPV6_MULTICAST_HOPS = 18;
export const IPV6_MULTICAST_LOOP = 19;
export const IPV6_JOIN_GROUP = 20;
export const IPV6_LEAVE_GROUP = 21;
export const IPV6_RECVERR = 25;
export const IPV6_V6ONLY = 26;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPV6_RECVHOPLIMIT = 51;
export const IPV6_HOPLIMIT = 52;
export const IPV6_FREEBIND = 78;
export const ICMP6_FILTER = 1;

export const SOL_NETLINK = 270;
export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_DROP_MEMBERSHIP = 2;
export const NETLINK_PKTINFO = 3;
export const NETLINK_BROADCAST_ERROR = 4;
export const NETLINK_NO_ENOBUFS = 5;
export const NETLINK_LISTEN_ALL_NSID = 8;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;

export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ARPHRD_ETHER = 1;
export const ARPHRD_LOOPBACK = 772;

export const SOL_PACKET = 263;
export const PACKET_ADD_MEMBERSHIP = 1;
export const PACKET_DROP_MEMBERSHIP = 2;
export const PACKET_AUXDATA = 8;
export const PACKET_MR_MULTICAST = 0;
export const PACKET_MR_PROMISC = 1;
export const PACKET_MR_ALLMULTI = 2;
export const PACKET_HOST = 0;
export const PACKET_BROADCAST = 1;
export const PACKET_MULTICAST = 2;
export const PACKET_OTHERHOST = 3;
export const PACKET_OUTGOING = 4;

export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_ERRQUEUE = 0x2000;
