#include "report/png.h"

#include <png.h>

#include <cstring>
#include <stdexcept>

#include "loopsep/error.h"

namespace loopsep::report {

Image::Image(int w, int h, Rgb fill) : width(w), height(h), pixels(std::size_t(w) * h * 3) {
    for (std::size_t i = 0; i < pixels.size(); i += 3) {
        pixels[i] = fill.r;
        pixels[i + 1] = fill.g;
        pixels[i + 2] = fill.b;
    }
}

void Image::set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;  // drawing may run off the edge
    std::uint8_t* p = &pixels[(std::size_t(y) * width + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
}

Rgb Image::get(int x, int y) const {
    const std::uint8_t* p = &pixels[(std::size_t(y) * width + x) * 3];
    return {p[0], p[1], p[2]};
}

std::vector<unsigned char> encode_png(const Image& image) {
    png_image png;
    std::memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    png.width = png_uint_32(image.width);
    png.height = png_uint_32(image.height);
    png.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    // First call: the size; second: the bytes.
    if (!png_image_write_to_memory(&png, nullptr, &size, 0, image.pixels.data(), 0, nullptr))
        throw std::runtime_error(std::string("PNG encoding failed: ") + png.message);
    std::vector<unsigned char> out(size);
    if (!png_image_write_to_memory(&png, out.data(), &size, 0, image.pixels.data(), 0, nullptr))
        throw std::runtime_error(std::string("PNG encoding failed: ") + png.message);
    out.resize(size);
    return out;
}

Image read_png(const std::string& path) {
    png_image png;
    std::memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&png, path.c_str()))
        throw input_error(path + ": not a readable PNG (" + png.message + ")");
    png.format = PNG_FORMAT_RGB;
    Image image(int(png.width), int(png.height));
    if (!png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr)) {
        png_image_free(&png);
        throw input_error(path + ": damaged PNG (" + png.message + ")");
    }
    return image;
}

}  // namespace loopsep::report
