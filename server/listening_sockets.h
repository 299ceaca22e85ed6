// server/listening_sockets.h
// The TCP sockets listening on a port in this network namespace, as the
// kernel lists them in /proc/net/tcp and /proc/net/tcp6, so that the device
// endpoint can tell its own listeners from another process's.
//
// Why: the endpoint's I/O threads share the device port with SO_REUSEPORT,
// and Linux lets any other process of the same user join such a group. A
// second bridge started on the same --ws-listen would then not fail with
// "address in use": both would run, and the kernel would split the devices
// between them, each bridge serving half the fleet and refusing the other
// half's tokens if their secrets differ. The endpoint refuses to start instead
// (device_endpoint.cc, Listen).
//
//   absl::StatusOr<std::vector<ListeningSocket>> on_port = ListeningSockets(port);
//   for (const ListeningSocket& s : *on_port) if (!ours.contains(s.inode) && Overlaps(s.address, mine)) ...
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asio/ip/address.hpp"

namespace hive {

struct ListeningSocket {
  asio::ip::address address;
  uint16_t port = 0;
  // The socket's inode: fstat() of a descriptor of it gives the same number.
  uint64_t inode = 0;
};

// The sockets in the LISTEN state on `port`, IPv4 and IPv6; UNAVAILABLE when
// /proc/net/tcp cannot be read (no /proc, as in a bare chroot).
absl::StatusOr<std::vector<ListeningSocket>> ListeningSockets(uint16_t port);

// The sockets in the LISTEN state on `port` in one table in the format of
// /proc/net/tcp or /proc/net/tcp6 (header line first). Lines it cannot read
// are skipped.
std::vector<ListeningSocket> ParseListeningSockets(absl::string_view table, uint16_t port);

// Whether a connection to one of the two addresses could reach a listener
// bound to the other: the same address, or either one is a wildcard
// (0.0.0.0 or ::) of a family that takes the other's connections.
bool Overlaps(const asio::ip::address& a, const asio::ip::address& b);

}  // namespace hive
