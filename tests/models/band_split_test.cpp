// The two finer-frequency paths of the net (ModelConfig::band_split_channels, ModelConfig::bin_logits):
// their conversions keep the masks, their fast CPU kernels equal the index-op formulation (values and
// gradients), the band-split input sees inside a band, the bin logits move bins within [0, 1], and the
// config fields round-trip through JSON and are validated.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "error_expect.h"
#include "loopsep/error.h"
#include "loopsep/model.h"
#include "model_fixture.h"
#include "net.h"
#include "test_util.h"

using namespace loopsep;
namespace lt = loopsep::testing;

namespace {

float max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<float>(); }

int64_t num_parameters(net::LoopSepNet& net) {
    int64_t n = 0;
    for (const auto& p : net->parameters()) n += p.numel();
    return n;
}

// A fresh small net in eval mode with its FiLMs moved off their identity start, so that every query
// gives other masks and the inference path's folded FiLMs are exercised.
net::LoopSepNet trained_looking_net(const ModelConfig& c, std::uint64_t seed) {
    auto net = net::make_net(c, seed);
    net->eval();
    torch::manual_seed(seed + 100);
    torch::NoGradGuard g;
    for (auto& p : net->named_parameters())
        if (p.key().find("film") != std::string::npos) p.value().add_(torch::randn_like(p.value()) * 0.3);
    return net;
}

std::vector<std::vector<float>> windows_of(const torch::Tensor& mag) {
    const auto m = mag.contiguous();
    const std::size_t per = std::size_t(m.size(1) * m.size(2));
    std::vector<std::vector<float>> out(std::size_t(m.size(0)));
    for (std::size_t i = 0; i < out.size(); ++i) out[i].assign(m.data_ptr<float>() + i * per, m.data_ptr<float>() + (i + 1) * per);
    return out;
}

std::vector<float> vec(const torch::Tensor& t) {
    const auto c = t.contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// The Separator's masks (its inference path: shared prefix once, then each query) for `queries` [Q, E]
// over the windows of `mag`: [query] → [N, T, bins].
std::vector<torch::Tensor> separator_masks(net::LoopSepNet& net, const std::string& path, const torch::Tensor& mag,
                                           const torch::Tensor& queries) {
    write_safetensors(path, net::to_safetensors(net, net->config));
    const auto sep = Separator::load(path);
    std::vector<std::vector<float>> q;
    for (int64_t i = 0; i < queries.size(0); ++i) q.push_back(vec(queries[i]));
    const auto got = sep->predict_masks_for_queries(windows_of(mag), q);
    std::vector<torch::Tensor> out;
    for (const auto& per_query : got) {
        std::vector<torch::Tensor> w;
        for (const auto& m : per_query) w.push_back(torch::tensor(m).view({mag.size(1), mag.size(2)}));
        out.push_back(torch::stack(w));
    }
    return out;
}

// The training path (autograd on) of `net` for one query expanded over the windows.
torch::Tensor training_masks(net::LoopSepNet& net, const torch::Tensor& mag, const torch::Tensor& q) {
    torch::AutoGradMode on(true);
    return net->mask(mag, q.expand({mag.size(0), q.size(1)})).detach();
}

}  // namespace

TEST(BandSplit, ConversionKeepsTheMasksExactlyOnEveryPath) {
    lt::TempDir dir;
    set_torch_threads(1);
    const ModelConfig c = lt::small_test_config();  // 32 bands, top level 8 channels
    auto net = trained_looking_net(c, 21);
    auto split = net::with_band_split(net, 4, 5);
    split->eval();
    ASSERT_EQ(split->config.band_split_channels, 4);
    EXPECT_THROW(net::with_band_split(split, 4, 5), Error);  // added once
    EXPECT_THROW(net::with_band_split(net, 65, 5), Error);   // 1..64 values per band
    // Per analysis entry 4 weights, per band 4 biases, and the 3×3 convolution 4 → 8 with its bias.
    const int64_t entries = net->fa_bands.numel();
    EXPECT_EQ(num_parameters(split) - num_parameters(net), entries * 4 + 32 * 4 + 8 * 4 * 9 + 8);
    // The old parameters kept their names and values.
    auto old_params = net->named_parameters();
    for (const auto& p : split->named_parameters())
        if (old_params.contains(p.key())) EXPECT_TRUE(torch::equal(p.value(), old_params[p.key()])) << p.key();

    torch::manual_seed(3);
    const auto mag = torch::rand({3, c.window_frames(), c.num_bins()}) * 4.0;
    const auto queries = torch::randn({2, c.embedding_size});
    torch::NoGradGuard off;
    // Exactly: the new convolution adds zeros to the stem's output.
    for (int q = 0; q < 2; ++q) {
        const auto qq = queries[q].unsqueeze(0);
        EXPECT_EQ(max_abs_diff(split->mask(mag, qq), net->mask(mag, qq)), 0.0f);                      // inference
        EXPECT_EQ(max_abs_diff(training_masks(split, mag, qq), training_masks(net, mag, qq)), 0.0f);  // training
    }
    const auto before = separator_masks(net, dir.file("plain.safetensors"), mag, queries);
    const auto after = separator_masks(split, dir.file("split.safetensors"), mag, queries);
    for (int q = 0; q < 2; ++q) EXPECT_EQ(max_abs_diff(after[q], before[q]), 0.0f);  // shared prefix, two queries
    EXPECT_EQ(Separator::load(dir.file("split.safetensors"))->config().band_split_channels, 4);

    // Trained (the convolution non-zero), the masks change, and every path still agrees.
    torch::manual_seed(9);
    split->band_split_conv->weight.normal_(0.0, 0.3);
    const auto qq = queries[1].unsqueeze(0);
    const auto moved = split->mask(mag, qq);
    EXPECT_GT(max_abs_diff(moved, net->mask(mag, qq)), 1e-3f);
    EXPECT_LT(max_abs_diff(training_masks(split, mag, qq), moved), 1e-5f);
    EXPECT_LT(max_abs_diff(separator_masks(split, dir.file("moved.safetensors"), mag, queries)[1], moved), 1e-5f);
    // Its tensors under a config without it: refused.
    write_safetensors(dir.file("mismatch.safetensors"), net::to_safetensors(split, c));
    EXPECT_THROW(Separator::load(dir.file("mismatch.safetensors")), Error);
}

TEST(BandSplit, TheMapSeesInsideABand) {
    const ModelConfig c = lt::small_test_config();
    auto base = trained_looking_net(c, 22);
    auto net = net::with_band_split(base, 4, 6);
    net->eval();
    torch::NoGradGuard off;
    // Two spectra with the same band means (the analysis filterbank's output) but other bins: the second
    // moves the first along the filterbank's null space (A·v = 0), so every band mean stays.
    torch::manual_seed(4);
    const auto A = net::analysis_filterbank(c).to(torch::kFloat64);  // [bands, bins]
    const auto mag1 = (torch::rand({1, c.window_frames(), c.num_bins()}, torch::kFloat64) + 1.0);
    const auto r = torch::randn({c.num_bins(), 1}, torch::kFloat64);
    const auto v = r - torch::matmul(A.t(), torch::linalg_solve(torch::matmul(A, A.t()), torch::matmul(A, r)));
    const auto mag2 = mag1 + 0.9 * (v / v.abs().max()).view({1, 1, c.num_bins()});  // stays ≥ 0.1
    ASSERT_GT(mag2.min().item<double>(), 0.0);
    const auto m1 = mag1.to(torch::kFloat32), m2 = mag2.to(torch::kFloat32);
    ASSERT_GT(max_abs_diff(m1, m2), 0.5f);
    EXPECT_LT(max_abs_diff(net->band_magnitudes(m1), net->band_magnitudes(m2)), 1e-5f);  // same band means
    // The band features (all the net saw before) agree; the band-split features do not, in the bands whose
    // bins changed.
    EXPECT_LT(max_abs_diff(net->features(m1), net->features(m2)), 1e-5f);
    const auto f1 = net->band_split_features(m1), f2 = net->band_split_features(m2);
    ASSERT_EQ(f1.sizes(), torch::IntArrayRef({1, 4, c.window_frames(), c.num_bands}));
    EXPECT_GT(max_abs_diff(f1, f2), 1e-2f);
    // With the convolution still at zero the masks agree; once it has weights they differ.
    const auto q = torch::randn({1, c.embedding_size});
    EXPECT_LT(max_abs_diff(net->mask(m1, q), net->mask(m2, q)), 1e-5f);
    net->band_split_conv->weight.normal_(0.0, 0.3);
    EXPECT_GT(max_abs_diff(net->mask(m1, q), net->mask(m2, q)), 1e-3f);
}

// Both kernels have an 8-lane path (channels a multiple of 8: the band split's C, the bin logits' top
// channels) and a plain one: each path of each kernel.
class KernelChannels : public ::testing::TestWithParam<std::pair<int, int>> {};
INSTANTIATE_TEST_SUITE_P(BandSplit, KernelChannels,
                         ::testing::Values(std::make_pair(5, 8), std::make_pair(16, 16), std::make_pair(8, 12)));

TEST_P(KernelChannels, FastKernelsEqualTheIndexOpsInValueAndGradient) {
    ModelConfig c = lt::small_test_config();
    c.band_split_channels = GetParam().first;
    c.unet_channels[0] = GetParam().second;
    c.bin_logits = true;
    auto net = net::make_net(c, 8);
    torch::manual_seed(2);
    {
        torch::NoGradGuard g;
        net->band_split_bias.normal_();
        net->bin_logit_weight.normal_();
        net->bin_logit_bias.normal_();
    }
    const auto mag = torch::rand({2, 12, c.num_bins()}) * 3.0;
    const auto top = torch::rand({2, c.unet_channels[0], 12, c.num_bands}, torch::requires_grad());
    auto run = [&](net::FilterbankPath path) {
        net->zero_grad();
        if (top.grad().defined()) top.grad().zero_();
        const auto s = net->band_split_features(mag, path), d = net->bin_logit_delta(top, path);
        // Weighted sums, so that every output's gradient differs.
        (s * torch::linspace(-1, 1, s.numel()).view(s.sizes())).sum().add((d * torch::linspace(1, 2, d.numel()).view(d.sizes())).sum()).backward();
        return std::vector<torch::Tensor>{s.detach(), d.detach(), net->band_split_weight.grad().clone(),
                                          net->band_split_bias.grad().clone(), net->bin_logit_weight.grad().clone(),
                                          net->bin_logit_bias.grad().clone(), top.grad().clone()};
    };
    const auto fast = run(net::FilterbankPath::Auto), ref = run(net::FilterbankPath::Reference);
    const char* names[] = {"band split", "bin logits", "d split weight", "d split bias", "d logit weight", "d logit bias", "d top"};
    for (std::size_t i = 0; i < fast.size(); ++i) {
        const float scale = std::max(1.0f, ref[i].abs().max().item<float>());
        EXPECT_LT(max_abs_diff(fast[i], ref[i]) / scale, 1e-5f) << names[i];
        EXPECT_GT(ref[i].abs().max().item<float>(), 0.0f) << names[i];
    }
    // The magnitudes' gradient too (the kernel's first input), where they need one.
    const auto leaf = mag.clone().requires_grad_(true);
    net->band_split_features(leaf).sum().backward();
    const auto g_fast = leaf.grad().clone();
    leaf.grad().zero_();
    net->band_split_features(leaf, net::FilterbankPath::Reference).sum().backward();
    EXPECT_LT(max_abs_diff(g_fast, leaf.grad()), 1e-5f);
}

TEST(BinLogits, ZeroDeltaKeepsTheBandPathsMasksAndADeltaMovesBinsWithinZeroToOne) {
    lt::TempDir dir;
    set_torch_threads(1);
    const ModelConfig c = lt::small_test_config();
    auto net = trained_looking_net(c, 23);
    auto fine = net::with_bin_logits(net);
    fine->eval();
    ASSERT_TRUE(fine->config.bin_logits);
    EXPECT_THROW(net::with_bin_logits(fine), Error);  // added once
    EXPECT_EQ(num_parameters(fine) - num_parameters(net), int64_t(c.num_bins()) * (8 + 1));  // per bin: 8 channels + bias
    // Each bin reads the band that weighs it most in the band → bin map: the bands rise with the bins.
    const auto bb = fine->bin_band;
    EXPECT_EQ(bb[0].item<int64_t>(), 0);
    EXPECT_EQ(bb[c.num_bins() - 1].item<int64_t>(), c.num_bands - 1);
    EXPECT_TRUE(torch::all(bb.slice(0, 1) >= bb.slice(0, 0, -1)).item<bool>());

    torch::manual_seed(5);
    const auto mag = torch::rand({2, c.window_frames(), c.num_bins()}) * 4.0;
    const auto queries = torch::randn({2, c.embedding_size});
    const auto q = queries[0].unsqueeze(0);
    torch::NoGradGuard off;
    {   // From zero, a loss on the masks reaches every bin's weights and bias (training can start).
        torch::AutoGradMode on(true);
        fine->zero_grad();
        fine->mask(mag, q.expand({2, c.embedding_size})).square().sum().backward();
        EXPECT_GT(fine->bin_logit_bias.grad().abs().min().item<float>(), 0.0f);
        EXPECT_GT(fine->bin_logit_weight.grad().abs().sum(1).min().item<float>(), 0.0f);
        fine->zero_grad();
    }
    // delta = 0: the band path's masks (up to the logit's clamp at 1e-6).
    const auto before = net->mask(mag, q);
    EXPECT_LT(max_abs_diff(fine->mask(mag, q), before), 2e-6f);
    EXPECT_LT(max_abs_diff(training_masks(fine, mag, q), before), 2e-6f);
    const auto sep_before = separator_masks(net, dir.file("plain.safetensors"), mag, queries);
    const auto sep_zero = separator_masks(fine, dir.file("zero.safetensors"), mag, queries);
    for (int i = 0; i < 2; ++i) EXPECT_LT(max_abs_diff(sep_zero[i], sep_before[i]), 2e-6f);

    // A bias of +40 takes a bin to 1, −40 to 0, whatever the band mask said; other bins stay.
    fine->bin_logit_bias.slice(0, 600, 700).fill_(40.0);
    fine->bin_logit_bias.slice(0, 100, 200).fill_(-40.0);
    const auto pinned = fine->mask(mag, q);
    EXPECT_LT((pinned.slice(2, 600, 700) - 1.0).abs().max().item<float>(), 1e-5f);
    EXPECT_LT(pinned.slice(2, 100, 200).abs().max().item<float>(), 1e-5f);
    EXPECT_LT(max_abs_diff(pinned.slice(2, 300, 500), before.slice(2, 300, 500)), 2e-6f);
    fine->bin_logit_bias.zero_();
    // Trained weights: bins of one band get different masks, in [0, 1], that depend on the query; the
    // training path, the inference path and the Separator agree.
    fine->bin_logit_weight.normal_(0.0, 1.0);
    const auto after = fine->mask(mag, q);
    EXPECT_GT(max_abs_diff(after, before), 1e-2f);
    EXPECT_GE(after.min().item<float>(), 0.0f);
    EXPECT_LE(after.max().item<float>(), 1.0f);
    EXPECT_LT(max_abs_diff(training_masks(fine, mag, q), after), 1e-5f);
    const auto sep_after = separator_masks(fine, dir.file("moved.safetensors"), mag, queries);
    EXPECT_LT(max_abs_diff(sep_after[0], after), 1e-5f);
    EXPECT_LT(max_abs_diff(sep_after[1], fine->mask(mag, queries[1].unsqueeze(0))), 1e-5f);
    EXPECT_TRUE(Separator::load(dir.file("moved.safetensors"))->has_bin_logits());
    EXPECT_FALSE(Separator::load(dir.file("plain.safetensors"))->has_bin_logits());
}

TEST(BinLogits, TheFloatFormulaIsTheLogitSum) {
    const std::vector<float> m = {0.0f, 1e-7f, 0.2f, 0.5f, 0.9f, 1.0f, 0.3f, 0.7f};
    const std::vector<float> d = {0.0f, 0.0f, 0.0f, 1.5f, -2.0f, 0.0f, 100.0f, -100.0f};
    auto got = m;
    EXPECT_TRUE(apply_bin_logits(got.data(), d.data(), got.size()));
    for (std::size_t i = 0; i < m.size(); ++i) {
        const double mc = std::clamp(double(m[i]), 1e-6, 1 - 1e-6);
        const double want = 1.0 / (1.0 + std::exp(-(std::log(mc / (1 - mc)) + d[i])));
        if (d[i] == 0.0f) EXPECT_EQ(got[i], m[i]) << i;  // a zero delta: the mask itself, bit for bit (no clamp)
        else EXPECT_NEAR(got[i], want, 1e-6) << i;
    }
    const std::vector<float> zero(m.size(), 0.0f);
    EXPECT_FALSE(apply_bin_logits(got.data(), zero.data(), got.size()));  // nothing moved
}

TEST(ModelConfigFields, BandSplitAndBinLogitsRoundTripAndAreValidated) {
    ModelConfig c = lt::small_test_config();
    auto j = nlohmann::json::parse(c.to_json());
    EXPECT_EQ(j.at("band_split_channels").get<int>(), 0);
    EXPECT_FALSE(j.at("bin_logits").get<bool>());
    c.band_split_channels = 6;
    c.bin_logits = true;
    const auto back = ModelConfig::from_json(c.to_json(), "new");
    EXPECT_EQ(back.band_split_channels, 6);
    EXPECT_TRUE(back.bin_logits);
    // Files written before them (v1–v6) have neither key: off.
    j.erase("band_split_channels");
    j.erase("bin_logits");
    const auto old = ModelConfig::from_json(j.dump(), "old");
    EXPECT_EQ(old.band_split_channels, 0);
    EXPECT_FALSE(old.bin_logits);
    // Out of range: an error naming the field (and, read from a file, the file).
    for (int bad : {-1, 65}) {
        j["band_split_channels"] = bad;
        const auto message = lt::expect_input_error([&] { ModelConfig::from_json(j.dump(), "m.safetensors"); });
        EXPECT_NE(message.find("m.safetensors"), std::string::npos) << message;
        EXPECT_NE(message.find("band_split_channels"), std::string::npos) << message;
        ModelConfig direct = lt::small_test_config();
        direct.band_split_channels = bad;
        EXPECT_NE(lt::message_of([&] { direct.validate(); }).find("band_split_channels"), std::string::npos);
    }
    j["band_split_channels"] = 2;
    j["bin_logits"] = "yes";  // not a bool
    EXPECT_NE(lt::expect_input_error([&] { ModelConfig::from_json(j.dump(), "m.safetensors"); }).find("m.safetensors"),
              std::string::npos);
}

TEST(ModelConfigFields, ShippedModelsLoadWithNeitherPath) {
    for (const char* f : {"models/loopsep-v1.safetensors", "models/loopsep-v6.safetensors"}) {
        const auto sep = Separator::load(std::string(LOOPSEP_SOURCE_DIR) + "/" + f);
        EXPECT_EQ(sep->config().band_split_channels, 0) << f;
        EXPECT_FALSE(sep->has_bin_logits()) << f;
    }
}
