#include "tests/integration/support/raw_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace hive::integration {
namespace {

constexpr absl::Duration kHandshakeTimeout = absl::Seconds(5);

int RemainingMillis(absl::Time deadline) {
  return static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
}

}  // namespace

int RawConnection::Frame::close_code() const {
  if (payload.size() < 2) return 1005;
  return (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]);
}

std::string RawConnection::Frame::close_reason() const { return payload.size() < 2 ? "" : payload.substr(2); }

absl::StatusOr<RawConnection> RawConnection::Open(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect 127.0.0.1:", port, ": ", std::strerror(error)));
  }
  return RawConnection(fd);
}

absl::StatusOr<RawConnection> RawConnection::OpenWebSocket(int port, absl::string_view token) {
  absl::StatusOr<RawConnection> connection = Open(port);
  if (!connection.ok()) return connection.status();
  const std::string upgrade =
      absl::StrCat("GET /v1/devices HTTP/1.1\r\nHost: 127.0.0.1:", port,
                   "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ",
                   token, "\r\n\r\n");
  if (absl::Status written = connection->Write(upgrade); !written.ok()) return written;
  const absl::Time deadline = absl::Now() + kHandshakeTimeout;
  size_t end = std::string::npos;
  while ((end = connection->buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!connection->Fill(connection->buffer_.size() + 1, deadline)) {
      return absl::UnavailableError("no upgrade response");
    }
  }
  const std::string head = connection->buffer_.substr(0, end);
  if (head.rfind("HTTP/1.1 101", 0) != 0) return absl::UnavailableError(absl::StrCat("upgrade refused: ", head));
  connection->buffer_.erase(0, end + 4);
  std::optional<Frame> authenticated = connection->NextFrame(kHandshakeTimeout);
  if (!authenticated.has_value() || authenticated->payload.find("\"authenticated\"") == std::string::npos) {
    return absl::UnauthenticatedError("no authenticated frame");
  }
  return connection;
}

RawConnection::RawConnection(RawConnection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)) {}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

void RawConnection::Reset() {
  if (fd_ < 0) return;
  const linger abort_on_close{.l_onoff = 1, .l_linger = 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  close(std::exchange(fd_, -1));
}

absl::Status RawConnection::Write(absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    }
    bytes.remove_prefix(static_cast<size_t>(sent));
  }
  return absl::OkStatus();
}

RawConnection::Read RawConnection::ReadOnce(absl::Time deadline) {
  char chunk[4096];
  while (true) {
    pollfd ready{fd_, POLLIN, 0};
    const int polled = poll(&ready, 1, RemainingMillis(deadline));
    if (polled < 0 && errno == EINTR) continue;
    if (polled <= 0) return Read::kTimedOut;
    const ssize_t got = recv(fd_, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return Read::kClosed;
    buffer_.append(chunk, static_cast<size_t>(got));
    return Read::kData;
  }
}

bool RawConnection::Fill(size_t size, absl::Time deadline) {
  while (buffer_.size() < size) {
    if (ReadOnce(deadline) != Read::kData) return false;
  }
  return true;
}

std::optional<RawConnection::HttpResponse> RawConnection::HttpGet(absl::string_view path, absl::Duration timeout) {
  if (!Write(absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")).ok()) {
    return std::nullopt;
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (Fill(buffer_.size() + 1, deadline)) {
  }
  constexpr size_t kStatusLine = 12;  // "HTTP/1.1 503"
  const size_t head_end = buffer_.find("\r\n\r\n");
  HttpResponse response;
  if (buffer_.size() < kStatusLine || head_end == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(buffer_).substr(9, 3), &response.status)) {
    return std::nullopt;
  }
  response.body = buffer_.substr(head_end + 4);
  buffer_.clear();
  return response;
}

bool RawConnection::WaitClosedByPeer(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  Read read = Read::kData;
  while ((read = ReadOnce(deadline)) == Read::kData) {
  }
  return read == Read::kClosed;
}

int RawConnection::HttpGetStatus(absl::string_view path, absl::Duration timeout) {
  std::optional<HttpResponse> response = HttpGet(path, timeout);
  return response.has_value() ? response->status : -1;
}

absl::Status RawConnection::SendFrame(uint8_t opcode, absl::string_view payload) {
  std::string frame;
  frame.push_back(static_cast<char>(0x80 | opcode));
  if (payload.size() < 126) {
    frame.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
    frame.push_back(static_cast<char>(payload.size() & 0xff));
  }
  std::random_device random;
  char mask[4];
  for (char& byte : mask) byte = static_cast<char>(random() & 0xff);
  frame.append(mask, sizeof mask);
  for (size_t i = 0; i < payload.size(); ++i) frame.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return Write(frame);
}

std::optional<RawConnection::Frame> RawConnection::NextFrame(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  if (!Fill(2, deadline)) return std::nullopt;
  Frame frame;
  frame.opcode = static_cast<uint8_t>(buffer_[0]) & 0x0f;
  size_t length = static_cast<uint8_t>(buffer_[1]) & 0x7f;  // server frames are not masked
  size_t header = 2;
  if (length == 126) {
    if (!Fill(4, deadline)) return std::nullopt;
    length = (static_cast<uint8_t>(buffer_[2]) << 8) | static_cast<uint8_t>(buffer_[3]);
    header = 4;
  } else if (length == 127) {
    if (!Fill(10, deadline)) return std::nullopt;
    length = 0;
    for (size_t i = 2; i < 10; ++i) length = (length << 8) | static_cast<uint8_t>(buffer_[i]);
    header = 10;
  }
  if (!Fill(header + length, deadline)) return std::nullopt;
  frame.payload = buffer_.substr(header, length);
  buffer_.erase(0, header + length);
  return frame;
}

std::optional<RawConnection::Frame> RawConnection::NextFrameOfOpcode(uint8_t opcode, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (std::optional<Frame> frame = NextFrame(deadline - absl::Now())) {
    if (frame->opcode == opcode) return frame;
  }
  return std::nullopt;
}

}  // namespace hive::integration
