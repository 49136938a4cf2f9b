// loopsep — limits that a loop's tags share wherever they are checked.
#pragma once

namespace loopsep {

// The fastest tempo a loop may be tagged with: what the DAW loop files' `acid` chunk takes
// (loopsep/loopfile.h, LoopInfo::validate) and so what the catalog accepts (Catalog::add,
// check_record_tags), so that every catalog row can be exported.
constexpr double kMaxLoopBpm = 999.0;

}  // namespace loopsep
