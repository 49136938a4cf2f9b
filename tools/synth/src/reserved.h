// Sound sources kept back for independent evaluation. They must never reach
// training, validation, benchmarks, tests or samples/: every renderer that
// opens a sound file or a soundfont calls check_not_reserved() first, so no
// later change to a pool can pick one up by accident.
#pragma once

#include <string>

namespace loopsep::synth {

// True when `path` names a reserved source: a musescore-general soundfont,
// a file inside the Hydrogen kit "Gimme A Hand 1.0", or one of the reserved
// sonic-pi samples. Judged on the path's components (any folder), so copies
// or links under another root are refused as well.
bool is_reserved_source(const std::string& path);

// Throws input_error naming `path` when it is reserved.
void check_not_reserved(const std::string& path);

}  // namespace loopsep::synth
