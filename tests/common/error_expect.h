// Helpers for tests that expect a loopsep::Error.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "loopsep/error.h"

namespace loopsep::testing {

// The message of the loopsep::Error that f throws ("" when it throws none).
inline std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// The message of the input error f must throw (a test failure when it throws none or another kind).
inline std::string expect_input_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error thrown";
    return "";
}

}  // namespace loopsep::testing
