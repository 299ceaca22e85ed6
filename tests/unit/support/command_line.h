// tests/unit/support/command_line.h
// A command line and an environment as main() receives them, built from
// strings, for the tests of the option parsers (server, simulator, load
// generator, hivectl, cli/). argv ends with a null pointer after argc
// entries, and envp is null-terminated, as the C runtime's are.
//
//   CommandLine line("hivebridge", {"--ws-listen=127.0.0.1:0"}, {"HIVEBRIDGE_IO_THREADS=2"});
//   absl::StatusOr<Config> config = ParseConfig(line.argc(), line.argv(), line.envp());
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace hive::testing {

class CommandLine {
 public:
  // `env` holds "NAME=value" entries, as `environ` does.
  CommandLine(std::string program, const std::vector<std::string>& args, std::vector<std::string> env = {})
      : words_{std::move(program)}, env_(std::move(env)) {
    words_.insert(words_.end(), args.begin(), args.end());
    argv_.reserve(words_.size() + 1);
    for (const std::string& word : words_) argv_.push_back(word.c_str());
    argv_.push_back(nullptr);
    envp_.reserve(env_.size() + 1);
    for (const std::string& entry : env_) envp_.push_back(entry.c_str());
    envp_.push_back(nullptr);
  }
  // The pointers point into this object's strings.
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;
  CommandLine(CommandLine&&) = delete;
  CommandLine& operator=(CommandLine&&) = delete;
  ~CommandLine() = default;

  int argc() const { return static_cast<int>(words_.size()); }
  const char* const* argv() const { return argv_.data(); }
  const char* const* envp() const { return envp_.data(); }

 private:
  std::vector<std::string> words_;
  std::vector<std::string> env_;
  std::vector<const char*> argv_;
  std::vector<const char*> envp_;
};

}  // namespace hive::testing
