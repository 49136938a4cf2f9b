// loopsep train — placeholder until issue #6 lands.
#include "commands.h"

namespace loopsep::cli {

int run_train(const Argv&) { return not_built_yet("train", 6); }

}  // namespace loopsep::cli
