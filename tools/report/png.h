// 8-bit RGB images and their PNG encoding (libpng's simplified API): the report's spectrograms and
// timelines, and the browser test's screenshot check.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loopsep::report {

struct Rgb {
    std::uint8_t r = 0, g = 0, b = 0;
};

struct Image {
    int width = 0, height = 0;
    std::vector<std::uint8_t> pixels;  // row-major RGB, 3 bytes per pixel
    Image() = default;
    Image(int w, int h, Rgb fill = {});
    void set(int x, int y, Rgb c);
    Rgb get(int x, int y) const;
};

// PNG bytes at zlib level 9; an image of at most 256 colours gets a palette (one byte per pixel).
std::vector<unsigned char> encode_png(const Image& image);
// Decodes any PNG to RGB (alpha composited on black). Input error naming the file if it is not one.
Image read_png(const std::string& path);

}  // namespace loopsep::report
