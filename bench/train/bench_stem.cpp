// Prototype measurement for issue #44's "space-to-depth stem": what the net's full-resolution top level
// costs in a training step (forward + backward), against a space-to-depth replacement, on the CPU.
//   build/models/loopsep_bench_stem [--model M] [--threads T] [--batch B] [--iters N]
// Times (median of N, after one warm-up), each forward + backward of a sum over its output:
//  * whole:  the net's mask() from mixture magnitudes [B, frames, bins] and query vectors;
//  * top:    today's top level around an identity for the levels below it: stem (1 → c0, 3×3), the first
//            encoder block, the down-sampling to c1, the up-sampling back, the skip, the last decoder
//            block, the 1×1 head and the sigmoid, on the band features [B, 1, frames, bands];
//  * s2d:    what would replace it: the features folded 2×2 into channels (pixel_unshuffle → 4 channels
//            at half the frames and bands), a 3×3 convolution 4 → c1, the same identity, a 1×1 head
//            c1 → 4, pixel_shuffle back and the sigmoid.
// "whole − top + s2d" estimates the net with the space-to-depth stem. An estimate of speed only; the
// architecture is built as ModelConfig::space_to_depth (loopsep train --space-to-depth), measured in
// models/TRAINING.md ("A space-to-depth top level").
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "loopsep/model.h"
#include "net.h"

using namespace loopsep;

namespace {

double median_ms(int iters, const std::function<void()>& f) {
    f();   // warm-up
    std::vector<double> t;
    for (int i = 0; i < iters; ++i) {
        const auto a = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    std::string model_path = std::string(LOOPSEP_SOURCE_DIR) + "/models/loopsep-v5.safetensors";
    int threads = 1, batch = 16, iters = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--model") model_path = v;
        else if (a == "--threads") threads = std::atoi(v.c_str());
        else if (a == "--batch") batch = std::atoi(v.c_str());
        else if (a == "--iters") iters = std::atoi(v.c_str());
        else { std::cerr << "unknown option " << a << "\n"; return 2; }
    }
    at::set_num_threads(threads);
    torch::manual_seed(1);
    ModelConfig cfg;
    auto net = net::load_net(model_path, &cfg);
    net->train();
    const auto& ch = cfg.unet_channels;
    const int64_t T = cfg.window_frames(), F = cfg.num_bins(), Bd = cfg.num_bands;
    const auto mags = torch::rand({batch, T, F});
    const auto query = net->embed(torch::rand({batch, T, F})).detach();
    const auto emb = query.narrow(1, 0, cfg.embedding_size).contiguous();
    const auto feats = net->features(mags).detach();   // [B, 1, T, bands]

    const double whole = median_ms(iters, [&] { net->mask(mags, query).sum().backward(); });
    auto& enc0 = *net->enc[0]->as<net::FilmResBlock>();
    auto& dec0 = *net->dec[0]->as<net::FilmResBlock>();
    auto& down0 = *net->down[0]->as<torch::nn::Conv2d>();
    auto& up0 = *net->up[0]->as<torch::nn::ConvTranspose2d>();
    const double top = median_ms(iters, [&] {
        auto x = net->stem(feats.clone().requires_grad_());
        auto e = enc0.forward(x, cfg.shared_levels > 0 ? torch::Tensor() : emb);
        auto d = down0.forward(e);                              // the levels below: identity here
        auto y = dec0.forward(up0.forward(d) + e, emb);
        torch::sigmoid(net->head(torch::relu(y))).sum().backward();
    });
    torch::nn::Conv2d stem2(torch::nn::Conv2dOptions(4, ch[1], 3).padding(1));
    torch::nn::Conv2d head2(torch::nn::Conv2dOptions(ch[1], 4, 1));
    const double s2d = median_ms(iters, [&] {
        auto d = stem2(torch::pixel_unshuffle(feats.clone().requires_grad_(), 2));
        torch::sigmoid(torch::pixel_shuffle(head2(torch::relu(d)), 2)).sum().backward();
    });
    std::cout << "batch " << batch << ", " << threads << " thread(s), window " << T << " frames x " << Bd
              << " bands, channels " << ch[0] << "," << ch[1] << "...: forward+backward ms (median of " << iters << ")\n"
              << "  whole mask()            " << whole << "\n"
              << "  top level (today)       " << top << "  (" << 100.0 * top / whole << " % of the whole)\n"
              << "  space-to-depth stem     " << s2d << "\n"
              << "  estimated whole with it " << whole - top + s2d << "  (x" << whole / (whole - top + s2d) << ")\n";
    return 0;
}
