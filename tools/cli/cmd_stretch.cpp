// loopsep stretch — placeholder until issue #3 lands.
#include "commands.h"

namespace loopsep::cli {

int run_stretch(const Argv&) { return not_built_yet("stretch", 3); }

}  // namespace loopsep::cli
