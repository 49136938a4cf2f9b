// loopsep separate — placeholder until issue #7 lands.
#include "commands.h"

namespace loopsep::cli {

int run_separate(const Argv&) { return not_built_yet("separate", 7); }

}  // namespace loopsep::cli
