// libFuzzer target: the model-file parser must reject any byte string with a
// loopsep::Error (never crash, hang or read out of bounds), and a file it accepts
// must have a parseable config when it claims one.
#include <cstddef>
#include <cstdint>

#include "loopsep/error.h"
#include "loopsep/model.h"
#include "loopsep/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        auto f = loopsep::parse_safetensors(data, size, "fuzz");
        auto it = f.metadata.find("config");
        if (it != f.metadata.end()) loopsep::ModelConfig::from_json(it->second, "fuzz");
        (void)loopsep::serialize_safetensors(f);
    } catch (const loopsep::Error&) {
    }
    return 0;
}
