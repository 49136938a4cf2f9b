// Tests of the repetition templates (loopsep/repetition.h) and of a model that takes them.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "loopsep/error.h"
#include "loopsep/model.h"
#include "loopsep/repetition.h"
#include "loopsep/safetensors.h"
#include "model_fixture.h"
#include "test_util.h"

using namespace loopsep;
namespace lt = loopsep::testing;

namespace {

RepetitionGeometry small_geometry(int neighbours) {
    RepetitionGeometry g;
    g.frames = 12;
    g.bands = 8;
    g.centre_begin_frames = 2;
    g.centre_frames = 8;
    g.neighbours = neighbours;
    return g;
}

// A bar pattern: a different band lights up on each of its frames (two patterns, A and B, differ in
// which), on a floor of 1 so that the log bands are defined everywhere.
std::vector<float> pattern(const RepetitionGeometry& g, int shift, float level) {
    std::vector<float> w(std::size_t(g.frames) * g.bands, 1.0f);
    for (int t = 0; t < g.frames; ++t) w[std::size_t(t) * g.bands + (t * 3 + shift) % g.bands] = level;
    return w;
}

}  // namespace

TEST(Repetition, TheMedianOfTheAlikeBarsDropsWhatHappensOnlyOnce) {
    const auto g = small_geometry(3);
    // Bars A B A B A B A; every bar also has a one-off event (a band at 500 in one frame, a different
    // place in each bar), the A bars at several levels (the same pattern played softer still counts).
    std::vector<std::vector<float>> bars;
    for (int i = 0; i < 7; ++i) {
        auto w = pattern(g, i % 2 ? 1 : 0, i % 2 ? 300.0f : 100.0f * float(1 + i / 2));
        w[std::size_t(2 + i) * g.bands + (i + 5) % g.bands] = 500.0f;
        bars.push_back(w);
    }
    const auto t = repetition_templates(bars, g);
    ASSERT_EQ(t.size(), 7u);
    // Bar 0's template: the median of bars 2, 4, 6 (the other As): pattern A at the middle level (300),
    // none of their one-off events, and not bar 0's own event either.
    const auto a_mid = pattern(g, 0, 300.0f);
    for (std::size_t k = 0; k < a_mid.size(); ++k) ASSERT_FLOAT_EQ(t[0][k], a_mid[k]) << k;
    // Bar 1's: the other Bs (3, 5) and, for the third neighbour, an A; the median of the three is still
    // B's pattern (300, where both Bs have it) in every frame.
    for (int t_frame = 0; t_frame < g.frames; ++t_frame)
        EXPECT_FLOAT_EQ(t[1][std::size_t(t_frame) * g.bands + (t_frame * 3 + 1) % g.bands], 300.0f) << t_frame;
    // The bars it chose: the other As, most alike first (all three have the same shape).
    std::vector<const float*> candidates;
    for (int i = 1; i < 7; ++i) candidates.push_back(bars[std::size_t(i)].data());
    std::vector<float> out(bars[0].size());
    std::vector<int> chosen;
    repetition_template(bars[0].data(), candidates, g, out.data(), &chosen);
    std::sort(chosen.begin(), chosen.end());
    EXPECT_EQ(chosen, (std::vector<int>{1, 3, 5}));  // candidates 1, 3, 5 = bars 2, 4, 6
}

TEST(Repetition, ALoneBarIsItsOwnTemplateAndFewCandidatesAreAllUsed) {
    const auto g = small_geometry(4);
    const auto a = pattern(g, 0, 50.0f), b = pattern(g, 2, 70.0f);
    EXPECT_EQ(repetition_templates({a}, g)[0], a);
    std::vector<float> out(a.size());
    repetition_template(a.data(), {}, g, out.data());
    EXPECT_EQ(out, a);
    // Two candidates for four neighbours: both, their mean (the median of two).
    std::vector<int> chosen;
    repetition_template(a.data(), {a.data(), b.data()}, g, out.data(), &chosen);
    EXPECT_EQ(chosen.size(), 2u);
    for (std::size_t k = 0; k < out.size(); ++k) EXPECT_FLOAT_EQ(out[k], 0.5f * (a[k] + b[k]));
}

TEST(Repetition, BadGeometryNamesTheField) {
    auto g = small_geometry(4);
    g.centre_frames = 20;
    try {
        g.validate();
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("centre"), std::string::npos) << e.what();
    }
    g = small_geometry(0);
    EXPECT_THROW(g.validate(), Error);
    EXPECT_THROW(repetition_templates({std::vector<float>(5, 1.0f)}, small_geometry(2)), Error);
}

namespace {

ModelConfig tiny_repetition_config() {
    ModelConfig c = loopsep::testing::small_test_config();
    c.repetition_neighbours = 2;
    return c;
}

// A model whose repetition convolution is not zero (as after training), from an untrained one.
std::shared_ptr<const Separator> model_that_uses_repetition(lt::TempDir& dir) {
    write_untrained_model(dir.file("m.safetensors"), tiny_repetition_config(), 3);
    auto file = read_safetensors(dir.file("m.safetensors"));
    std::mt19937 rng(4);
    std::normal_distribution<float> n(0.0f, 0.3f);
    bool found = false;
    for (auto& [name, t] : file.tensors)
        if (name == "repetition.weight") {
            for (float& v : t.values) { EXPECT_EQ(v, 0.0f); v = n(rng); }  // untrained: zero
            found = true;
        }
    EXPECT_TRUE(found);
    write_safetensors(dir.file("m2.safetensors"), file);
    return Separator::load(dir.file("m2.safetensors"));
}

std::vector<float> random_window(const ModelConfig& c, unsigned seed) {
    std::mt19937 rng(seed);
    std::exponential_distribution<float> d(1.0f);
    std::vector<float> w(std::size_t(c.window_frames()) * c.num_bins());
    for (auto& x : w) x = d(rng);
    return w;
}

double mean_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (std::size_t k = 0; k < a.size(); ++k) s += std::abs(a[k] - b[k]);
    return s / double(a.size());
}

}  // namespace

TEST(RepetitionModel, TheTemplateReachesTheMasksAndNoTemplateMeansItsOwnBands) {
    lt::TempDir dir;
    const auto sep = model_that_uses_repetition(dir);
    ASSERT_TRUE(sep->uses_repetition());
    EXPECT_EQ(sep->config().repetition_neighbours, 2);
    const auto& c = sep->config();
    const auto emb = sep->embed_query(lt::sine(440, 2.2, 2));
    const std::vector<std::vector<float>> windows = {random_window(c, 1), random_window(c, 2)};
    const auto plain = sep->predict_band_masks_for_queries(windows, {emb})[0];
    // A window's own bands as its template = no template at all.
    std::vector<std::vector<float>> own = {sep->window_bands(windows[0]), sep->window_bands(windows[1])};
    ASSERT_EQ(own[0].size(), std::size_t(c.window_frames()) * c.num_bands);
    const auto with_own = sep->predict_band_masks_for_queries(windows, {emb}, &own)[0];
    EXPECT_LT(mean_abs_diff(plain[0], with_own[0]), 1e-6);
    // Another bar's bands as the template: other masks.
    std::vector<std::vector<float>> swapped = {own[1], own[0]};
    const auto with_other = sep->predict_band_masks_for_queries(windows, {emb}, &swapped)[0];
    EXPECT_GT(mean_abs_diff(plain[0], with_other[0]), 1e-4);
    // Wrong shapes are usage errors naming the problem.
    std::vector<std::vector<float>> one = {own[0]};
    EXPECT_THROW(sep->predict_band_masks_for_queries(windows, {emb}, &one), Error);
    std::vector<std::vector<float>> short_ones = {std::vector<float>(7), std::vector<float>(7)};
    EXPECT_THROW(sep->predict_band_masks_for_queries(windows, {emb}, &short_ones), Error);
}

TEST(RepetitionModel, AModelWithoutTheInputIgnoresTemplatesAndOldFilesReadAsOff) {
    lt::TempDir dir;
    auto cfg = tiny_repetition_config();
    cfg.repetition_neighbours = 0;
    write_untrained_model(dir.file("plain.safetensors"), cfg, 3);
    const auto sep = Separator::load(dir.file("plain.safetensors"));
    EXPECT_FALSE(sep->uses_repetition());
    const auto emb = sep->embed_query(lt::sine(440, 2.2, 2));
    const std::vector<std::vector<float>> windows = {random_window(sep->config(), 1)};
    std::vector<std::vector<float>> other = {sep->window_bands(random_window(sep->config(), 9))};
    EXPECT_EQ(sep->predict_band_masks_for_queries(windows, {emb})[0][0],
              sep->predict_band_masks_for_queries(windows, {emb}, &other)[0][0]);
    cfg.repetition_neighbours = 17;
    EXPECT_THROW(cfg.validate(), Error);
}
