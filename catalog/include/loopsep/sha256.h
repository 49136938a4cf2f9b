// loopsep — SHA-256 (FIPS 180-4), for the catalog's content hashes.
// Small and dependency-free; tested against the FIPS 180-2 example vectors.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace loopsep {

class Sha256 {
public:
    Sha256();
    void update(const void* data, std::size_t size);
    std::array<std::uint8_t, 32> finish();   // the object must not be updated afterwards
    std::string finish_hex();                // 64 lower-case hex digits

private:
    void block(const std::uint8_t* p);
    std::uint32_t h_[8];
    std::uint8_t buf_[64];
    std::size_t buf_len_ = 0;
    std::uint64_t total_ = 0;
};

std::string sha256_hex(const void* data, std::size_t size);
inline std::string sha256_hex(const std::string& s) { return sha256_hex(s.data(), s.size()); }

}  // namespace loopsep
