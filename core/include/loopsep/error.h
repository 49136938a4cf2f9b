// loopsep — error types shared by every component.
//
// Every failure a user can cause is reported as a loopsep::Error whose what()
// is one line naming the file (or parameter) and the problem. The CLI prints
// it as "loopsep: <what>" and exits with exit_code(): 1 for bad input, 2 for
// bad usage. Nothing else is thrown across public headers.
#pragma once

#include <stdexcept>
#include <string>

namespace loopsep {

enum class ErrorKind { Input, Usage };

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message)
        : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const { return kind_; }
    int exit_code() const { return kind_ == ErrorKind::Usage ? 2 : 1; }

private:
    ErrorKind kind_;
};

// Bad data: missing/corrupt/silent files, impossible values found in files.
inline Error input_error(const std::string& message) { return Error(ErrorKind::Input, message); }
// Bad invocation: unknown flags, out-of-range parameters.
inline Error usage_error(const std::string& message) { return Error(ErrorKind::Usage, message); }

}  // namespace loopsep
