// Shared pieces of psbench, the native half of the end-to-end benchmark harness (bench/run.py is
// the other half): clocks, network namespaces, rtnetlink requests, Redis helpers, percentiles.
// Everything here is deliberately small and direct: the generators and probes must cost as
// little as possible so that what is measured is the daemon under test.
#pragma once

#include <hiredis/hiredis.h>
#include <libmnl/libmnl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace psbench {

// CLOCK_MONOTONIC in nanoseconds.
int64_t NowNs();

// Prints "psbench: <msg>" to stderr and exits 1.
[[noreturn]] void Die(const std::string& msg);

// Runs `fn` with the calling thread in network namespace /run/netns/<ns> ("" = stay), then
// switches back. Sockets created inside keep that namespace.
template <typename Fn>
void InNetns(const std::string& ns, Fn fn);
void EnterNetns(const std::string& ns, int* saved_fd);
void LeaveNetns(int saved_fd);

template <typename Fn>
void InNetns(const std::string& ns, Fn fn) {
  int saved = -1;
  EnterNetns(ns, &saved);
  fn();
  LeaveNetns(saved);
}

// An rtnetlink socket (optionally subscribed to RTNLGRP_LINK with a forced receive buffer).
mnl_socket* OpenRtnl(bool subscribe_links, int rcvbuf_bytes);

// RTM_NEWLINK (set) for an existing ifindex. `flags_mask`/`flags` change ifi_flags; mtu > 0 sets
// IFLA_MTU. With `ack`, waits for the kernel's answer and dies on an error; without, fire and
// forget (errors show up later as NLMSG_ERROR and are counted by DrainErrors).
void SetLink(mnl_socket* nl, int ifindex, unsigned flags_mask, unsigned flags, uint32_t mtu,
             bool ack);
// Reads (non-blocking) any pending answers on a fire-and-forget socket; returns errors seen.
int DrainErrors(mnl_socket* nl);

// Interface indexes of `names` in namespace `ns`; dies if one is missing.
std::vector<int> Ifindexes(const std::string& ns, const std::vector<std::string>& names);

// Port and peer names used by the harness: Ethernet<i> in the switch namespace, w<i> in the wire.
std::vector<std::string> PortNames(int n, const std::string& prefix);

redisContext* ConnectRedis(const std::string& unix_socket, int db);
// Checks a reply; dies with `what` when it is null or an error.
void CheckReply(redisReply* r, redisContext* c, const char* what);

// Percentile (0..100) of `v`, nearest-rank; sorts a copy.
double Percentile(std::vector<double> v, double p);

}  // namespace psbench
