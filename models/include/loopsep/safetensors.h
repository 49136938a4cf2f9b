// loopsep — safetensors files (float32 only), independent of any LibTorch version.
//
// Layout: 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {"key": "string", ...},
//    "<tensor>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
// then the raw little-endian float32 data; offsets are relative to the data
// start. The parser trusts nothing: header length, JSON syntax, key types,
// dtypes, shape × 4 = byte size, offsets inside the buffer, contiguous and
// non-overlapping, data fully covered, values finite. Any violation is one
// input error naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace loopsep {

struct NamedTensor {
    std::vector<std::int64_t> shape;
    std::vector<float> values;          // row-major, prod(shape) values
    std::size_t numel() const;
};

struct SafetensorsFile {
    std::map<std::string, std::string> metadata;
    std::map<std::string, NamedTensor> tensors;
};

// Parses a whole file held in memory; `what` names it in errors.
SafetensorsFile parse_safetensors(const std::uint8_t* data, std::size_t size, const std::string& what);
SafetensorsFile read_safetensors(const std::string& path);
std::vector<std::uint8_t> serialize_safetensors(const SafetensorsFile& file);
// Atomic: temporary file beside `path`, renamed at the end.
void write_safetensors(const std::string& path, const SafetensorsFile& file);

}  // namespace loopsep
