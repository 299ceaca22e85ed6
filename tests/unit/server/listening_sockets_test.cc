#include "server/listening_sockets.h"

#include <string>
#include <vector>

#include "asio/ip/tcp.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

using asio::ip::make_address;

// Lines as Linux 6 prints them (trailing columns shortened).
constexpr char kTcp[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0\n"
    "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 100 0\n"
    "   2: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0 100 0\n"
    // An established connection to the port: not a listener.
    "   3: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4545 1 0 20 4\n"
    "   4: not a line the kernel writes\n";
constexpr char kTcp6[] =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
    "tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 4646 1 0 100 0\n";

std::vector<uint64_t> Inodes(const std::vector<ListeningSocket>& sockets) {
  std::vector<uint64_t> inodes;
  inodes.reserve(sockets.size());
  for (const ListeningSocket& socket : sockets) inodes.push_back(socket.inode);
  return inodes;
}

TEST(ListeningSockets, ReadsTheListenersOnThePortFromBothTables) {
  const std::vector<ListeningSocket> v4 = ParseListeningSockets(kTcp, 8080);
  EXPECT_THAT(Inodes(v4), ::testing::ElementsAre(4242, 4343));
  ASSERT_EQ(v4.size(), 2u);
  EXPECT_EQ(v4[0].address, make_address("127.0.0.1"));
  EXPECT_EQ(v4[1].address, make_address("0.0.0.0"));
  EXPECT_EQ(v4[0].port, 8080);

  const std::vector<ListeningSocket> v6 = ParseListeningSockets(kTcp6, 8080);
  ASSERT_EQ(v6.size(), 1u);
  EXPECT_EQ(v6[0].address, make_address("::1"));
  EXPECT_EQ(v6[0].inode, 4646u);

  EXPECT_THAT(Inodes(ParseListeningSockets(kTcp, 8081)), ::testing::ElementsAre(4444));
  EXPECT_TRUE(ParseListeningSockets(kTcp, 9).empty());
  EXPECT_TRUE(ParseListeningSockets("", 8080).empty());
}

// The kernel's own table, against a socket this test listens on.
TEST(ListeningSockets, FindsASocketThisProcessListensOn) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  absl::StatusOr<std::vector<ListeningSocket>> sockets = ListeningSockets(port);
  ASSERT_TRUE(sockets.ok()) << sockets.status();
  ASSERT_EQ(sockets->size(), 1u);
  EXPECT_EQ(sockets->front().address, make_address("127.0.0.1"));
  acceptor.close();
  sockets = ListeningSockets(port);
  ASSERT_TRUE(sockets.ok()) << sockets.status();
  EXPECT_TRUE(sockets->empty());
}

TEST(ListeningSockets, AddressesOverlapWhenEqualOrEitherIsAWildcardThatTakesTheOther) {
  EXPECT_TRUE(Overlaps(make_address("127.0.0.1"), make_address("127.0.0.1")));
  EXPECT_TRUE(Overlaps(make_address("0.0.0.0"), make_address("127.0.0.1")));
  EXPECT_TRUE(Overlaps(make_address("127.0.0.1"), make_address("0.0.0.0")));
  EXPECT_TRUE(Overlaps(make_address("::"), make_address("10.0.0.1")));
  EXPECT_TRUE(Overlaps(make_address("::"), make_address("::1")));
  EXPECT_TRUE(Overlaps(make_address("::ffff:127.0.0.1"), make_address("127.0.0.1")));
  EXPECT_FALSE(Overlaps(make_address("127.0.0.1"), make_address("127.0.0.2")));
  EXPECT_FALSE(Overlaps(make_address("0.0.0.0"), make_address("::1")));
  EXPECT_FALSE(Overlaps(make_address("::1"), make_address("127.0.0.1")));
}

}  // namespace
}  // namespace hive
