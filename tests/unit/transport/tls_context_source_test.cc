// TlsContextSource: one context for every new connection, replaced whole by
// a good reload; a bad pair is refused naming the flag and the file, and the
// context in use stays.
#include "transport/tls_context_source.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/support/test_certificate.h"

namespace hive::transport {
namespace {

using ::hive::testing::MakeSelfSignedCertificate;
using ::hive::testing::ServedCommonName;
using ::hive::testing::TestCertificate;
using ::testing::HasSubstr;

class TlsContextSourceTest : public ::testing::Test {
 protected:
  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  FlagFile cert() const { return {"tls-cert", dir_ + "/tls.crt"}; }
  FlagFile key() const { return {"tls-key", dir_ + "/tls.key"}; }

  void Write(const FlagFile& file, const std::string& contents) {
    std::ofstream(file.path, std::ios::binary | std::ios::trunc) << contents;
  }
  void Install(const TestCertificate& pair) {
    Write(cert(), pair.certificate_pem);
    Write(key(), pair.key_pem);
  }

  std::unique_ptr<TlsContextSource> LoadFirst() {
    Install(first_);
    absl::StatusOr<std::unique_ptr<TlsContextSource>> source = TlsContextSource::Load(cert(), key());
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }

  static std::string Served(const TlsContextSource& source) {
    return ServedCommonName(source.current()->native_handle());
  }

  const std::string dir_ = ::testing::TempDir() + "/tls-source-" + NewUuid();
  const TestCertificate first_ = MakeSelfSignedCertificate("first.test");
  const TestCertificate second_ = MakeSelfSignedCertificate("second.test");
};

TEST_F(TlsContextSourceTest, EveryConnectionGetsTheSameContextUntilAReload) {
  std::unique_ptr<TlsContextSource> source = LoadFirst();
  ASSERT_NE(source, nullptr);

  EXPECT_EQ(source->current(), source->current());
  EXPECT_EQ(Served(*source), "first.test");
}

TEST_F(TlsContextSourceTest, GoodReloadSwapsTheContextAndTheOldOneStaysWithItsHolders) {
  std::unique_ptr<TlsContextSource> source = LoadFirst();
  ASSERT_NE(source, nullptr);
  const std::shared_ptr<asio::ssl::context> open_connection = source->current();
  Install(second_);

  ASSERT_TRUE(source->Reload().ok());

  EXPECT_EQ(Served(*source), "second.test");
  EXPECT_NE(source->current(), open_connection);
  EXPECT_EQ(ServedCommonName(open_connection->native_handle()), "first.test");
}

struct BadPairCase {
  std::string name;
  // What the certificate and key files hold after the bad update.
  enum { kGarbageCertificate, kGarbageKey, kKeyOfAnotherCertificate, kMissingKey } update;
  std::string error;  // with CERT and KEY for the paths
};

class TlsContextSourceBadPairTest : public TlsContextSourceTest, public ::testing::WithParamInterface<BadPairCase> {};

TEST_P(TlsContextSourceBadPairTest, IsRefusedNamingTheFileAndTheOldContextKeepsServing) {
  std::unique_ptr<TlsContextSource> source = LoadFirst();
  ASSERT_NE(source, nullptr);
  const std::shared_ptr<asio::ssl::context> before = source->current();
  switch (GetParam().update) {
    case BadPairCase::kGarbageCertificate:
      Write(cert(), "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
      break;
    case BadPairCase::kGarbageKey:
      Write(cert(), second_.certificate_pem);
      Write(key(), "garbage");
      break;
    case BadPairCase::kKeyOfAnotherCertificate:
      Write(cert(), second_.certificate_pem);
      break;
    case BadPairCase::kMissingKey:
      std::filesystem::remove(key().path);
      break;
  }

  absl::Status reloaded = source->Reload();

  EXPECT_TRUE(absl::IsInvalidArgument(reloaded)) << reloaded;
  std::string expected = GetParam().error;
  for (auto [placeholder, path] : {std::pair{"CERT", cert().path}, std::pair{"KEY", key().path}}) {
    for (size_t at = expected.find(placeholder); at != std::string::npos; at = expected.find(placeholder)) {
      expected.replace(at, std::string(placeholder).size(), path);
    }
  }
  EXPECT_THAT(std::string(reloaded.message()), HasSubstr(expected));
  EXPECT_EQ(source->current(), before);
  EXPECT_EQ(Served(*source), "first.test");
}

INSTANTIATE_TEST_SUITE_P(
    Updates, TlsContextSourceBadPairTest,
    ::testing::Values(BadPairCase{"GarbageCertificate", BadPairCase::kGarbageCertificate,
                                  "--tls-cert: CERT: not a PEM certificate chain"},
                      BadPairCase{"GarbageKey", BadPairCase::kGarbageKey, "--tls-key: KEY: not a PEM private key"},
                      BadPairCase{"KeyOfAnotherCertificate", BadPairCase::kKeyOfAnotherCertificate,
                                  "--tls-key: KEY: not the private key of --tls-cert CERT"},
                      BadPairCase{"MissingKey", BadPairCase::kMissingKey, "--tls-key: KEY: cannot read the file"}),
    [](const ::testing::TestParamInfo<BadPairCase>& info) { return info.param.name; });

TEST_F(TlsContextSourceTest, BadPairAtLoadIsAnErrorNamingTheFile) {
  Write(cert(), first_.certificate_pem);
  Write(key(), second_.key_pem);

  absl::StatusOr<std::unique_ptr<TlsContextSource>> source = TlsContextSource::Load(cert(), key());

  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().message(),
            "--tls-key: " + key().path + ": not the private key of --tls-cert " + cert().path);
}

TEST_F(TlsContextSourceTest, ChainAfterTheLeafIsServedToo) {
  const TestCertificate intermediate = MakeSelfSignedCertificate("intermediate.test");
  Write(cert(), first_.certificate_pem + intermediate.certificate_pem);
  Write(key(), first_.key_pem);

  absl::StatusOr<std::unique_ptr<TlsContextSource>> source = TlsContextSource::Load(cert(), key());

  ASSERT_TRUE(source.ok()) << source.status();
  STACK_OF(X509)* chain = nullptr;
  ASSERT_EQ(SSL_CTX_get0_chain_certs((*source)->current()->native_handle(), &chain), 1);
  EXPECT_EQ(sk_X509_num(chain), 1);
}

}  // namespace
}  // namespace hive::transport
