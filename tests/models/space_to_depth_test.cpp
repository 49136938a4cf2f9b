// ModelConfig::space_to_depth: the band features folded 2×2 into 4 channels before the stem, the head's 4
// channels unfolded back; the U-Net runs at half resolution and below. The fold must be exact, the
// config must round-trip and validate its sizes, and every inference path must give the training path's
// masks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "loopsep/error.h"
#include "loopsep/model.h"
#include "loopsep/safetensors.h"
#include "model_fixture.h"
#include "net.h"
#include "test_util.h"

using namespace loopsep;
namespace lt = loopsep::testing;

namespace {

float max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<float>(); }

// small_test_config() (192-frame windows, 32 bands, channels {8, 8, 16}) with the fold and without its
// first level: the U-Net {8, 16} has one down-sampling, so the grid is divided by 4 in all.
ModelConfig s2d_config() {
    ModelConfig c = loopsep::testing::small_test_config();
    c.unet_channels = {8, 16};
    c.space_to_depth = true;
    return c;
}

// Every parameter moved away from its initialisation (FiLMs, the zero-started repetition and profile
// convolutions), so that no path agrees with another by accident.
void perturb(net::LoopSepNet& net, std::uint64_t seed) {
    torch::manual_seed(seed);
    torch::NoGradGuard g;
    for (auto& p : net->parameters()) p.add_(torch::randn_like(p) * 0.1);
}

}  // namespace

TEST(SpaceToDepth, FoldPutsEachTwoByTwoBlockInFourChannelsAndUnfoldIsItsExactInverse) {
    torch::manual_seed(1);
    const auto x = torch::randn({2, 3, 6, 10});
    const auto f = net::space_to_depth(x);
    ASSERT_EQ(f.sizes(), (std::vector<int64_t>{2, 12, 3, 5}));
    // Channel 4c + 2i + j at (t, b) is x[c, 2t + i, 2b + j]: time offset i, band offset j.
    const auto xa = x.accessor<float, 4>();
    const auto fa = f.accessor<float, 4>();
    for (int n = 0; n < 2; ++n)
        for (int c = 0; c < 3; ++c)
            for (int i = 0; i < 2; ++i)
                for (int j = 0; j < 2; ++j)
                    for (int t = 0; t < 3; ++t)
                        for (int b = 0; b < 5; ++b)
                            ASSERT_EQ(fa[n][4 * c + 2 * i + j][t][b], xa[n][c][2 * t + i][2 * b + j]) << c << i << j << t << b;
    EXPECT_TRUE(torch::equal(net::depth_to_space(f), x));  // bit for bit, both ways
    const auto y = torch::randn({2, 8, 4, 5});
    EXPECT_TRUE(torch::equal(net::space_to_depth(net::depth_to_space(y)), y));
    EXPECT_THROW(net::space_to_depth(torch::randn({1, 1, 5, 4})), Error);  // odd frames
    EXPECT_THROW(net::space_to_depth(torch::randn({1, 1, 4, 7})), Error);  // odd bands
    EXPECT_THROW(net::depth_to_space(torch::randn({1, 3, 4, 4})), Error);  // not 4 planes per channel
}

TEST(SpaceToDepth, ConfigRoundTripsOldFilesLoadWithoutItAndSizesMustDivideOneLevelMore) {
    const ModelConfig c = s2d_config();
    c.validate();
    const auto back = ModelConfig::from_json(c.to_json(), "test");
    EXPECT_TRUE(back.space_to_depth);
    EXPECT_EQ(back.top_level_scale(), 2);
    EXPECT_EQ(back.unet_channels, c.unet_channels);
    // A file written before the option (no key) is a full-resolution net.
    auto j = nlohmann::json::parse(c.to_json());
    j.erase("space_to_depth");
    EXPECT_FALSE(ModelConfig::from_json(j.dump(), "old").space_to_depth);
    j["space_to_depth"] = "yes";
    EXPECT_THROW(ModelConfig::from_json(j.dump(), "bad"), Error);
    // 34 bands divide by 2^levels = 2 but not by 2^(levels + 1) = 4: only the folded net refuses them.
    ModelConfig odd = c;
    odd.num_bands = 34;
    odd.query_channels = {8};  // 34 / 2 pooled query bands
    odd.space_to_depth = false;
    EXPECT_NO_THROW(odd.validate());
    odd.space_to_depth = true;
    EXPECT_THROW(odd.validate(), Error);
    try {
        odd.validate();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("num_bands"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("space_to_depth"), std::string::npos) << e.what();
    }
    ModelConfig frames = c;
    frames.segment_frames = 26;  // 26 + 2·10 = 46 frames: even, not divisible by 4
    EXPECT_THROW(frames.validate(), Error);
    frames.space_to_depth = false;
    EXPECT_NO_THROW(frames.validate());
}

TEST(SpaceToDepth, NetHasFourPlaneStemAndHeadAndItsMasksHaveTheWindowsShape) {
    const ModelConfig c = s2d_config();
    auto net = net::make_net(c, 3);
    EXPECT_EQ(net->stem->weight.sizes(), (std::vector<int64_t>{8, 4, 3, 3}));
    EXPECT_EQ(net->head->weight.sizes(), (std::vector<int64_t>{4, 8, 1, 1}));
    EXPECT_EQ(net->enc->size(), 1u);  // {8, 16}: one level above the bottleneck
    perturb(net, 4);
    net->eval();
    auto mag = torch::rand({3, c.window_frames(), c.num_bins()}) * 4.0;
    auto q = torch::randn({3, c.embedding_size});
    torch::AutoGradMode on(true);
    const auto shared = net->shared_prefix(mag);
    // The U-Net's input is at half the frames and bands.
    EXPECT_EQ(shared.x.sizes(), (std::vector<int64_t>{3, 8, c.window_frames() / 2, c.num_bands / 2}));
    const auto bands = net->band_mask_from(shared, q);
    EXPECT_EQ(bands.sizes(), (std::vector<int64_t>{3, c.window_frames(), c.num_bands}));
    const auto m = net->mask(mag, q);
    EXPECT_EQ(m.sizes(), (std::vector<int64_t>{3, c.window_frames(), c.num_bins()}));
    EXPECT_GE(m.min().item<float>(), 0.0f);
    EXPECT_LE(m.max().item<float>(), 1.0f);
    // Not one value per 2×2 block: the unfolded head gives each frame and band of a block its own value.
    const auto even = bands.slice(1, 0, c.window_frames(), 2), odd = bands.slice(1, 1, c.window_frames(), 2);
    EXPECT_GT(max_abs_diff(even, odd), 1e-3f);
    // Gradients reach the stem through the fold.
    m.sum().backward();
    ASSERT_TRUE(net->stem->weight.grad().defined());
    EXPECT_GT(net->stem->weight.grad().abs().sum().item<float>(), 0.0f);
}

TEST(SpaceToDepth, RepetitionTemplateIsFoldedLikeTheFeatures) {
    // With the repetition convolution equal to the stem's and each window its own template, the stem's
    // output is stem(f) + W·f: exactly a net whose stem weight is doubled and has no template. Only a
    // template folded like the features gives that.
    ModelConfig c = s2d_config();
    c.repetition_neighbours = 2;
    auto net = net::make_net(c, 5);
    perturb(net, 6);
    net->eval();
    ModelConfig plain_c = c;
    plain_c.repetition_neighbours = 0;
    auto plain = net::make_net(plain_c, 5);
    {
        torch::NoGradGuard g;
        auto src = net->named_parameters();
        for (auto& p : plain->named_parameters()) p.value().copy_(src[p.key()]);
        net->repetition->weight.copy_(net->stem->weight);
        plain->stem->weight.mul_(2.0);
    }
    plain->eval();
    auto mag = torch::rand({2, c.window_frames(), c.num_bins()}) * 4.0;
    auto q = torch::randn({1, c.embedding_size});
    torch::NoGradGuard off;
    EXPECT_LT(max_abs_diff(net->mask(mag, q), plain->mask(mag, q)), 1e-5f);
    // A template other than the window moves the masks.
    const auto other = net->band_magnitudes(torch::rand({2, c.window_frames(), c.num_bins()}) * 4.0);
    EXPECT_GT(max_abs_diff(net->mask(mag, q, other), net->mask(mag, q)), 1e-3f);
}

TEST(SpaceToDepth, BinLogitsOnTheCoarseGridEqualTheBandGridFormulationInValueAndGradient) {
    // The CPU kernel reads each coarse cell once per coarse frame (bin_band / 2) and repeats the row; the
    // index ops repeat the features 2×2 onto the band grid first. Same deltas, same gradients.
    ModelConfig c = s2d_config();
    c.bin_logits = true;
    auto net = net::make_net(c, 5);
    perturb(net, 6);
    const int64_t T = c.window_frames(), B = c.num_bands, C = c.unet_channels[0];
    const auto top = torch::rand({2, C, T / 2, B / 2}, torch::requires_grad());
    auto run = [&](net::FilterbankPath path) {
        net->zero_grad();
        if (top.grad().defined()) top.grad().zero_();
        const auto d = net->bin_logit_delta(top, path);
        (d * torch::linspace(-1, 2, d.numel()).view(d.sizes())).sum().backward();
        return std::vector<torch::Tensor>{d.detach(), top.grad().clone(), net->bin_logit_weight.grad().clone(),
                                          net->bin_logit_bias.grad().clone()};
    };
    const auto fast = run(net::FilterbankPath::Auto), ref = run(net::FilterbankPath::Reference);
    ASSERT_EQ(fast[0].sizes(), (std::vector<int64_t>{2, T, c.num_bins()}));
    const char* names[] = {"delta", "d top", "d weight", "d bias"};
    for (std::size_t i = 0; i < fast.size(); ++i) {
        const float scale = std::max(1.0f, ref[i].abs().max().item<float>());
        EXPECT_LT(max_abs_diff(fast[i], ref[i]) / scale, 1e-5f) << names[i];
        EXPECT_GT(ref[i].abs().max().item<float>(), 0.0f) << names[i];
    }
    // A coarse frame's two frames share their deltas; neighbouring coarse frames do not.
    EXPECT_EQ(max_abs_diff(fast[0].select(1, 4), fast[0].select(1, 5)), 0.0f);
    EXPECT_GT(max_abs_diff(fast[0].select(1, 5), fast[0].select(1, 6)), 1e-3f);
}

class SpaceToDepthPaths : public ::testing::TestWithParam<int> {};

TEST_P(SpaceToDepthPaths, InferencePathsAndTheSeparatorGiveTheTrainingPathsMasks) {
    // The CPU inference path (folded FiLM, in-place activations, direct 3×3 kernels, the query's weights
    // made once) and the Separator loaded from the file against the autograd path, with the repetition
    // input and the query band profile (pooled to the folded grid) on, the query entering at each level;
    // and with the finer-frequency paths (the band-split input folded like the features, the per-bin
    // logits reading the coarse cell of their band) or without.
    set_torch_threads(1);
    lt::TempDir dir;
    ModelConfig c = s2d_config();
    c.shared_levels = GetParam() & 1;
    c.repetition_neighbours = 2;
    c.query_profile = true;
    if (GetParam() & 2) {
        c.band_split_channels = 3;
        c.bin_logits = true;
    }
    auto net = net::make_net(c, 7);
    perturb(net, 8);
    net->eval();
    const int64_t n = 3, T = c.window_frames(), F = c.num_bins(), B = c.num_bands;
    auto mag = torch::rand({n, T, F}) * 4.0;
    auto rep = net->band_magnitudes(torch::rand({n, T, F}) * 4.0).detach();
    const auto q = torch::randn({1, c.query_vector_size()});
    torch::Tensor slow_bands, slow;
    {
        torch::AutoGradMode on(true);
        const auto sh = net->shared_prefix(mag, rep);
        slow_bands = net->band_mask_from(sh, q.expand({n, q.size(1)})).detach();
        slow = net->mask(mag, q.expand({n, q.size(1)}), rep).detach();
    }
    torch::NoGradGuard off;
    EXPECT_LT(max_abs_diff(net->mask(mag, q, rep), slow), 1e-5f);
    const auto sh = net->shared_prefix(mag, rep);
    EXPECT_LT(max_abs_diff(net->band_mask_for(sh, net->query_weights(q)), slow_bands), 1e-5f);

    write_safetensors(dir.file("s2d.safetensors"), net::to_safetensors(net, c));
    auto sep = Separator::load(dir.file("s2d.safetensors"));
    EXPECT_TRUE(sep->config().space_to_depth);
    std::vector<std::vector<float>> windows(n), templates(n);
    const auto mc = mag.contiguous(), rc = rep.contiguous(), bc = slow_bands.contiguous(), sc = slow.contiguous();
    for (int64_t i = 0; i < n; ++i) {
        windows[i].assign(mc.data_ptr<float>() + i * T * F, mc.data_ptr<float>() + (i + 1) * T * F);
        templates[i].assign(rc.data_ptr<float>() + i * T * B, rc.data_ptr<float>() + (i + 1) * T * B);
    }
    const std::vector<float> query(q.data_ptr<float>(), q.data_ptr<float>() + q.numel());
    const auto band_masks = sep->predict_band_masks_for_queries(windows, {query}, &templates);
    const auto bin_masks = sep->predict_masks(windows, query);  // each window its own template
    const auto own = net->mask(mag, q).contiguous();
    float worst_bands = 0, worst_bins = 0;
    for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(band_masks[0][i].size(), std::size_t(T * B));
        ASSERT_EQ(bin_masks[i].size(), std::size_t(T * F));
        for (int64_t k = 0; k < T * B; ++k)
            worst_bands = std::max(worst_bands, std::abs(band_masks[0][i][k] - bc.data_ptr<float>()[i * T * B + k]));
        for (int64_t k = 0; k < T * F; ++k)
            worst_bins = std::max(worst_bins, std::abs(bin_masks[i][k] - own.data_ptr<float>()[i * T * F + k]));
    }
    EXPECT_LT(worst_bands, 1e-5f);
    EXPECT_LT(worst_bins, 1e-5f);
    EXPECT_GT((slow.max() - slow.min()).item<float>(), 1e-2f);  // the masks vary: not trivially equal
}

// Bit 0: shared levels 0 or 1; bit 1: the band-split input and per-bin logits on.
INSTANTIATE_TEST_SUITE_P(SharedLevelsAndFinerPaths, SpaceToDepthPaths, ::testing::Values(0, 1, 2, 3));

TEST(SpaceToDepth, AFullResolutionFileIsNotReadAsAFoldedNet) {
    // The same channel list with and without the fold has other stem and head shapes: weights of one
    // under the config of the other are refused, naming the file.
    lt::TempDir dir;
    ModelConfig full = s2d_config();
    full.space_to_depth = false;
    auto net = net::make_net(full, 9);
    write_safetensors(dir.file("m.safetensors"), net::to_safetensors(net, s2d_config()));
    EXPECT_THROW(Separator::load(dir.file("m.safetensors")), Error);
}
