// For the libFuzzer targets (tests/*/fuzz): runs one reading or checking path on fuzzed input, where a
// loopsep::Error is a fine answer. Anything else (another exception, a crash, a sanitizer report) is
// left to escape: libFuzzer reports it as a finding.
#pragma once

#include "loopsep/error.h"

namespace loopsep::fuzz {

template <class F>
void survive(F&& f) {
    try {
        f();
    } catch (const loopsep::Error&) {
    }
}

}  // namespace loopsep::fuzz
