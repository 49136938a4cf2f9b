// loopsep harvest — placeholder until issue #8 lands.
#include "commands.h"

namespace loopsep::cli {

int run_harvest(const Argv&) { return not_built_yet("harvest", 8); }

}  // namespace loopsep::cli
