#include "bridge/bus/message_signer.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

#include "bridge/bus/cluster_messages.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

constexpr char kKey[] = "0123456789abcdef0123456789abcdef-cluster";
constexpr char kOtherKey[] = "fedcba9876543210fedcba9876543210-cluster";
constexpr char kDevice[] = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b";

std::unique_ptr<MessageSigner> Signer(absl::string_view key = kKey) {
  absl::StatusOr<std::unique_ptr<MessageSigner>> signer = MessageSigner::FromKey(key);
  EXPECT_TRUE(signer.ok()) << signer.status();
  return *std::move(signer);
}

MessageAddress RequestAddress(absl::string_view device = kDevice) {
  return {ClusterMessageKind::kRequest, cluster::kRequestsExchange, device};
}

AmqpMessage Request() {
  hive::bridge::v1::SendDeviceRequestRequest request;
  request.set_device_id(kDevice);
  request.set_request_id("r-1");
  request.mutable_command()->mutable_scheduler_action()->set_action(hive::bridge::v1::SchedulerAction::ACTION_STOP);
  AmqpMessage message = cluster::EncodeRoutedRequest(request, absl::Seconds(5), "call-1", "hive.replies.replica-2");
  message.message_id = "m-1";
  message.headers.emplace_back("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  return message;
}

AmqpMessage Signed(const MessageSigner& signer, AmqpMessage message, const MessageAddress& address = RequestAddress()) {
  signer.Sign(address, message);
  return message;
}

AmqpValue* Header(AmqpMessage& message, absl::string_view name) {
  for (auto& [key, value] : message.headers) {
    if (key == name) return &value;
  }
  return nullptr;
}

TEST(MessageSigner, SignedMessageVerifies) {
  auto signer = Signer();
  AmqpMessage message = Signed(*signer, Request());
  EXPECT_EQ(signer->Verify(RequestAddress(), message), std::nullopt);
  ASSERT_NE(Header(message, kKeyIdHeader), nullptr);
  EXPECT_EQ(std::get<std::string>(*Header(message, kKeyIdHeader)), signer->key_id());
  EXPECT_EQ(signer->key_id().size(), 8u);
  EXPECT_EQ(std::get<std::string>(*Header(message, kSignatureHeader)).size(), 64u);
}

TEST(MessageSigner, SigningAgainReplacesTheSignature) {
  auto signer = Signer();
  AmqpMessage message = Signed(*signer, Request());
  message.body += "x";
  signer->Sign(RequestAddress(), message);
  EXPECT_EQ(signer->Verify(RequestAddress(), message), std::nullopt);
  int signatures = 0;
  for (const auto& [name, value] : message.headers) signatures += name == kSignatureHeader ? 1 : 0;
  EXPECT_EQ(signatures, 1);
}

TEST(MessageSigner, HeaderOrderAndBrokerStampedHeadersDoNotMatter) {
  auto signer = Signer();
  AmqpMessage message = Signed(*signer, Request());
  std::reverse(message.headers.begin(), message.headers.end());
  message.headers.emplace_back("x-stream-offset", int64_t{42});
  EXPECT_EQ(signer->Verify(RequestAddress(), message), std::nullopt);
}

TEST(MessageSigner, ChangedBodyFails) {
  auto signer = Signer();
  AmqpMessage message = Signed(*signer, Request());
  message.body[message.body.size() - 1] ^= 1;
  EXPECT_EQ(signer->Verify(RequestAddress(), message), SignatureRejection::kBadSignature);
}

TEST(MessageSigner, ChangedHeaderFails) {
  auto signer = Signer();
  AmqpMessage message = Signed(*signer, Request());
  *Header(message, "x-hive-timeout-ms") = int64_t{600000};
  EXPECT_EQ(signer->Verify(RequestAddress(), message), SignatureRejection::kBadSignature);
}

TEST(MessageSigner, HeaderAddedLaterIsSignedToo) {
  auto signer = Signer();
  AmqpMessage message = Signed(*signer, Request());
  *Header(message, "traceparent") = std::string("00-ffffffffffffffffffffffffffffffff-b7ad6b7169203331-01");
  EXPECT_EQ(signer->Verify(RequestAddress(), message), SignatureRejection::kBadSignature);
}

TEST(MessageSigner, AddedOrRemovedHeaderFails) {
  auto signer = Signer();
  AmqpMessage added = Signed(*signer, Request());
  added.headers.emplace_back("x-hive-schema-error", "forged");
  EXPECT_EQ(signer->Verify(RequestAddress(), added), SignatureRejection::kBadSignature);
  AmqpMessage removed = Signed(*signer, Request());
  removed.headers.erase(removed.headers.begin());
  EXPECT_EQ(signer->Verify(RequestAddress(), removed), SignatureRejection::kBadSignature);
}

TEST(MessageSigner, HeaderOfAnotherTypeFails) {
  auto signer = Signer();
  AmqpMessage message = Signed(*signer, Request());
  *Header(message, "x-hive-timeout-ms") = std::string("5000");
  EXPECT_EQ(signer->Verify(RequestAddress(), message), SignatureRejection::kBadSignature);
}

TEST(MessageSigner, AnotherRoutingKeyFails) {
  auto signer = Signer();
  AmqpMessage message = Signed(*signer, Request());
  EXPECT_EQ(signer->Verify(RequestAddress("another-device"), message), SignatureRejection::kBadSignature);
}

TEST(MessageSigner, AnotherExchangeFails) {
  auto signer = Signer();
  AmqpMessage message = Signed(*signer, Request());
  EXPECT_EQ(signer->Verify({ClusterMessageKind::kRequest, "", kDevice}, message), SignatureRejection::kBadSignature);
}

TEST(MessageSigner, AnotherKindFails) {
  auto signer = Signer();
  AmqpMessage message = Signed(*signer, Request());
  EXPECT_EQ(signer->Verify({ClusterMessageKind::kAnswer, cluster::kRequestsExchange, kDevice}, message),
            SignatureRejection::kBadSignature);
}

TEST(MessageSigner, ChangedMessageIdCorrelationIdOrReplyToFails) {
  auto signer = Signer();
  for (std::string AmqpMessage::*field :
       {&AmqpMessage::message_id, &AmqpMessage::correlation_id, &AmqpMessage::reply_to, &AmqpMessage::content_type}) {
    AmqpMessage message = Signed(*signer, Request());
    message.*field += "-moved";
    EXPECT_EQ(signer->Verify(RequestAddress(), message), SignatureRejection::kBadSignature);
  }
}

TEST(MessageSigner, LengthPrefixesKeepPartsApart) {
  // "ab" + "c" and "a" + "bc" must not sign alike.
  auto signer = Signer();
  AmqpMessage first = Request();
  first.correlation_id = "ab";
  first.reply_to = "c";
  signer->Sign(RequestAddress(), first);
  AmqpMessage second = first;
  second.correlation_id = "a";
  second.reply_to = "bc";
  EXPECT_EQ(signer->Verify(RequestAddress(), second), SignatureRejection::kBadSignature);
}

TEST(MessageSigner, MissingSignatureIsRefused) {
  auto signer = Signer();
  EXPECT_EQ(signer->Verify(RequestAddress(), Request()), SignatureRejection::kMissingSignature);
}

TEST(MessageSigner, GarbledSignatureIsRefused) {
  auto signer = Signer();
  AmqpMessage message = Signed(*signer, Request());
  *Header(message, kSignatureHeader) = std::string("not hex");
  EXPECT_EQ(signer->Verify(RequestAddress(), message), SignatureRejection::kBadSignature);
  *Header(message, kSignatureHeader) = int64_t{7};
  EXPECT_EQ(signer->Verify(RequestAddress(), message), SignatureRejection::kBadSignature);
}

TEST(MessageSigner, AnotherKeyUnderOurKeyIdIsABadSignature) {
  auto signer = Signer();
  auto other = Signer(kOtherKey);
  AmqpMessage message = Signed(*other, Request());
  *Header(message, kKeyIdHeader) = signer->key_id();
  EXPECT_EQ(signer->Verify(RequestAddress(), message), SignatureRejection::kBadSignature);
}

TEST(MessageSigner, AnotherKeyIdIsAnUnknownKey) {
  auto signer = Signer();
  auto other = Signer(kOtherKey);
  EXPECT_NE(other->key_id(), signer->key_id());
  EXPECT_EQ(signer->Verify(RequestAddress(), Signed(*other, Request())), SignatureRejection::kUnknownKey);
  AmqpMessage no_key_id = Signed(*signer, Request());
  no_key_id.headers.erase(std::find_if(no_key_id.headers.begin(), no_key_id.headers.end(),
                                       [](const auto& header) { return header.first == kKeyIdHeader; }));
  EXPECT_EQ(signer->Verify(RequestAddress(), no_key_id), SignatureRejection::kUnknownKey);
}

TEST(MessageSigner, KeyIdIsTheStartOfTheKeysSha256) {
  // printf %s 0123456789abcdef0123456789abcdef-cluster | sha256sum
  EXPECT_EQ(Signer()->key_id(), "1b9c5cdd");
}

TEST(MessageSigner, ShortKeyIsRefused) {
  absl::StatusOr<std::unique_ptr<MessageSigner>> signer = MessageSigner::FromKey(std::string(31, 'k'));
  ASSERT_FALSE(signer.ok());
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(signer.status().message(), ::testing::HasSubstr("31 bytes; at least 32"));
  EXPECT_TRUE(MessageSigner::FromKey(std::string(32, 'k')).ok());
}

TEST(MessageSigner, KeyFileIsTrimmedAndItsErrorsNameTheFlag) {
  const std::string path = ::testing::TempDir() + "/cluster-key-" + NewUuid();
  std::ofstream(path) << "  " << kKey << "\n\n";
  absl::StatusOr<std::unique_ptr<MessageSigner>> from_file = MessageSigner::FromKeyFile(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ((*from_file)->key_id(), Signer()->key_id());

  std::ofstream(path) << std::string(20, 'k') << "          \n";
  absl::StatusOr<std::unique_ptr<MessageSigner>> short_key = MessageSigner::FromKeyFile(path);
  ASSERT_FALSE(short_key.ok());
  EXPECT_THAT(std::string(short_key.status().message()), ::testing::StartsWith("--cluster-key-file: "));
  EXPECT_THAT(short_key.status().message(), ::testing::HasSubstr("20 bytes; at least 32"));
  std::remove(path.c_str());

  absl::StatusOr<std::unique_ptr<MessageSigner>> missing = MessageSigner::FromKeyFile(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), ::testing::StartsWith("--cluster-key-file: cannot read "));
}

std::unique_ptr<MessageSigner> Keyring(const std::vector<std::string>& keys) {
  absl::StatusOr<std::unique_ptr<MessageSigner>> signer = MessageSigner::FromKeys(keys);
  EXPECT_TRUE(signer.ok()) << signer.status();
  return *std::move(signer);
}

// A rotation by rolling restarts: at every step any two replicas, each on
// the key file of the step before or after, accept each other's messages.
TEST(MessageSigner, RotationSignsWithTheFirstKeyAndAcceptsEachSoNoTwoStepsApartAreDeaf) {
  std::vector<std::unique_ptr<MessageSigner>> steps;
  for (const std::vector<std::string>& keys :
       std::vector<std::vector<std::string>>{{kKey}, {kKey, kOtherKey}, {kOtherKey, kKey}, {kOtherKey}}) {
    steps.push_back(Keyring(keys));
  }
  for (size_t step = 0; step < steps.size(); ++step) {
    for (size_t next = step; next < std::min(step + 2, steps.size()); ++next) {
      EXPECT_EQ(steps[next]->Verify(RequestAddress(), Signed(*steps[step], Request())), std::nullopt)
          << "step " << step << " to " << next;
      EXPECT_EQ(steps[step]->Verify(RequestAddress(), Signed(*steps[next], Request())), std::nullopt)
          << "step " << next << " to " << step;
    }
  }
  EXPECT_EQ(steps[1]->key_id(), Signer(kKey)->key_id());
  EXPECT_EQ(steps[2]->key_id(), Signer(kOtherKey)->key_id());
  EXPECT_THAT(steps[2]->accepted_key_ids(), ::testing::ElementsAre(Signer(kOtherKey)->key_id(), Signer()->key_id()));
  // The old key, once dropped, is unknown; the second key is checked as the first is.
  EXPECT_EQ(steps[3]->Verify(RequestAddress(), Signed(*steps[0], Request())), SignatureRejection::kUnknownKey);
  AmqpMessage tampered = Signed(*steps[2], Request());
  tampered.body += " ";
  EXPECT_EQ(steps[1]->Verify(RequestAddress(), tampered), SignatureRejection::kBadSignature);
}

TEST(MessageSigner, KeyFileHoldsOneKeyPerLineAndNamesTheLineThatIsWrong) {
  const std::string path = ::testing::TempDir() + "/cluster-keys-" + NewUuid();
  std::ofstream(path) << kOtherKey << "\n\n   " << kKey << "  \n";
  absl::StatusOr<std::unique_ptr<MessageSigner>> both = MessageSigner::FromKeyFile(path);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_THAT((*both)->accepted_key_ids(), ::testing::ElementsAre(Signer(kOtherKey)->key_id(), Signer()->key_id()));

  auto refused = [&](const std::string& contents) {
    std::ofstream(path) << contents;
    absl::StatusOr<std::unique_ptr<MessageSigner>> signer = MessageSigner::FromKeyFile(path);
    EXPECT_FALSE(signer.ok()) << contents;
    return signer.ok() ? std::string() : std::string(signer.status().message());
  };
  EXPECT_THAT(refused(absl::StrCat(kKey, "\n", std::string(20, 'k'), "\n")),
              ::testing::HasSubstr("cluster key 2 has 20 bytes; at least 32"));
  EXPECT_THAT(refused(absl::StrCat(kKey, "\n", kKey, "\n")), ::testing::HasSubstr("cluster key 2 is given twice"));
  EXPECT_THAT(refused(" \n\n"), ::testing::HasSubstr("no cluster key"));
  EXPECT_THAT(refused(" \n\n"), ::testing::StartsWith("--cluster-key-file: "));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace hive
