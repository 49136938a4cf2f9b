// loopsep beats — placeholder until issue #3 lands.
#include "commands.h"

namespace loopsep::cli {

int run_beats(const Argv&) { return not_built_yet("beats", 3); }

}  // namespace loopsep::cli
