// loopsep catalog — placeholder until issue #4 lands.
#include "commands.h"

namespace loopsep::cli {

int run_catalog(const Argv&) { return not_built_yet("catalog", 4); }

}  // namespace loopsep::cli
