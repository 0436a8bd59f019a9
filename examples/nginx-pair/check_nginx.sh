#!/bin/sh
# vrrp_script for the nginx pair: exit 0 while nginx's master process runs. If it does not,
# try one restart and check again; exit 1 if nginx is still down, so the VIP moves to the peer.
pidfile=/run/nginx.pid

running() {
    [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

running && exit 0
systemctl restart nginx >/dev/null 2>&1 || service nginx restart >/dev/null 2>&1
sleep 1
running && exit 0
exit 1
