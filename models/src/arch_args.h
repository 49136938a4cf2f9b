// INTERNAL: architecture and training options shared by `loopsep train` and
// loopsep-train-gpu, so both spell them the same way.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include "loopsep/error.h"

namespace loopsep::detail {

inline std::vector<int> parse_int_list(const std::string& text, const std::string& what) {
    std::vector<int> out;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const auto comma = text.find(',', pos);
        const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        char* end = nullptr;
        const long v = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || v < 1 || v > 4096) throw usage_error(what + ": expected a list like 8,16,32");
        out.push_back(int(v));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

}  // namespace loopsep::detail
