// The inference fast path (plain loops for the sparse filterbanks, a query-independent
// prefix shared by several targets) must compute what the differentiable net computes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "loopsep/error.h"
#include "loopsep/model.h"
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

TEST(FastPath, SeveralQueriesEqualOneCallPerQuery) {
    set_torch_threads(2);  // windows split across two workers, as `separate` runs them
    lt::TempDir dir;
    write_untrained_model(dir.file("m.safetensors"), small_test_config(), 9);
    auto sep = Separator::load(dir.file("m.safetensors"));
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
