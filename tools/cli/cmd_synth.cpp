// loopsep synth — placeholder until issue #5 lands.
#include "commands.h"

namespace loopsep::cli {

int run_synth(const Argv&) { return not_built_yet("synth", 5); }

}  // namespace loopsep::cli
