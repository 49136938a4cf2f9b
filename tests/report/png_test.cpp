// The report's PNG encoding: few-colour images (spectrograms, the colour scale) as palette PNGs,
// others as RGB, both decoding back to the same pixels; and what that saves on a spectrogram.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <tuple>

#include "report/png.h"
#include "report/report.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::TempDir;

namespace {

// PNG colour type: byte 25 of the file (signature 8, IHDR length 4, "IHDR" 4, width 4, height 4, depth 1).
int colour_type(const std::vector<unsigned char>& png) { return png.size() > 25 ? png[25] : -1; }

report::Image round_trip(const report::Image& img, const std::string& path) {
    const auto bytes = encode_png(img);
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return report::read_png(path);
}

std::size_t colours(const report::Image& img) {
    std::set<std::tuple<int, int, int>> seen;
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x) seen.insert({img.get(x, y).r, img.get(x, y).g, img.get(x, y).b});
    return seen.size();
}

}  // namespace

TEST(ReportPng, FewColoursGetAPaletteAndEveryImageDecodesToItsPixels) {
    TempDir dir;
    report::Image few(300, 20), many(300, 20);
    for (int y = 0; y < 20; ++y)
        for (int x = 0; x < 300; ++x) {
            few.set(x, y, {std::uint8_t(x % 256), std::uint8_t(255 - x % 256), 7});  // 256 colours
            many.set(x, y, {std::uint8_t(x % 256), std::uint8_t(y * 10), std::uint8_t(x / 256)});
        }
    ASSERT_EQ(colours(few), 256u);
    ASSERT_GT(colours(many), 256u);
    EXPECT_EQ(colour_type(encode_png(few)), 3);   // indexed
    EXPECT_EQ(colour_type(encode_png(many)), 2);  // RGB
    EXPECT_EQ(round_trip(few, dir.file("few.png")).pixels, few.pixels);
    EXPECT_EQ(round_trip(many, dir.file("many.png")).pixels, many.pixels);
}

TEST(ReportPng, ASpectrogramIsAPalettePngOfAFractionOfItsRgbSize) {
    // Noise under a sweep: every column different, the report's worst case for compression.
    auto audio = loopsep::testing::noise(6.0, 1, 3, 44100, 0.05f);
    for (std::size_t i = 0; i < audio.frames(); ++i)
        audio.channels[0][i] += 0.3f * float(std::sin(2 * M_PI * (200.0 + 400.0 * i / 44100.0) * i / 44100.0));
    const report::Image img = report::spectrogram_image(audio.channels[0], 44100);
    EXPECT_LE(colours(img), std::size_t(report::kSpectrogramLevels));
    const auto png = encode_png(img);
    EXPECT_EQ(colour_type(png), 3);
    // 960 × 180 pixels: raw RGB is 518 kB; the palette PNG stays under a tenth of that.
    const std::size_t raw = std::size_t(img.width) * img.height * 3;
    std::printf("spectrogram PNG: %zu bytes (raw RGB %zu)\n", png.size(), raw);
    EXPECT_LT(png.size(), raw / 10);
}
