#include "server/listening_sockets.h"

#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "server/proc_file.h"

namespace hive {
namespace {

// The state column's value for TCP_LISTEN.
constexpr absl::string_view kListen = "0A";

// One 32-bit word of an address as the kernel prints it: the word as the
// machine holds it, in hex, so its bytes (network order in memory) read
// reversed on a little-endian machine.
bool ParseWord(absl::string_view hex, uint8_t* bytes) {
  uint32_t word = 0;
  if (hex.size() != 8 || !absl::SimpleHexAtoi(hex, &word)) return false;
  std::memcpy(bytes, &word, sizeof(word));
  return true;
}

// "0100007F:1F90" (tcp) or 32 hex digits, a colon and the port (tcp6).
bool ParseAddress(absl::string_view text, asio::ip::address& address, uint16_t& port) {
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos) return false;
  const absl::string_view host = text.substr(0, colon);
  uint32_t port_value = 0;
  if (!absl::SimpleHexAtoi(text.substr(colon + 1), &port_value) || port_value > 0xffff) return false;
  port = static_cast<uint16_t>(port_value);
  if (host.size() == 8) {
    asio::ip::address_v4::bytes_type bytes{};
    if (!ParseWord(host, bytes.data())) return false;
    address = asio::ip::address_v4(bytes);
    return true;
  }
  if (host.size() == 32) {
    asio::ip::address_v6::bytes_type bytes{};
    for (size_t word = 0; word < 4; ++word) {
      if (!ParseWord(host.substr(word * 8, 8), bytes.data() + word * 4)) return false;
    }
    address = asio::ip::address_v6(bytes);
    return true;
  }
  return false;
}

}  // namespace

std::vector<ListeningSocket> ParseListeningSockets(absl::string_view table, uint16_t port) {
  std::vector<ListeningSocket> sockets;
  bool header = true;
  for (absl::string_view line : absl::StrSplit(table, '\n', absl::SkipEmpty())) {
    if (std::exchange(header, false)) continue;
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    const std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 10 || fields[3] != kListen) continue;
    ListeningSocket socket;
    if (!ParseAddress(fields[1], socket.address, socket.port) || socket.port != port) continue;
    if (!absl::SimpleAtoi(fields[9], &socket.inode)) continue;
    sockets.push_back(socket);
  }
  return sockets;
}

absl::StatusOr<std::vector<ListeningSocket>> ListeningSockets(uint16_t port) {
  const std::optional<std::string> v4 = ReadProcFile("/proc/net/tcp");
  if (!v4.has_value()) return absl::UnavailableError("cannot read /proc/net/tcp");
  std::vector<ListeningSocket> sockets = ParseListeningSockets(*v4, port);
  // A kernel without IPv6 has no tcp6 table, and nothing listens there.
  if (const std::optional<std::string> v6 = ReadProcFile("/proc/net/tcp6"); v6.has_value()) {
    for (ListeningSocket& socket : ParseListeningSockets(*v6, port)) sockets.push_back(socket);
  }
  return sockets;
}

bool Overlaps(const asio::ip::address& a, const asio::ip::address& b) {
  const auto normal = [](const asio::ip::address& address) -> asio::ip::address {
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
      return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    }
    return address;
  };
  const asio::ip::address x = normal(a);
  const asio::ip::address y = normal(b);
  if (x == y) return true;
  // :: takes IPv4 connections too unless the socket is IPv6-only, which
  // this table does not say: counted as overlapping, the safe answer.
  const auto takes = [](const asio::ip::address& wildcard, const asio::ip::address& other) {
    return wildcard.is_unspecified() && (wildcard.is_v6() || other.is_v4());
  };
  return takes(x, y) || takes(y, x);
}

}  // namespace hive
