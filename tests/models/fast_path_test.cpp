// The inference fast path (plain loops for the sparse filterbanks, a query-independent
// prefix shared by several targets) must compute what the differentiable net computes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "loopsep/error.h"
#include "loopsep/model.h"
#include "cpu_kernels.h"
#include "model_fixture.h"
#include "net.h"
#include "test_util.h"

using namespace loopsep;
namespace lt = loopsep::testing;

namespace {

using loopsep::testing::small_test_config;

float max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
    return (a - b).abs().max().item<float>();
}

int64_t num_parameters(net::LoopSepNet& net) {
    int64_t n = 0;
    for (const auto& p : net->parameters()) n += p.numel();
    return n;
}

// Moves every FiLM far from its identity start (`seed` draws the move), so that the inference path's
// folding of the FiLM into GroupNorm is exercised.
void move_films(net::LoopSepNet& net, std::uint64_t seed) {
    torch::manual_seed(seed);
    torch::NoGradGuard g;
    for (auto& p : net->named_parameters())
        if (p.key().find("film") != std::string::npos) p.value().add_(torch::randn_like(p.value()) * 0.3);
}

// A fresh net (`init_seed`) in eval mode, its FiLMs moved (move_films).
net::LoopSepNet net_with_moved_films(const ModelConfig& c, std::uint64_t init_seed, std::uint64_t seed) {
    auto net = net::make_net(c, init_seed);
    net->eval();
    move_films(net, seed);
    return net;
}

// `net` written to `path` and loaded as a Separator (the engine's inference path): the loaded model and
// the largest difference between its masks for the windows of `mag` [N, T, bins] with the query `q` (E
// values) and `expected` [N, T, bins].
std::pair<std::shared_ptr<const Separator>, float> separator_vs(net::LoopSepNet& net, const std::string& path,
                                                                const torch::Tensor& mag, const torch::Tensor& q,
                                                                const torch::Tensor& expected) {
    write_safetensors(path, net::to_safetensors(net, net->config));
    auto sep = Separator::load(path);
    const int64_t n = mag.size(0);
    const std::size_t per = std::size_t(mag.size(1)) * std::size_t(mag.size(2));
    const auto m = mag.contiguous(), e = expected.contiguous(), qc = q.reshape({-1}).contiguous();
    std::vector<std::vector<float>> windows(n);
    for (int64_t i = 0; i < n; ++i) windows[i].assign(m.data_ptr<float>() + i * per, m.data_ptr<float>() + (i + 1) * per);
    const auto got = sep->predict_masks(windows, std::vector<float>(qc.data_ptr<float>(), qc.data_ptr<float>() + qc.numel()));
    float worst = 0;
    for (int64_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < per; ++k) worst = std::max(worst, std::abs(got[i][k] - e.data_ptr<float>()[i * per + k]));
    return {sep, worst};
}

}  // namespace

TEST(FastPath, FeaturesAndMasksEqualTheDifferentiableNet) {
    const ModelConfig c = small_test_config();
    auto net = net::make_net(c, 11);
    net->eval();
    torch::manual_seed(4);
    auto mag = torch::rand({3, c.window_frames(), c.num_bins()}) * 5.0;
    auto emb = torch::randn({3, c.embedding_size});
    torch::Tensor f_grad, m_grad, f_fast, m_fast;
    {
        torch::AutoGradMode on(true);  // the training path: index_select / index_add
        f_grad = net->features(mag).detach();
        m_grad = net->mask(mag, emb).detach();
    }
    {
        torch::NoGradGuard off;  // the inference path: plain loops
        f_fast = net->features(mag);
        m_fast = net->mask(mag, emb);
    }
    ASSERT_EQ(f_fast.sizes(), f_grad.sizes());
    ASSERT_EQ(m_fast.sizes(), m_grad.sizes());
    EXPECT_LT(max_abs_diff(f_fast, f_grad), 1e-5f);
    EXPECT_LT(max_abs_diff(m_fast, m_grad), 1e-5f);
    // Not trivially equal: the masks vary across bins and frames.
    EXPECT_GT((m_fast.max() - m_fast.min()).item<float>(), 1e-3f);
}

class FastPathShared : public ::testing::TestWithParam<int> {};

TEST_P(FastPathShared, SeveralQueriesEqualOneCallPerQuery) {
    set_torch_threads(2);  // windows split across two workers, as `separate` runs them
    lt::TempDir dir;
    ModelConfig cfg = small_test_config();
    cfg.shared_levels = GetParam();  // 0: the query enters at the first block; 2: after the whole encoder
    write_untrained_model(dir.file("m.safetensors"), cfg, 9);
    auto sep = Separator::load(dir.file("m.safetensors"));
    ASSERT_EQ(sep->config().shared_levels, GetParam());
    const auto& c = sep->config();
    std::mt19937 rng(2);
    std::exponential_distribution<float> d(1.0f);
    // 11 windows: more than one internal chunk of 8.
    std::vector<std::vector<float>> windows(11, std::vector<float>(std::size_t(c.window_frames()) * c.num_bins()));
    for (auto& w : windows)
        for (auto& x : w) x = d(rng);
    std::vector<std::vector<float>> queries = {sep->embed_query(lt::sine(110, 2.2)), sep->embed_query(lt::sine(3000, 2.2)),
                                               sep->embed_query(lt::sine(700, 2.2, 2))};
    const auto all = sep->predict_masks_for_queries(windows, queries);
    ASSERT_EQ(all.size(), queries.size());
    double between_queries = 0;
    for (std::size_t q = 0; q < queries.size(); ++q) {
        const auto one = sep->predict_masks(windows, queries[q]);
        ASSERT_EQ(all[q].size(), windows.size());
        float worst = 0;
        for (std::size_t w = 0; w < windows.size(); ++w)
            for (std::size_t k = 0; k < one[w].size(); ++k) worst = std::max(worst, std::abs(one[w][k] - all[q][w][k]));
        EXPECT_LT(worst, 1e-6f) << "query " << q;
        if (q > 0)
            for (std::size_t k = 0; k < all[q][0].size(); ++k) between_queries += std::abs(all[q][0][k] - all[0][0][k]);
    }
    EXPECT_GT(between_queries, 1e-2);  // the queries do give different masks
    EXPECT_THROW(sep->predict_masks_for_queries(windows, {}), Error);
    EXPECT_THROW(sep->predict_masks_for_queries(windows, {queries[0], std::vector<float>(3)}), Error);
}

INSTANTIATE_TEST_SUITE_P(SharedLevels, FastPathShared, ::testing::Values(0, 1, 2));

class SeparatorVsNet : public ::testing::TestWithParam<int> {};

TEST_P(SeparatorVsNet, SeparatorMasksEqualTheNetsMasks) {
    // Separator::predict_masks maps band masks to bins itself (no [N, T, bins] tensor), shares the
    // first conditioned block's first convolution between queries and folds FiLM into GroupNorm; the
    // result must be the net's own mask(), with the query entering at every possible level.
    set_torch_threads(1);
    lt::TempDir dir;
    ModelConfig c = small_test_config();
    c.shared_levels = GetParam();
    auto net = net_with_moved_films(c, 21, 5);
    auto mag = torch::rand({3, c.window_frames(), c.num_bins()}) * 4.0;
    auto emb = torch::randn({c.embedding_size});
    torch::Tensor expected;
    {
        torch::AutoGradMode on(true);  // the training path: no folding, nothing in place
        expected = net->mask(mag, emb.unsqueeze(0).expand({3, c.embedding_size})).clamp(0.0, 1.0).detach().contiguous();
    }
    torch::NoGradGuard off;
    // the Separator loads the same weights from the file: the perturbed ones
    EXPECT_LT(separator_vs(net, dir.file("m.safetensors"), mag, emb, expected).second, 1e-5f);
}

INSTANTIATE_TEST_SUITE_P(SharedLevels, SeparatorVsNet, ::testing::Values(0, 1, 2));

TEST(SharedLevels, FoldedFilmGivesTheSameMasksAtItsEmbedding) {
    ModelConfig c = small_test_config();
    auto net = net::make_net(c, 13);
    net->eval();
    torch::NoGradGuard off;
    torch::manual_seed(8);
    // Make every FiLM and GroupNorm affine far from its identity start, so the folding is really tested.
    for (auto& p : net->named_parameters())
        if (p.key().find("film") != std::string::npos || p.key().find("norm2") != std::string::npos)
            p.value().add_(torch::randn_like(p.value()) * 0.3);
    auto mag = torch::rand({2, c.window_frames(), c.num_bins()}) * 3.0;
    auto mean_query = torch::randn({1, c.embedding_size}), other = torch::randn({1, c.embedding_size});
    const auto before = net->mask(mag, mean_query), before_other = net->mask(mag, other);
    const int levels = int(c.unet_channels.size()) - 1;
    for (int shared = 1; shared <= levels; ++shared) {
        auto folded = net::share_levels(net, shared, mean_query.squeeze(0));
        folded->eval();
        EXPECT_EQ(folded->config.shared_levels, shared);
        int64_t film_before = 0, film_after = 0;
        for (const auto& p : net->named_parameters()) film_before += p.key().find("film") != std::string::npos;
        for (const auto& p : folded->named_parameters()) film_after += p.key().find("film") != std::string::npos;
        EXPECT_EQ(film_after, film_before - 2 * shared);  // weight and bias of each shared level's FiLM
        EXPECT_LT(max_abs_diff(folded->mask(mag, mean_query), before), 1e-5f) << shared << " shared levels";
        // Another query: the shared levels no longer follow it, so the masks differ from the original net's.
        EXPECT_GT(max_abs_diff(folded->mask(mag, other), before_other), 1e-4f) << shared << " shared levels";
    }
    // Sharing can only grow.
    auto two = net::share_levels(net, 2, mean_query.squeeze(0));
    EXPECT_THROW(net::share_levels(two, 1, mean_query.squeeze(0)), Error);
}

TEST(FastPath, ResidualBlockMatchesTheTrainingPathOnOffsetInputs) {
    // The inference block normalises with its own GroupNorm + ReLU kernel (mean, then centred variance).
    // Against LibTorch's group_norm on activations far from zero mean and with 1, 2 and 4 groups.
    for (int channels : {8, 16, 32}) {
        torch::manual_seed(channels);
        net::FilmResBlock block(channels, 6);
        block->eval();
        auto x = torch::randn({2, channels, 24, 20}) * 3.0 + 50.0;
        auto emb = torch::randn({1, 6});
        torch::Tensor slow, fast;
        {
            torch::AutoGradMode on(true);
            slow = block->forward(x, emb).detach();
        }
        {
            torch::NoGradGuard off;
            fast = block->forward(x, emb);
        }
        ASSERT_EQ(fast.sizes(), slow.sizes());
        EXPECT_LT(max_abs_diff(fast, slow), 1e-4f * slow.abs().max().item<float>()) << channels << " channels";
        EXPECT_GT((fast - x).abs().max().item<float>(), 1e-2f);  // the block does change its input
    }
}

TEST(FastPath, SparseFilterbankLoopsHaveTheIndexOpsValuesAndGradients) {
    // The filterbanks run as plain loops with their own backward (training too); the index_select /
    // index_add formulation is the reference. Both maps: bins → bands and bands → bins.
    const ModelConfig c = small_test_config();
    auto net = net::make_net(c, 3);
    struct Map { torch::Tensor dst, src, w; int64_t in_cols, out_cols; };
    const Map maps[] = {{net->fa_bands, net->fa_bins, net->fa_weights, c.num_bins(), c.num_bands},
                        {net->fs_bins, net->fs_bands, net->fs_weights, c.num_bands, c.num_bins()}};
    for (const auto& m : maps) {
        torch::manual_seed(int(m.in_cols));
        auto x1 = torch::rand({2, 5, m.in_cols}).requires_grad_(true);
        auto x2 = x1.detach().clone().requires_grad_(true);
        auto upstream = torch::randn({2, 5, m.out_cols});
        auto y1 = net::sparse_filterbank(x1, m.dst, m.src, m.w, m.out_cols);
        auto y2 = net::sparse_filterbank(x2, m.dst, m.src, m.w, m.out_cols, net::FilterbankPath::Reference);
        (y1 * upstream).sum().backward();
        (y2 * upstream).sum().backward();
        ASSERT_EQ(y1.sizes(), y2.sizes());
        EXPECT_LT(max_abs_diff(y1.detach(), y2.detach()), 1e-5f);
        // The loop sums four rows at a time in registers (10 rows: two blocks and two single rows), in the
        // entries' order: exactly the floats of adding one entry at a time into the output.
        auto one_at_a_time = torch::zeros({2, 5, m.out_cols});
        {
            const auto xa = x1.detach().contiguous();
            const float* xp = xa.data_ptr<float>();
            float* yp = one_at_a_time.data_ptr<float>();
            for (int64_t r = 0; r < 10; ++r)
                for (int64_t j = 0; j < m.w.numel(); ++j)
                    yp[r * m.out_cols + m.dst[j].item<int64_t>()] +=
                        m.w[j].item<float>() * xp[r * m.in_cols + m.src[j].item<int64_t>()];
        }
        EXPECT_EQ(max_abs_diff(y1.detach(), one_at_a_time), 0.0f);
        ASSERT_TRUE(x1.grad().defined());
        EXPECT_LT(max_abs_diff(x1.grad(), x2.grad()), 1e-5f);
        EXPECT_GT(x2.grad().abs().sum().item<float>(), 1.0f);  // a real gradient, not zeros
    }
}

TEST(TopDecoder, FilmTopHasNoConvolutionsAndItsFastPathMatchesTraining) {
    ModelConfig c = small_test_config();
    c.top_decoder = TopDecoder::Film;
    auto net = net::make_net(c, 17);
    net->eval();
    int dec0 = 0;
    for (const auto& p : net->named_parameters())
        if (p.key().rfind("dec.0.", 0) == 0) {
            ++dec0;
            EXPECT_EQ(p.key().find("conv"), std::string::npos) << p.key();
        }
    EXPECT_EQ(dec0, 4);  // norm2 and film, weight and bias each
    move_films(net, 6);
    auto mag = torch::rand({2, c.window_frames(), c.num_bins()}) * 4.0;
    auto q1 = torch::randn({1, c.embedding_size}), q2 = torch::randn({1, c.embedding_size});
    torch::Tensor slow;
    {
        torch::AutoGradMode on(true);  // no FiLM folding, nothing in place
        slow = net->mask(mag, q1.expand({2, c.embedding_size})).detach();
    }
    torch::NoGradGuard off;
    const auto fast = net->mask(mag, q1);
    EXPECT_LT(max_abs_diff(fast, slow), 1e-5f);
    EXPECT_GT(max_abs_diff(net->mask(mag, q2), fast), 1e-4f);  // the query still matters
    // The Separator's path: the query's weights made once, then the band masks from them.
    const auto bands_from = net->band_mask_from(net->shared_prefix(mag), q1);
    const auto bands_for = net->band_mask_for(net->shared_prefix(mag), net->query_weights(q1));
    EXPECT_LT(max_abs_diff(bands_for, bands_from), 1e-6f);
}

TEST(BlockKernels, ConversionProjectsEach3x3KernelAndKeepsEveryOtherWeight) {
    const ModelConfig c = small_test_config();
    auto square = net::make_net(c, 23);
    auto tf = net::timefreq_blocks(square);
    EXPECT_EQ(tf->config.block_kernels, BlockKernels::TimeFreq);
    const auto src = square->named_parameters();
    int converted = 0;
    for (const auto& p : tf->named_parameters()) {
        const auto& from = src[p.key()];
        const auto& to = p.value();
        if (to.sizes() == from.sizes()) {
            EXPECT_TRUE(torch::equal(to, from)) << p.key();
            continue;
        }
        ++converted;
        ASSERT_EQ(from.dim(), 4) << p.key();
        // Each channel pair keeps the sum of its taps; the taps outside the old reach are zero.
        EXPECT_LT(max_abs_diff(to.sum({2, 3}), from.sum({2, 3})), 1e-5f) << p.key();
        if (to.size(2) == 7) {
            EXPECT_LT(max_abs_diff(to.slice(2, 2, 5), from.sum(3, true)), 1e-6f) << p.key();
            EXPECT_EQ(to.slice(2, 0, 2).abs().max().item<float>(), 0.0f) << p.key();
            EXPECT_EQ(to.slice(2, 5, 7).abs().max().item<float>(), 0.0f) << p.key();
        } else {
            ASSERT_EQ(to.size(3), 5) << p.key();
            EXPECT_LT(max_abs_diff(to.slice(3, 1, 4), from.sum(2, true)), 1e-6f) << p.key();
            EXPECT_EQ(to.slice(3, 0, 1).abs().max().item<float>(), 0.0f) << p.key();
            EXPECT_EQ(to.slice(3, 4, 5).abs().max().item<float>(), 0.0f) << p.key();
        }
    }
    // Two convolutions per residual block: every encoder and decoder level and the bottleneck.
    EXPECT_EQ(converted, 2 * (2 * int(c.unet_channels.size()) - 1));
    EXPECT_THROW(net::timefreq_blocks(tf), Error);  // already converted
}

TEST(TopDecoder, ConversionKeepsEverySharedWeightAndRoundTripsThroughTheFile) {
    lt::TempDir dir;
    const ModelConfig c = small_test_config();
    auto full = net::make_net(c, 19);
    auto light = net::film_top_decoder(full);
    EXPECT_EQ(light->config.top_decoder, TopDecoder::Film);
    const auto src = full->named_parameters();
    int64_t n_full = 0, n_light = 0;
    for (const auto& p : src) n_full += p.value().numel();
    for (const auto& p : light->named_parameters()) {
        n_light += p.value().numel();
        EXPECT_TRUE(torch::equal(p.value(), src[p.key()])) << p.key();
    }
    const int64_t ch = c.unet_channels[0];
    EXPECT_EQ(n_full - n_light, 2 * (ch * ch * 9 + ch) + 2 * ch);  // two 3×3 convolutions and norm1
    EXPECT_THROW(net::film_top_decoder(light), Error);              // already light

    write_safetensors(dir.file("light.safetensors"), net::to_safetensors(light, light->config));
    const auto sep = Separator::load(dir.file("light.safetensors"));
    EXPECT_EQ(sep->config().top_decoder, TopDecoder::Film);
    EXPECT_EQ(sep->num_parameters(), n_light);
    // The same tensors under a resblock config: the file lacks the convolutions.
    auto file = net::to_safetensors(light, c);
    write_safetensors(dir.file("mismatch.safetensors"), file);
    EXPECT_THROW(Separator::load(dir.file("mismatch.safetensors")), Error);
    EXPECT_THROW(parse_top_decoder("conv"), Error);
    EXPECT_EQ(parse_top_decoder(to_string(TopDecoder::Film)), TopDecoder::Film);
}

TEST(BlockKernels, TimeFreqBlocksHaveTheirShapesAndTheFastPathMatchesTraining) {
    lt::TempDir dir;
    ModelConfig c = small_test_config();
    c.block_kernels = BlockKernels::TimeFreq;
    c.shared_levels = 1;
    auto net = net::make_net(c, 23);
    net->eval();
    int blocks = 0;
    for (const auto& p : net->named_parameters()) {
        const auto& k = p.key();
        if (k.size() > 12 && k.compare(k.size() - 12, 12, "conv1.weight") == 0) {
            EXPECT_EQ(p.value().size(2), 7) << k;  // time
            EXPECT_EQ(p.value().size(3), 1) << k;
            ++blocks;
        }
        if (k.size() > 12 && k.compare(k.size() - 12, 12, "conv2.weight") == 0) {
            EXPECT_EQ(p.value().size(2), 1) << k;
            EXPECT_EQ(p.value().size(3), 5) << k;  // bands
        }
    }
    EXPECT_EQ(blocks, 2 * int(c.unet_channels.size() - 1) + 1);  // encoder, decoder, bottleneck
    move_films(net, 7);
    auto mag = torch::rand({2, c.window_frames(), c.num_bins()}) * 4.0;
    auto q = torch::randn({1, c.embedding_size});
    torch::Tensor slow;
    {
        torch::AutoGradMode on(true);
        slow = net->mask(mag, q.expand({2, c.embedding_size})).detach();
    }
    {
        torch::NoGradGuard off;
        EXPECT_LT(max_abs_diff(net->mask(mag, q), slow), 1e-5f);
    }
    // Through the file: the kernels are part of the stored configuration.
    write_safetensors(dir.file("tf.safetensors"), net::to_safetensors(net, c));
    const auto sep = Separator::load(dir.file("tf.safetensors"));
    EXPECT_EQ(sep->config().block_kernels, BlockKernels::TimeFreq);
    ModelConfig square = c;
    square.block_kernels = BlockKernels::Square;
    write_safetensors(dir.file("mismatch.safetensors"), net::to_safetensors(net, square));
    EXPECT_THROW(Separator::load(dir.file("mismatch.safetensors")), Error);  // the tensors have the wrong shapes
    EXPECT_THROW(parse_block_kernels("3x3"), Error);
    EXPECT_EQ(parse_block_kernels(to_string(BlockKernels::TimeFreq)), BlockKernels::TimeFreq);
}

TEST(MidBlocks, DeeperBottleneckStartsAsTheSameNetAndEveryPathRunsItsBlocks) {
    lt::TempDir dir;
    set_torch_threads(1);
    ModelConfig c = small_test_config();
    c.shared_levels = 1;
    auto net = net_with_moved_films(c, 29, 8);
    auto deep = net::deeper_bottleneck(net, 3, 5);
    deep->eval();
    EXPECT_EQ(deep->config.mid_blocks, 3);
    EXPECT_THROW(net::deeper_bottleneck(deep, 2, 5), Error);  // blocks are never removed
    const auto src = net->named_parameters();
    int64_t n_net = 0, n_deep = 0;
    for (const auto& p : src) n_net += p.value().numel();
    for (const auto& p : deep->named_parameters()) {
        n_deep += p.value().numel();
        if (src.contains(p.key())) EXPECT_TRUE(torch::equal(p.value(), src[p.key()])) << p.key();
    }
    const int64_t ch = c.unet_channels.back(), emb = c.embedding_size;
    const int64_t block = 2 * (ch * ch * 9 + ch) + 4 * ch + emb * 2 * ch + 2 * ch;  // 2 convs, 2 norms, FiLM
    EXPECT_EQ(n_deep - n_net, 2 * block);

    auto mag = torch::rand({2, c.window_frames(), c.num_bins()}) * 4.0;
    auto q = torch::randn({1, c.embedding_size});
    torch::NoGradGuard off;
    const auto before = net->mask(mag, q);
    EXPECT_LT(max_abs_diff(deep->mask(mag, q), before), 1e-6f);  // new blocks are the identity

    // Trained blocks are not: give them weights, then every path must agree and differ from before.
    for (auto& p : deep->named_parameters())
        if (p.key().rfind("mid_extra.", 0) == 0) p.value().add_(torch::randn_like(p.value()) * 0.2);
    torch::Tensor slow;
    {
        torch::AutoGradMode on(true);
        slow = deep->mask(mag, q.expand({2, c.embedding_size})).detach();
    }
    EXPECT_GT(max_abs_diff(slow, before), 1e-3f);
    EXPECT_LT(max_abs_diff(deep->mask(mag, q), slow), 1e-5f);  // inference: folded FiLM, in place
    const auto [sep, worst] = separator_vs(deep, dir.file("deep.safetensors"), mag, q, slow.clamp(0.0, 1.0));
    EXPECT_EQ(sep->config().mid_blocks, 3);
    EXPECT_LT(worst, 1e-5f);
    // The same tensors under a one-block config: the file holds tensors it does not use.
    write_safetensors(dir.file("mismatch.safetensors"), net::to_safetensors(deep, c));
    EXPECT_THROW(Separator::load(dir.file("mismatch.safetensors")), Error);
    ModelConfig bad = c;
    bad.mid_blocks = 0;
    EXPECT_THROW(bad.validate(), Error);
    bad.mid_blocks = 9;
    EXPECT_THROW(bad.validate(), Error);
}

TEST(TopChannels, WiderTopLevelStartsAsTheSameNetAndEveryPathRunsItsChannels) {
    lt::TempDir dir;
    set_torch_threads(1);
    ModelConfig c = small_test_config();  // unet_channels {8, 8, 16}; no shared levels: both top blocks have FiLM
    auto net = net_with_moved_films(c, 31, 9);
    auto wide = net::wider_top_level(net, 16, 5);
    wide->eval();
    EXPECT_EQ(wide->config.unet_channels, (std::vector<int>{16, 8, 16}));
    EXPECT_THROW(net::wider_top_level(wide, 16, 5), Error);  // channels only grow
    EXPECT_THROW(net::wider_top_level(net, 12, 5), Error);   // not a whole GroupNorm group of 8
    // 8 more channels: stem (9 + 1 each), two blocks' convolutions (16·16 − 8·8 weights of 9 taps, 8
    // biases each), norms (2 · 2 · 8), FiLMs (2 · 8 outputs of E + 1), down's inputs (8 · 8 · 4),
    // up's outputs (8 · 8 · 4 + 8), head's inputs (8).
    const int64_t E = c.embedding_size;
    const int64_t block = 2 * ((16 * 16 - 8 * 8) * 9 + 8) + 2 * 2 * 8 + 2 * 8 * (E + 1);
    EXPECT_EQ(num_parameters(wide) - num_parameters(net), 8 * 10 + 2 * block + 8 * 8 * 4 + (8 * 8 * 4 + 8) + 8);

    auto mag = torch::rand({2, c.window_frames(), c.num_bins()}) * 4.0;
    auto q = torch::randn({1, c.embedding_size});
    torch::NoGradGuard off;
    const auto before = net->mask(mag, q);
    EXPECT_LT(max_abs_diff(wide->mask(mag, q), before), 1e-5f);  // the new channels do not reach the mask yet

    // Trained, they do: connect them, then every path must agree and differ from before.
    for (auto& p : wide->named_parameters()) p.value().add_(torch::randn_like(p.value()) * 0.05);
    torch::Tensor slow;
    {
        torch::AutoGradMode on(true);
        slow = wide->mask(mag, q.expand({2, c.embedding_size})).detach();
    }
    EXPECT_GT(max_abs_diff(slow, before), 1e-3f);
    EXPECT_LT(max_abs_diff(wide->mask(mag, q), slow), 1e-5f);  // inference: folded FiLM, direct 3×3 kernels
    const auto [sep, worst] = separator_vs(wide, dir.file("wide.safetensors"), mag, q, slow.clamp(0.0, 1.0));
    EXPECT_EQ(sep->config().unet_channels[0], 16);
    EXPECT_LT(worst, 1e-5f);
}

TEST(QueryProfile, ConversionStartsAsTheSameNetAndEveryPathAppliesTheProfile) {
    lt::TempDir dir;
    set_torch_threads(1);
    const ModelConfig c = small_test_config();  // 32 bands, levels 0..2
    auto net = net_with_moved_films(c, 41, 7);
    auto prof = net::with_query_profile(net);
    prof->eval();
    ASSERT_TRUE(prof->config.query_profile);
    EXPECT_EQ(prof->config.query_vector_size(), c.embedding_size + 2 * c.num_bands);
    EXPECT_THROW(net::with_query_profile(prof), Error);  // added once
    // Per level: 2 planes → the level's channels, 3 band taps.
    EXPECT_EQ(num_parameters(prof) - num_parameters(net), 2 * 3 * (8 + 8 + 16));

    auto mag = torch::rand({2, c.window_frames(), c.num_bins()}) * 4.0;
    const auto code = torch::randn({1, c.embedding_size});
    const auto q = torch::cat({code, torch::randn({1, 2 * c.num_bands})}, 1);
    torch::NoGradGuard off;
    const auto before = net->mask(mag, code);
    EXPECT_LT(max_abs_diff(prof->mask(mag, q), before), 1e-6f);  // the profile adds nothing yet
    EXPECT_THROW(prof->mask(mag, code), Error);                   // a query vector without its profile
    EXPECT_THROW(net->mask(mag, q), Error);                       // and one with a profile the net lacks

    // Trained, it does: give the convolutions weights; the training path, the folded inference path and
    // the Separator (its query weights made once) must agree, and differ from before.
    for (auto& p : prof->named_parameters())
        if (p.key().rfind("profile.", 0) == 0) p.value().add_(torch::randn_like(p.value()) * 0.5);
    torch::Tensor slow;
    {
        torch::AutoGradMode on(true);
        slow = prof->mask(mag, q.expand({2, q.size(1)})).detach();
    }
    EXPECT_GT(max_abs_diff(slow, before), 1e-3f);
    EXPECT_LT(max_abs_diff(prof->mask(mag, q), slow), 1e-5f);
    const auto [sep, worst] = separator_vs(prof, dir.file("profile.safetensors"), mag, q, slow.clamp(0.0, 1.0));
    EXPECT_TRUE(sep->config().query_profile);
    EXPECT_EQ(sep->embedding_size(), c.embedding_size + 2 * c.num_bands);
    EXPECT_LT(worst, 1e-5f);
    // The profile's tensors under a config without it: refused.
    write_safetensors(dir.file("mismatch.safetensors"), net::to_safetensors(prof, c));
    EXPECT_THROW(Separator::load(dir.file("mismatch.safetensors")), Error);
}

TEST(FineHead, ConversionKeepsTheMasksAndTheQueryMovesEachBinWithinZeroToOne) {
    lt::TempDir dir;
    set_torch_threads(1);
    const ModelConfig c = small_test_config();  // 32 bands
    auto net = net_with_moved_films(c, 43, 7);
    auto fine = net::with_fine_head(net, 4);
    fine->eval();
    ASSERT_EQ(fine->config.fine_regions, 4);
    EXPECT_THROW(net::with_fine_head(fine, 4), Error);  // added once
    EXPECT_THROW(net::with_fine_head(net, 5), Error);   // 5 regions do not divide 32 bands
    const int64_t E = c.embedding_size, K = net::LoopSepNetImpl::kFineFeatures;
    EXPECT_THROW(net->refine(torch::rand({1, 4, c.num_bins()}), torch::rand({1, 4, c.num_bins()}), torch::randn({1, E})),
                 Error);  // a net without one
    EXPECT_EQ(num_parameters(fine) - num_parameters(net), (E + 1) * 4 * K);  // per region, K weights from the embedding
    // Regions follow the bands upwards: the lowest bins in region 0, the highest in the last.
    EXPECT_EQ(fine->fine_region_of_bin[1].item<int64_t>(), 0);
    EXPECT_EQ(fine->fine_region_of_bin[c.num_bins() - 2].item<int64_t>(), 3);

    auto mag = torch::rand({2, c.window_frames(), c.num_bins()}) * 4.0;
    const auto q = torch::randn({1, E});
    {   // From zero, a loss on the masks reaches every one of its weights (training can start).
        torch::AutoGradMode on(true);
        fine->zero_grad();
        fine->mask(mag, q.expand({2, E})).square().sum().backward();
        const auto g = fine->fine_coef->weight.grad().view({4, K, E}).abs().sum(2);  // per region and feature
        EXPECT_GT(g.min().item<float>(), 0.0f) << g;
        fine->zero_grad();
    }
    torch::NoGradGuard off;
    const auto before = net->mask(mag, q);
    EXPECT_LT(max_abs_diff(fine->mask(mag, q), before), 1e-6f);  // its weights start at zero

    // The mapping: a constant term of +40 takes every bin to 1, −40 to 0, whatever the band mask said;
    // in one region only, only that region's bins move.
    auto& bias = fine->fine_coef->bias;
    for (int r = 0; r < 4; ++r) bias[r * K + K - 1] = 40.0;
    EXPECT_LT((fine->mask(mag, q) - 1.0).abs().max().item<float>(), 1e-5f);
    for (int r = 0; r < 4; ++r) bias[r * K + K - 1] = -40.0;
    EXPECT_LT(fine->mask(mag, q).abs().max().item<float>(), 1e-5f);
    bias.zero_();
    bias[3 * K + K - 1] = -40.0;
    const auto top_off = fine->mask(mag, q);
    const auto in_top = (fine->fine_region_of_bin == 3).nonzero().squeeze(1);
    const auto below = (fine->fine_region_of_bin < 3).nonzero().squeeze(1);
    EXPECT_LT(top_off.index_select(2, in_top).max().item<float>(), 1e-5f);
    EXPECT_LT(max_abs_diff(top_off.index_select(2, below), before.index_select(2, below)), 1e-6f);
    bias.zero_();

    // Trained weights: bins of one band now get different masks, all within [0, 1], and the change
    // depends on the query.
    fine->fine_coef->weight.normal_(0.0, 0.5);
    const auto after = fine->mask(mag, q);
    EXPECT_GT(max_abs_diff(after, before), 1e-2f);
    EXPECT_GE(after.min().item<float>(), 0.0f);
    EXPECT_LE(after.max().item<float>(), 1.0f);
    EXPECT_GT(max_abs_diff(fine->refine(mag, before, q), fine->refine(mag, before, torch::randn({1, E}))), 1e-3f);
    // The training path (autograd, one embedding per window) gives the same masks.
    {
        torch::AutoGradMode on(true);
        EXPECT_LT(max_abs_diff(fine->mask(mag, q.expand({2, E})).detach(), after), 1e-5f);
    }

    // Stored and read back with it; the Separator's bin masks are its expanded band masks refined.
    const auto path = dir.file("fine.safetensors");
    write_safetensors(path, net::to_safetensors(fine, fine->config));
    ModelConfig read;
    auto back = net::load_net(path, &read);
    EXPECT_EQ(read.fine_regions, 4);
    EXPECT_LT(max_abs_diff(back->mask(mag, q), after), 1e-6f);
    const auto [sep, worst] = separator_vs(fine, path, mag, q, after);
    EXPECT_TRUE(sep->refines_bins());
    EXPECT_LT(worst, 1e-5f);
    std::vector<std::vector<float>> wrong_size{std::vector<float>(7)};
    EXPECT_THROW(sep->refine_bin_masks(std::vector<float>(7), wrong_size, {std::vector<float>(E)}), Error);
}

TEST(QueryProfile, PlanesPeakAtTheQuerysBandAndAreCentred) {
    ModelConfig c = small_test_config();
    c.query_profile = true;
    auto net = net::make_net(c, 3);
    net->eval();
    torch::NoGradGuard off;
    const auto fa = net::analysis_filterbank(c);  // [bands, bins]
    int64_t previous_peak = -1;
    for (const double hz : {110.0, 700.0, 3000.0}) {
        const auto loop = lt::sine(hz, 2.2);
        auto wave = torch::from_blob(const_cast<float*>(loop.channels[0].data()), {1, int64_t(loop.frames())},
                                     torch::kFloat32).clone();
        const auto q = net->embed(net::stft_magnitude(wave, c));
        ASSERT_EQ(q.size(1), c.query_vector_size());
        const auto planes = net->split_query(q).second;  // [1, 2, bands]
        // Centred: the mean plane averages to zero over the bands (the query's level taken out).
        EXPECT_NEAR(planes[0][0].mean().item<float>(), 0.0f, 1e-5f) << hz;
        // Both planes peak at the band that weighs the sine's bin most (give or take its neighbour).
        const int64_t bin = std::lround(hz * c.n_fft / c.sample_rate_hz);
        const int64_t expected = fa.select(1, bin).argmax().item<int64_t>();
        for (int plane = 0; plane < 2; ++plane)
            EXPECT_LE(std::abs(planes[0][plane].argmax().item<int64_t>() - expected), 1) << hz << " Hz, plane " << plane;
        const int64_t peak = planes[0][0].argmax().item<int64_t>();
        EXPECT_GT(peak, previous_peak) << hz;  // higher sines, higher bands
        previous_peak = peak;
    }
}

// The direct 3×3 convolution (cpu::conv3x3) against LibTorch's, in every version this CPU runs: widths
// that fill whole vectors and widths that do not, one input channel (the stem) and many, with and
// without the residual it can add, and an output count that is not a whole block (LibTorch's then).
TEST(FastPath, DirectConvolutionMatchesLibTorchInEveryVersion) {
    torch::NoGradGuard g;
    torch::manual_seed(12);
    struct Shape { int64_t n, c_in, c_out, h, w; };
    // (75 rows: tiles of rows, the last one partial.)
    const Shape shapes[] = {{2, 1, 8, 20, 96}, {2, 8, 8, 9, 13}, {1, 16, 16, 7, 48}, {3, 64, 64, 5, 12},
                            {1, 8, 16, 4, 3}, {1, 8, 6, 6, 10}, {2, 8, 8, 75, 20}};
    int versions_run = 0;
    for (auto version : {net::cpu::Conv3x3Version::Best, net::cpu::Conv3x3Version::Avx512,
                         net::cpu::Conv3x3Version::Avx2, net::cpu::Conv3x3Version::Baseline}) {
        if (!net::cpu::conv3x3_available(version)) continue;
        ++versions_run;
        for (const Shape& s : shapes) {
            auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(s.c_in, s.c_out, 3).padding(1));
            ASSERT_TRUE(net::cpu::is_plain_3x3(*conv));
            const auto x = torch::randn({s.n, s.c_in, s.h, s.w}) + 0.5;
            const auto residual = torch::randn({s.n, s.c_out, s.h, s.w});
            const auto expected = at::conv2d(x, conv->weight, conv->bias, {1, 1}, {1, 1});
            const auto got = net::cpu::conv3x3(x, conv->weight, conv->bias, nullptr, version);
            ASSERT_EQ(got.sizes(), expected.sizes());
            EXPECT_LT(max_abs_diff(got, expected), 1e-5f) << s.c_in << "→" << s.c_out << " " << s.h << "×" << s.w;
            EXPECT_LT(max_abs_diff(net::cpu::conv3x3(x, conv->weight, conv->bias, &residual, version), expected + residual), 1e-5f);
            EXPECT_GT(expected.abs().max().item<float>(), 0.1f);  // not a trivially zero output
        }
    }
    EXPECT_GE(versions_run, 2);  // Best and the baseline at least
    // Not plain 3×3: a stride, a 1×1 kernel, no padding.
    EXPECT_FALSE(net::cpu::is_plain_3x3(*torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 3).padding(1).stride(2))));
    EXPECT_FALSE(net::cpu::is_plain_3x3(*torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 1))));
    EXPECT_FALSE(net::cpu::is_plain_3x3(*torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 3))));
}

// GroupNorm + ReLU written straight into the direct convolution's input (cpu::norm_relu_conv3x3) against
// LibTorch's group_norm, relu and conv2d, in every version: with and without the residual, and an output
// count that is not a whole block (the unfused path then).
TEST(FastPath, NormalisedConvolutionMatchesLibTorchInEveryVersion) {
    torch::NoGradGuard g;
    torch::manual_seed(13);
    struct Shape { int64_t n, c_in, c_out, h, w, groups; };
    const Shape shapes[] = {{2, 8, 8, 24, 96, 1}, {1, 16, 16, 7, 48, 2}, {2, 16, 8, 5, 13, 4}, {1, 8, 6, 6, 10, 1},
                            {2, 8, 8, 70, 24, 2}};
    int versions_run = 0;
    for (auto version : {net::cpu::Conv3x3Version::Best, net::cpu::Conv3x3Version::Avx512,
                         net::cpu::Conv3x3Version::Avx2, net::cpu::Conv3x3Version::Baseline}) {
        if (!net::cpu::conv3x3_available(version)) continue;
        ++versions_run;
        for (const Shape& s : shapes) {
            auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(s.c_in, s.c_out, 3).padding(1));
            const auto x = torch::randn({s.n, s.c_in, s.h, s.w}) * 3.0 + 2.0;  // an offset the norm removes
            const auto gamma = torch::rand({s.c_in}) + 0.5, beta = torch::randn({s.c_in}) * 0.3;
            const auto residual = torch::randn({s.n, s.c_out, s.h, s.w});
            const auto normed = torch::group_norm(x, s.groups, gamma, beta, 1e-5).relu();
            const auto expected = at::conv2d(normed, conv->weight, conv->bias, {1, 1}, {1, 1});
            const auto got = net::cpu::norm_relu_conv3x3(x, s.groups, gamma, beta, 1e-5, conv->weight, conv->bias, nullptr, version);
            ASSERT_EQ(got.sizes(), expected.sizes());
            EXPECT_LT(max_abs_diff(got, expected), 2e-5f) << s.c_in << "→" << s.c_out << " " << s.h << "×" << s.w;
            const auto with_residual =
                net::cpu::norm_relu_conv3x3(x, s.groups, gamma, beta, 1e-5, conv->weight, conv->bias, &residual, version);
            EXPECT_LT(max_abs_diff(with_residual, expected + residual), 2e-5f);
            EXPECT_GT(expected.abs().max().item<float>(), 0.1f);
        }
    }
    EXPECT_GE(versions_run, 2);
}
