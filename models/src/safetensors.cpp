// safetensors reading/writing with full validation (see loopsep/safetensors.h).
#include "loopsep/safetensors.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "loopsep/error.h"

namespace loopsep {

namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;  // as the reference implementation
constexpr std::size_t kMaxRank = 8;

[[noreturn]] void fail(const std::string& what, const std::string& problem) {
    throw input_error(what + ": not a valid loopsep model file (" + problem + ")");
}

std::uint64_t read_u64_le(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

}  // namespace

std::size_t NamedTensor::numel() const {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    return n;
}

SafetensorsFile parse_safetensors(const std::uint8_t* data, std::size_t size, const std::string& what) {
    static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559, "IEEE float32 required");
    if (size < 8) fail(what, "file is shorter than the 8-byte header length");
    const std::uint64_t header_len = read_u64_le(data);
    if (header_len < 2 || header_len > kMaxHeaderBytes) fail(what, "absurd header length " + std::to_string(header_len));
    if (header_len > size - 8) fail(what, "truncated: header runs past the end of the file");
    const std::uint8_t* buffer = data + 8 + header_len;
    const std::uint64_t buffer_len = size - 8 - header_len;

    nlohmann::json header;
    try {
        header = nlohmann::json::parse(data + 8, data + 8 + header_len);
    } catch (const std::exception&) {
        fail(what, "header is not valid JSON");
    }
    if (!header.is_object()) fail(what, "header is not a JSON object");

    SafetensorsFile out;
    struct Span { std::uint64_t begin, end; std::string name; };
    std::vector<Span> spans;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& key = it.key();
        const auto& value = it.value();
        if (key == "__metadata__") {
            if (!value.is_object()) fail(what, "__metadata__ is not an object");
            for (auto m = value.begin(); m != value.end(); ++m) {
                if (!m.value().is_string()) fail(what, "metadata value '" + m.key() + "' is not a string");
                out.metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        if (key.empty()) fail(what, "empty tensor name");
        if (!value.is_object()) fail(what, "entry '" + key + "' is not an object");
        if (!value.contains("dtype") || !value["dtype"].is_string())
            fail(what, "tensor '" + key + "' has no dtype");
        if (value["dtype"].get<std::string>() != "F32")
            fail(what, "tensor '" + key + "' has dtype " + value["dtype"].get<std::string>() + " (only F32 is supported)");
        if (!value.contains("shape") || !value["shape"].is_array() || value["shape"].size() > kMaxRank)
            fail(what, "tensor '" + key + "' has no valid shape");
        if (!value.contains("data_offsets") || !value["data_offsets"].is_array() || value["data_offsets"].size() != 2)
            fail(what, "tensor '" + key + "' has no valid data_offsets");
        NamedTensor t;
        std::uint64_t numel = 1;
        for (const auto& d : value["shape"]) {
            if (!d.is_number_unsigned()) fail(what, "tensor '" + key + "' has a non-integer or negative dimension");
            const std::uint64_t dim = d.get<std::uint64_t>();
            if (dim > (1ull << 32) || (dim != 0 && numel > (1ull << 40) / dim))
                fail(what, "tensor '" + key + "' is absurdly large");
            numel *= dim;
            t.shape.push_back(static_cast<std::int64_t>(dim));
        }
        const auto& offs = value["data_offsets"];
        if (!offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
            fail(what, "tensor '" + key + "' has invalid data_offsets");
        const std::uint64_t begin = offs[0].get<std::uint64_t>(), end = offs[1].get<std::uint64_t>();
        if (end < begin || end > buffer_len)
            fail(what, "truncated or corrupt: tensor '" + key + "' lies outside the data");
        if (end - begin != numel * 4)
            fail(what, "tensor '" + key + "' byte size does not match its shape");
        spans.push_back({begin, end, key});
        t.values.resize(numel);
        for (std::uint64_t i = 0; i < numel; ++i) {
            const std::uint8_t* p = buffer + begin + 4 * i;
            const std::uint32_t bits = std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) |
                                       (std::uint32_t(p[3]) << 24);
            float f;
            std::memcpy(&f, &bits, 4);
            if (!std::isfinite(f)) fail(what, "tensor '" + key + "' holds NaN or infinite values");
            t.values[i] = f;
        }
        out.tensors.emplace(key, std::move(t));
    }
    // The data must be covered exactly, without overlaps or holes.
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
    std::uint64_t pos = 0;
    for (const auto& s : spans) {
        if (s.begin != pos) fail(what, "tensor '" + s.name + "' overlaps another or leaves a hole in the data");
        pos = s.end;
    }
    if (pos != buffer_len) fail(what, "data length does not match the tensors (truncated or trailing bytes)");
    return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
    // Regular files only: the size is stat's, never "read until the end" of a device or FIFO.
    // (Checked here with stat, not loopsep/files.h: this library stands alone for the fuzzer.)
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw input_error(path + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw input_error(path + ": is a directory, not a model file");
    if (!S_ISREG(st.st_mode)) throw input_error(path + ": not a regular file (a device, FIFO or socket)");
    const std::streamoff size = std::streamoff(st.st_size);
    if (size > (std::streamoff(1) << 31)) throw input_error(path + ": model file is too large (> 2 GiB)");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error(path + ": cannot open model file");
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
        throw input_error(path + ": cannot read model file");
    return parse_safetensors(bytes.data(), bytes.size(), path);
}

std::vector<std::uint8_t> serialize_safetensors(const SafetensorsFile& file) {
    nlohmann::json header = nlohmann::json::object();
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : file.metadata) meta[k] = v;
    header["__metadata__"] = meta;
    std::uint64_t offset = 0;
    for (const auto& [name, t] : file.tensors) {  // std::map: sorted names, as the reference writer
        if (t.values.size() != t.numel()) throw usage_error("tensor '" + name + "': value count does not match shape");
        const std::uint64_t bytes = 4ull * t.values.size();
        header[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    while ((text.size() + 8) % 8 != 0) text.push_back(' ');  // align the data to 8 bytes (spec allows padding)
    std::vector<std::uint8_t> out;
    out.reserve(8 + text.size() + offset);
    const std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>((n >> (8 * i)) & 0xff));
    out.insert(out.end(), text.begin(), text.end());
    for (const auto& [name, t] : file.tensors) {
        for (float f : t.values) {
            std::uint32_t bits;
            std::memcpy(&bits, &f, 4);
            for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>((bits >> (8 * i)) & 0xff));
        }
    }
    return out;
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
    const auto bytes = serialize_safetensors(file);
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw input_error(path + ": cannot write model file");
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        out.close();
        if (!out) {
            std::remove(tmp.c_str());
            throw input_error(path + ": cannot write model file (disk full?)");
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw input_error(path + ": cannot rename the temporary model file into place");
    }
}

}  // namespace loopsep
