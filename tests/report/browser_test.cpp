// The report as a browser shows it: Debian's headless Chromium renders report.html of a tiny
// generated song. The screenshot must not be blank, every image must have loaded (the page's own
// script counts them into <body data-*>) and no script error may have happened.
// Without chromium the test is skipped, saying so, or fails when LOOPSEP_REQUIRE_BROWSER=1 (CI).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include "loopsep/audio.h"
#include "model_fixture.h"
#include "report/png.h"
#include "song_fixture.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::read_text;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;

namespace {

std::string find_chromium() {
    for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
        if (std::filesystem::exists(p)) return p;
    return "";
}

// Runs headless Chromium on `url` with the extra flags; returns its exit status. A fresh profile each
// time; no network, no sync, no updates (the page needs none).
int chromium(const std::string& binary, const std::string& profile, const std::string& flags, const std::string& url,
             const std::string& stdout_path) {
    const std::string cmd = "timeout 120 '" + binary +
                            "' --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                            "--disable-background-networking --disable-component-update --disable-sync "
                            "--user-data-dir='" + profile + "' " + flags + " '" + url + "' >'" + stdout_path +
                            "' 2>/dev/null";
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string body_attribute(const std::string& dom, const std::string& name) {
    const std::regex body_re("<body[^>]*\\s" + name + "=\"([^\"]*)\"");
    std::smatch m;
    return std::regex_search(dom, m, body_re) ? m[1].str() : "(absent)";
}

}  // namespace

TEST(ReportBrowser, ChromiumRendersEveryImageWithoutScriptErrors) {
    const std::string binary = find_chromium();
    if (binary.empty()) {
        const char* require = std::getenv("LOOPSEP_REQUIRE_BROWSER");
        if (require && std::string(require) == "1")
            FAIL() << "chromium is not installed but LOOPSEP_REQUIRE_BROWSER=1: the report's browser test cannot run "
                      "(apt-get install chromium; tools/install-deps.sh installs it)";
        GTEST_SKIP() << "chromium is not installed: the report's browser test is skipped (set LOOPSEP_REQUIRE_BROWSER=1 "
                        "to make this a failure; tools/install-deps.sh installs it)";
    }
    TempDir dir;
    loopsep::testing::write_small_test_model(dir.file("m.safetensors"), 3);
    write_audio(dir.file("song.wav"), loopsep::testing::make_test_song(122, 5.0), {});
    write_audio(dir.file("loop.wav"), loopsep::testing::make_test_song(120, 2.0, 1), {});
    auto r = run_loopsep("separate song.wav --targets a,b --query loop.wav --query loop.wav --query-bpm 120 --residual "
                         "--outdir out --report --model m.safetensors",
                         dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string url = "file://" + dir.file("out/report.html");

    // The DOM after load: the page's script has counted the images.
    std::filesystem::create_directories(dir.file("profile1"));
    ASSERT_EQ(chromium(binary, dir.file("profile1"), "--dump-dom", url, dir.file("dom.html")), 0);
    const std::string dom = read_text(dir.file("dom.html"));
    EXPECT_EQ(body_attribute(dom, "data-spectrograms-loaded"), "4");  // mixture, a, b, residual
    EXPECT_EQ(body_attribute(dom, "data-images-loaded"), "5");        // + the colour scale
    EXPECT_EQ(body_attribute(dom, "data-timelines-drawn"), "1");      // the inline SVG, laid out 960 px wide
    EXPECT_EQ(body_attribute(dom, "data-images-failed"), "0");
    EXPECT_EQ(body_attribute(dom, "data-script-errors"), "0") << body_attribute(dom, "data-last-error");

    // The screenshot: not blank (a white page has no variance; the spectrograms are dark and varied).
    std::filesystem::create_directories(dir.file("profile2"));
    ASSERT_EQ(chromium(binary, dir.file("profile2"), "--screenshot='" + dir.file("shot.png") + "' --window-size=1280,2000", url,
                       dir.file("shot.log")),
              0);
    const report::Image shot = report::read_png(dir.file("shot.png"));
    ASSERT_EQ(shot.width, 1280);
    ASSERT_EQ(shot.height, 2000);
    double sum = 0, sum_sq = 0;
    std::size_t dark = 0;
    for (int y = 0; y < shot.height; ++y)
        for (int x = 0; x < shot.width; ++x) {
            const report::Rgb p = shot.get(x, y);
            const double lum = 0.299 * p.r + 0.587 * p.g + 0.114 * p.b;
            sum += lum;
            sum_sq += lum * lum;
            dark += lum < 64;
        }
    const double n = double(shot.width) * shot.height, mean = sum / n, variance = sum_sq / n - mean * mean;
    EXPECT_GT(variance, 1000.0) << "mean luminance " << mean;
    // Four spectrograms of 960×180 are mostly dark: well over 10 % of the page.
    EXPECT_GT(double(dark) / n, 0.10);
}
