#include "tests/integration/support/tls_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace hive::integration {
namespace {

std::string OpensslErrors() {
  std::string errors;
  while (unsigned long error = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(error, text, sizeof(text));
    absl::StrAppend(&errors, errors.empty() ? "" : "; ", text);
  }
  return errors;
}

// A blocking TCP connection to 127.0.0.1:`port` that gives up on a silent
// peer after 10 s (bounds a hang only).
absl::StatusOr<int> ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to 127.0.0.1:", port));
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::string> ServedCommonName(int port, const std::string& ca_file, absl::string_view alpn) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  if (context == nullptr || SSL_CTX_load_verify_locations(context.get(), ca_file.c_str(), nullptr) != 1) {
    return absl::InternalError(absl::StrCat("cannot set up a TLS client: ", OpensslErrors()));
  }
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  absl::StatusOr<int> fd = ConnectLoopback(port);
  if (!fd.ok()) return fd.status();
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(context.get()), &SSL_free);
  SSL_set_fd(ssl.get(), *fd);
  SSL_set_tlsext_host_name(ssl.get(), "localhost");
  SSL_set1_host(ssl.get(), "localhost");
  if (!alpn.empty()) {
    std::string protocols(1, static_cast<char>(alpn.size()));
    protocols.append(alpn.data(), alpn.size());
    SSL_set_alpn_protos(ssl.get(), reinterpret_cast<const unsigned char*>(protocols.data()),
                        static_cast<unsigned>(protocols.size()));
  }
  absl::StatusOr<std::string> common_name;
  if (SSL_connect(ssl.get()) != 1) {
    common_name = absl::UnavailableError(
        absl::StrCat("TLS handshake with 127.0.0.1:", port, " failed: ", OpensslErrors(),
                     " (verify: ", X509_verify_cert_error_string(SSL_get_verify_result(ssl.get())), ")"));
  } else {
    std::unique_ptr<X509, decltype(&X509_free)> peer(SSL_get1_peer_certificate(ssl.get()), &X509_free);
    char cn[256] = {};
    if (peer == nullptr ||
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer.get()), NID_commonName, cn, sizeof(cn)) < 0) {
      common_name = absl::InternalError("the server's certificate has no common name");
    } else {
      common_name = std::string(cn);
    }
    SSL_shutdown(ssl.get());
  }
  close(*fd);
  return common_name;
}

}  // namespace hive::integration
