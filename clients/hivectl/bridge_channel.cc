#include "clients/hivectl/bridge_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bridge/status_macros.h"
#include "transport/tls_files.h"

namespace hive::ctl {
namespace {

using transport::FlagFile;

absl::StatusOr<std::string> ReadPem(const FlagFile& file) {
  std::ifstream in(file.path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--", file.flag, ": ", file.path, ": cannot read the file"));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenBridgeChannel(const GlobalOptions& global) {
  if (!global.tls) return grpc::CreateChannel(global.server, grpc::InsecureChannelCredentials());
  grpc::SslCredentialsOptions options;  // empty roots: gRPC's default, the system's CA certificates
  if (!global.ca_file.empty()) {
    const FlagFile ca{"ca", global.ca_file};
    HIVE_RETURN_IF_ERROR(transport::CheckCaCertificates(ca));
    HIVE_ASSIGN_OR_RETURN(options.pem_root_certs, ReadPem(ca));
  }
  if (!global.cert_file.empty()) {
    const FlagFile cert{"cert", global.cert_file};
    const FlagFile key{"key", global.key_file};
    HIVE_RETURN_IF_ERROR(transport::CheckCertificateAndKey(cert, key));
    HIVE_ASSIGN_OR_RETURN(options.pem_cert_chain, ReadPem(cert));
    HIVE_ASSIGN_OR_RETURN(options.pem_private_key, ReadPem(key));
  }
  grpc::ChannelArguments args;
  if (!global.server_name.empty()) args.SetSslTargetNameOverride(global.server_name);
  return grpc::CreateCustomChannel(global.server, grpc::SslCredentials(options), args);
}

}  // namespace hive::ctl
