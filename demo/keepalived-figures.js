// keepalived 2.2.7's figures for the same events, measured in the same kind of lab (Debian's UML
// kernel 6.1, one CPU; client, two directors and three real servers in namespaces on a bridge,
// LVS-NAT one-armed, HTTP_GET with delay_loop 1, retry 2, delay_before_retry 1; VRRP v2 advert 1 s,
// priorities 150/100). Median [min..max] (runs).
export const keepalived = {
  realServerRemoval: '3.00 s [2.18..3.01] (3)',
  realServerClientFailures: '20 [14..20] (3): every request sent to the dead server, 1/3 at wrr 1:1:1',
  failoverAfterKill: '2.76 s [2.67..3.39] (5)',
  failoverClientFailures: '0 (one run of 10: 1 reset)',
  preemption: '4.05 s [3.75..4.24] (20)',
  handoverAfterStop: '0.624 s [0.615..0.633] (10)',
  handoverClientFailures: '6.5 [1..8] (10)',
  exitAfterStop: '1.06 s [1.04..1.13] (10)',
};
