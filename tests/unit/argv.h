// argv for the unit tests of the command lines (portsyncd's, portsyncctl's).
#ifndef PORTSYNCD_TESTS_UNIT_ARGV_H_
#define PORTSYNCD_TESTS_UNIT_ARGV_H_

#include <getopt.h>

#include <string>
#include <vector>

namespace portsyncd {

// argv for a getopt_long parser: the program name, then `args`; resets getopt's scan.
class Argv {
 public:
  Argv(const char* program, std::vector<std::string> args) : args_(std::move(args)) {
    args_.insert(args_.begin(), program);
    for (std::string& a : args_) argv_.push_back(a.data());
    argv_.push_back(nullptr);
    optind = 0;
  }
  int argc() const { return static_cast<int>(args_.size()); }
  char** argv() { return argv_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<char*> argv_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_TESTS_UNIT_ARGV_H_
