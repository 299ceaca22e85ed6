#include "clients/device_sim/device_roster.h"

#include <fstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bridge/uuid.h"
#include "clients/device_sim/derived_ids.h"

namespace hive::sim {

DeviceRoster::DeviceRoster(std::vector<RosterEntry> entries, std::vector<std::string> tokens,
                           std::optional<TokenMinter> minter)
    : entries_(std::move(entries)), tokens_(std::move(tokens)), minter_(std::move(minter)) {}

DeviceRoster DeviceRoster::Generate(const SimOptions& options, TokenMinter minter) {
  std::vector<RosterEntry> entries;
  entries.reserve(options.devices);
  for (int i = 0; i < options.devices; ++i) {
    RosterEntry entry;
    entry.device_id = !options.device_id.empty() ? options.device_id : DerivedUuid(options.seed, "device", i);
    entry.account_id =
        options.accounts > 1 ? DerivedUuid(options.seed, "account", i % options.accounts) : options.account;
    entries.push_back(std::move(entry));
  }
  return DeviceRoster(std::move(entries), {}, std::move(minter));
}

absl::StatusOr<DeviceRoster> DeviceRoster::ReadTokensFile(const std::string& path, int limit) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--tokens-file: cannot read ", path));
  std::vector<RosterEntry> entries;
  std::vector<std::string> tokens;
  std::string line;
  for (int number = 1; std::getline(in, line) && (limit == 0 || static_cast<int>(entries.size()) < limit); ++number) {
    const absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || absl::StartsWith(text, "#")) continue;
    const std::vector<absl::string_view> fields = absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    const auto where = [&] { return absl::StrCat("--tokens-file: ", path, ":", number, ": "); };
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "expected \"device_id account_id token\", got ", fields.size(), " fields"));
    }
    if (!IsUuid(fields[0]) || !IsUuid(fields[1])) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "device_id and account_id must be UUIDs"));
    }
    entries.push_back({absl::AsciiStrToLower(fields[0]), absl::AsciiStrToLower(fields[1])});
    tokens.emplace_back(fields[2]);
  }
  if (entries.empty()) return absl::InvalidArgumentError(absl::StrCat("--tokens-file: ", path, " names no devices"));
  if (limit != 0 && static_cast<int>(entries.size()) < limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("--devices: ", limit, " asked for, but --tokens-file names only ", entries.size()));
  }
  return DeviceRoster(std::move(entries), std::move(tokens), std::nullopt);
}

absl::StatusOr<DeviceRoster> DeviceRoster::FromOptions(const SimOptions& options, const Clock& clock) {
  if (!options.tokens_file.empty()) return ReadTokensFile(options.tokens_file, options.devices);
  absl::StatusOr<TokenMinter> minter = TokenMinter::FromSecretFile(options.jwt_secret_file, options.token_ttl, clock);
  if (!minter.ok()) return minter.status();
  return Generate(options, *std::move(minter));
}

absl::StatusOr<std::string> DeviceRoster::TokenFor(size_t index) const {
  if (minter_.has_value()) return minter_->Mint(entries_[index].device_id, entries_[index].account_id);
  return tokens_[index];
}

}  // namespace hive::sim
