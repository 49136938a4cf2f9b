// Built only when loopsep_engine is not (a partial checkout): separate/harvest say so.
#include "commands.h"

namespace loopsep::cli {

int run_separate(const Argv&) { return not_built_yet("separate", 7); }
int run_harvest(const Argv&) { return not_built_yet("harvest", 8); }

}  // namespace loopsep::cli
