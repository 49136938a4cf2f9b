#include "report/png.h"

#include <png.h>

#include <algorithm>
#include <csetjmp>
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

namespace {

std::uint32_t code(const std::uint8_t* rgb) { return std::uint32_t(rgb[0]) << 16 | std::uint32_t(rgb[1]) << 8 | rgb[2]; }

// The image's colours (0xRRGGBB), sorted, when there are at most 256; else none. Along the report's
// colour ramp red never falls, so a spectrogram's palette index grows with its level and libpng's
// row filters see smooth numbers.
std::vector<std::uint32_t> palette_of(const Image& image) {
    std::vector<std::uint32_t> colours;
    colours.reserve(image.pixels.size() / 3);
    for (std::size_t i = 0; i < image.pixels.size(); i += 3) colours.push_back(code(&image.pixels[i]));
    std::sort(colours.begin(), colours.end());
    colours.erase(std::unique(colours.begin(), colours.end()), colours.end());
    if (colours.size() > 256) colours.clear();
    return colours;
}

void append_bytes(png_structp png, png_bytep data, png_size_t length) {
    auto* out = static_cast<std::vector<unsigned char>*>(png_get_io_ptr(png));
    out->insert(out->end(), data, data + length);
}

// libpng's write calls, alone in a function: its errors longjmp back here, and nothing but `png` and
// `info` (set before setjmp, never changed after it) lives across that jump.
void write_png(std::vector<unsigned char>& out, const Image& image, const std::vector<png_color>& palette,
               const std::uint8_t* rows, std::size_t row_bytes) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!info) {
        png_destroy_write_struct(&png, nullptr);
        throw std::runtime_error("PNG encoding failed: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        throw std::runtime_error("PNG encoding failed");
    }
    png_set_write_fn(png, &out, append_bytes, nullptr);
    png_set_compression_level(png, 9);
    // Every row filter tried, also for palette images (libpng's default there is none): a
    // spectrogram's index follows its level, so neighbouring rows and columns predict it.
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_ALL_FILTERS);
    png_set_IHDR(png, info, png_uint_32(image.width), png_uint_32(image.height), 8,
                 palette.empty() ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (!palette.empty()) png_set_PLTE(png, info, palette.data(), int(palette.size()));
    png_write_info(png, info);
    for (int y = 0; y < image.height; ++y) png_write_row(png, rows + std::size_t(y) * row_bytes);
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
}

}  // namespace

// An image of at most 256 colours (the spectrograms, the colour scale) is written with a palette,
// one byte per pixel; any other as RGB. zlib at level 9: the report carries these inside its HTML.
std::vector<unsigned char> encode_png(const Image& image) {
    const std::vector<std::uint32_t> colours = palette_of(image);
    std::vector<png_color> palette;
    for (std::uint32_t c : colours) palette.push_back({png_byte(c >> 16), png_byte(c >> 8), png_byte(c)});
    // Rows as written: one palette index per pixel, or the RGB bytes as they are.
    std::vector<std::uint8_t> indices;
    if (!colours.empty()) {
        indices.resize(std::size_t(image.width) * std::size_t(image.height));
        for (std::size_t p = 0; p < indices.size(); ++p)
            indices[p] = std::uint8_t(std::lower_bound(colours.begin(), colours.end(), code(&image.pixels[3 * p])) - colours.begin());
    }
    std::vector<unsigned char> out;
    if (colours.empty())
        write_png(out, image, palette, image.pixels.data(), std::size_t(image.width) * 3);
    else
        write_png(out, image, palette, indices.data(), std::size_t(image.width));
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
