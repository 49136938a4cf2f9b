// The training loop (LibTorch; see loopsep/train.h); its examples are drawn in train_batch.cpp and
// scored in validation.cpp.
//
// The whole cache lives on the training device as µ-law codes [segments, samples];
// a batch is a table of segment indices and gains, decoded and mixed on the device,
// so a GPU step never waits for the CPU and a CPU step does no extra copies.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <exception>
#include <iomanip>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "augment.h"
#include "checkpoint.h"
#include "loopsep/error.h"
#include "loopsep/train.h"
#include "net.h"
#include "train_data.h"
#include "validation.h"

namespace loopsep {

void TrainParams::validate() const {
    if (out.empty()) throw usage_error("--out: a model file is required");
    if (steps < 1 || steps > 10000000) throw usage_error("--steps must be in 1..10000000");
    if (batch < 1 || batch > 1024) throw usage_error("--batch must be in 1..1024");
    if (!(lr > 0 && lr < 1)) throw usage_error("--lr must be in (0, 1)");
    if (threads < 1 || threads > 256) throw usage_error("--threads must be in 1..256");
    if (replicas < 1 || replicas > 64 || replicas > batch)
        throw usage_error("--replicas must be in 1..64 and at most --batch (each replica takes a slice of the batch)");
    if (cuda && replicas != 1) throw usage_error("--replicas is for CPU training (a GPU takes the whole batch)");
    if (log_every < 1 || val_every < 1 || val_examples < 1) throw usage_error("log/validation intervals must be ≥ 1");
    if (silent_fraction < 0 || silent_fraction > 1) throw usage_error("silent_fraction must be in [0, 1]");
    if (same_bar_fraction < 0 || same_bar_fraction > 1) throw usage_error("same_bar_fraction must be in [0, 1]");
    if (pair_fraction < 0 || pair_fraction > 1) throw usage_error("--pair-fraction must be in [0, 1]");
    if (ema_decay != 0 && !(ema_decay >= 0.5 && ema_decay < 1))
        throw usage_error("--ema must be 0 (off) or in [0.5, 1): it is the weight average's decay per step");
    if (!(augment_eq_db >= 0 && augment_eq_db <= 24))
        throw usage_error("--augment-eq must be in 0..24 dB (the largest boost or cut of the random EQ)");
    if (!(augment_pitch_semitones >= 0 && augment_pitch_semitones <= 6))
        throw usage_error("--augment-pitch must be in 0..6 semitones (the largest random pitch shift)");
    if (!(generic_fraction >= 0 && generic_fraction <= 0.5))
        throw usage_error("--generic-fraction must be in 0..0.5 (the share of examples with a generic target, and of those with a generic distractor)");
    if (!(self_query_fraction >= 0 && self_query_fraction <= 1))
        throw usage_error("--self-query-fraction must be in [0, 1] (the share of examples queried by another bar of their own song)");
    if (mid_blocks < 0 || mid_blocks > 8) throw usage_error("--mid-blocks must be in 1..8 (0: the architecture's own)");
    if (top_channels < 0 || top_channels > 1024)
        throw usage_error("--top-channels must be in 1..1024 (0: the architecture's own)");
    if (fine_regions < 0 || (fine_regions > 0 && config.num_bands % fine_regions != 0))
        throw usage_error("--fine-head must divide the bands (" + std::to_string(config.num_bands) + ") into equal regions");
    if (!(fine_lr_scale > 0 && fine_lr_scale <= 1000))
        throw usage_error("--fine-lr-scale must be in (0, 1000] (the bin refinement's learning rate over --lr)");
    if (repetition_neighbours < 0 || repetition_neighbours > 16)
        throw usage_error("--repetition must be in 1..16 (the bars whose median is the template; 0: the architecture's own)");
    if (band_split_channels < 0 || band_split_channels > 64)
        throw usage_error("--band-split must be in 1..64 (values per band from its bins; 0: the architecture's own)");
    if (warmup_steps < 0 || warmup_steps > steps) throw usage_error("--warmup-steps must be in 0..--steps");
    if (!(checkpoint_every_min > 0 && checkpoint_every_min <= 1e6))
        throw usage_error("--checkpoint-every-min must be in (0, 1000000] minutes");
    if (!checkpoint.empty() && (checkpoint == out || checkpoint == out_last))
        throw usage_error("--checkpoint: " + checkpoint + " is also a model file of the run (give it a name of its own)");
    config.validate();
    if (shared_levels < -1 || shared_levels > int(config.unet_channels.size()) - 1)
        throw usage_error("--shared-levels must be in 0..levels (" + std::to_string(config.unet_channels.size() - 1) + ")");
}

TrainLoss parse_train_loss(const std::string& name) {
    if (name == "magnitude") return TrainLoss::Magnitude;
    if (name == "psa") return TrainLoss::PhaseSensitive;
    if (name == "sdr") return TrainLoss::Sdr;
    throw usage_error("--loss must be magnitude, psa or sdr, not '" + name + "'");
}

const char* train_loss_name(TrainLoss loss) {
    switch (loss) {
        case TrainLoss::PhaseSensitive: return "psa";
        case TrainLoss::Sdr: return "sdr";
        case TrainLoss::Magnitude: break;
    }
    return "magnitude";
}

namespace {

using namespace train_data;

// SIGINT / SIGTERM: the step in progress finishes, then the run saves and stops.
std::atomic<int> g_signal{0};
extern "C" void on_stop_signal(int sig) { g_signal = sig; }

// −SDR in dB of the masked mixture (mask · X, the mixture's phase: what the engine outputs) against the
// target, over the window's four-beat centre (what the validation scores), one figure per example, then
// the mean: every window counts alike, as in the mean SDR, however loud its target. By Parseval the
// spectral error is the waveform's (up to the window overlap's constant). Soft threshold τ (Wisdom et al.
// 2020): 10·log10(|E|² + τ|X|²) − 10·log10(|S|² + τ|X|²), so a silent target trains the output down to
// −40 dB under the mixture instead of dividing by zero, and no error is chased below that floor.
torch::Tensor sdr_loss(net::LoopSepNet& model, const torch::Tensor& X, const torch::Tensor& S,
                       const torch::Tensor& mix_mag, const torch::Tensor& emb, const torch::Tensor& repetition) {
    constexpr double kTau = 1e-4;
    const auto& cfg = model->config;
    auto centre = [&](const torch::Tensor& t) { return t.narrow(2, cfg.context_frames, cfg.segment_frames); };
    const auto m = centre(model->mask(mix_mag, emb, repetition).transpose(1, 2));       // [N, F, T]
    const auto xr = centre(torch::real(X)), xi = centre(torch::imag(X));
    const auto sr = centre(torch::real(S)), si = centre(torch::imag(S));
    const auto err = ((m * xr - sr).square() + (m * xi - si).square()).sum({1, 2});
    const auto tgt = (sr.square() + si.square()).sum({1, 2});
    const auto floor = kTau * (xr.square() + xi.square()).sum({1, 2}) + 1e-10;
    return (10.0 * (torch::log10(err + floor) - torch::log10(tgt + floor))).mean();
}

torch::Tensor loss_fn(net::LoopSepNet& model, const Batch& b, TrainLoss loss, double eq_db) {
    const auto& cfg = model->config;
    auto X = net::stft_complex(b.mix, cfg), S = net::stft_complex(b.target, cfg);  // [N, F, T]
    auto query_mag = net::stft_magnitude(b.query, cfg);                          // [N, T, F]
    torch::Tensor eq_target, eq_rest;                                            // [N, F]
    if (!b.target_eq.empty()) {
        auto eq = [&](const std::vector<augment::EqCurve>& c) {
            return augment::eq_gains(c, eq_db, cfg.n_fft, cfg.sample_rate_hz).to(X.device());   // [N, F]
        };
        eq_target = eq(b.target_eq);
        eq_rest = eq(b.rest_eq);
        const auto gt = eq_target.unsqueeze(2), gr = eq_rest.unsqueeze(2);
        X = S * gt + (X - S) * gr;
        S = S * gt;
        query_mag = query_mag * eq(b.query_eq).unsqueeze(1);
    }
    const auto x_abs = X.abs();
    auto mix_mag = x_abs.transpose(1, 2).contiguous();                                   // [N, T, F]
    const auto repetition = cfg.repetition_neighbours > 0 ? repetition_input(model, b, mix_mag, eq_target, eq_rest)
                                                          : torch::Tensor();
    if (loss == TrainLoss::Sdr) return sdr_loss(model, X, S, mix_mag, model->embed(query_mag), repetition);
    torch::Tensor tgt_mag;
    if (loss == TrainLoss::PhaseSensitive) {
        // |S|·cos(∠S − ∠X) = Re(S·X̄) / |X|, clipped to what a mask in [0, 1] can reach.
        const auto in_phase = (torch::real(S) * torch::real(X) + torch::imag(S) * torch::imag(X)) / (x_abs + 1e-8);
        tgt_mag = torch::minimum(in_phase.clamp_min(0.0), x_abs).transpose(1, 2);
    } else {
        tgt_mag = S.abs().transpose(1, 2);
    }
    auto emb = model->embed(query_mag);
    auto est = model->mask(mix_mag, emb, repetition) * mix_mag;
    // L1 on magnitudes, normalised per example by the mixture's mean magnitude (levels vary by 18 dB).
    auto err = (est - tgt_mag).abs().mean({1, 2});
    return (err / (mix_mag.mean({1, 2}) + 1e-4)).mean();
}

// Data parallelism on the CPU (TrainParams::replicas): the batch is cut into contiguous slices, and each
// slice goes forward and back on its own thread and its own copy of the net (one intra-op thread each),
// its loss weighted by its share of the batch so that the slices' gradients sum to the batch mean's.
// The gradients are summed into the model in a fixed order: the same examples and the same gradient as
// one step over the whole batch, up to float rounding. The net's small convolutions keep one thread
// busy but share a step between two threads poorly (OpenMP barriers per operation).
class Replicas {
public:
    Replicas(net::LoopSepNet& model, int n, int threads_each) : model_(model), threads_each_(threads_each) {
        for (int k = 1; k < n; ++k) {
            net::LoopSepNet copy(model->config);
            copy->to(model->stem->weight.device());
            copy->train();
            copies_.push_back(copy);
        }
    }
    // Gradients of the batch's mean loss into the model's (zeroed) parameters; returns that loss.
    double forward_backward(const Batch& b, TrainLoss loss, double eq_db) {
        const auto params = model_->parameters();
        {
            torch::NoGradGuard g;
            for (auto& c : copies_) {
                const auto cp = c->parameters();
                for (std::size_t i = 0; i < params.size(); ++i) {
                    cp[i].detach().copy_(params[i].detach());
                    cp[i].mutable_grad() = torch::Tensor();
                }
            }
        }
        const int n = int(copies_.size()) + 1;
        const int64_t B = b.mix.size(0);
        std::vector<double> losses(n, 0.0);
        std::vector<std::exception_ptr> errors(n);
        auto run = [&](int k) {
            try {
                at::set_num_threads(threads_each_);   // per thread (OpenMP's count is a thread's own)
                const int64_t begin = B * k / n, end = B * (k + 1) / n;
                auto l = loss_fn(k == 0 ? model_ : copies_[k - 1], slice(b, begin, end), loss, eq_db) *
                         (double(end - begin) / double(B));
                l.backward();
                losses[k] = l.item<double>();
            } catch (...) {
                errors[k] = std::current_exception();
            }
        };
        std::vector<std::thread> workers;
        for (int k = 1; k < n; ++k) workers.emplace_back(run, k);
        run(0);
        for (auto& w : workers) w.join();
        for (const auto& e : errors)
            if (e) std::rethrow_exception(e);
        torch::NoGradGuard g;
        for (auto& c : copies_) {
            const auto cp = c->parameters();
            for (std::size_t i = 0; i < params.size(); ++i)
                if (cp[i].grad().defined()) params[i].mutable_grad().add_(cp[i].grad());
        }
        double total = 0;
        for (double l : losses) total += l;
        return total;
    }

private:
    static Batch slice(const Batch& b, int64_t begin, int64_t end) {
        Batch s;
        s.mix = b.mix.narrow(0, begin, end - begin);
        s.target = b.target.narrow(0, begin, end - begin);
        s.query = b.query.narrow(0, begin, end - begin);
        auto part = [&](const std::vector<augment::EqCurve>& v) {
            return v.empty() ? v : std::vector<augment::EqCurve>(v.begin() + begin, v.begin() + end);
        };
        s.target_eq = part(b.target_eq);
        s.rest_eq = part(b.rest_eq);
        s.query_eq = part(b.query_eq);
        if (b.context_target.defined()) {  // rows b·kContextBars + m
            s.context_target = b.context_target.narrow(0, begin * kContextBars, (end - begin) * kContextBars);
            s.context_rest = b.context_rest.narrow(0, begin * kContextBars, (end - begin) * kContextBars);
        }
        return s;
    }
    net::LoopSepNet& model_;
    int threads_each_;
    std::vector<net::LoopSepNet> copies_;
};

void save(net::LoopSepNet& model, ModelConfig cfg, long steps, const std::string& path) {
    cfg.training_steps = steps;
    write_safetensors(path, net::to_safetensors(model, cfg));
}

// The weights' exponential moving average (TrainParams::ema_decay).
class WeightAverage {
public:
    WeightAverage(net::LoopSepNet& model, double decay) : model_(model), decay_(decay) {
        torch::NoGradGuard g;
        for (const auto& t : model_->parameters()) average_.push_back(t.detach().clone());
    }
    void update(long step) {
        torch::NoGradGuard g;
        const double d = std::min(decay_, (1.0 + double(step)) / (10.0 + double(step)));
        const auto params = model_->parameters();
        for (std::size_t i = 0; i < params.size(); ++i) average_[i].mul_(d).add_(params[i].detach(), 1.0 - d);
    }
    // Puts the average into the model (swap_in) and the trained weights back (swap_out).
    void swap_in() { exchange(); }
    void swap_out() { exchange(); }
    // The average itself, in the order of model->parameters() (checkpoints).
    std::vector<torch::Tensor>& values() { return average_; }

private:
    void exchange() {
        torch::NoGradGuard g;
        const auto params = model_->parameters();
        for (std::size_t i = 0; i < params.size(); ++i) {
            auto held = params[i].detach().clone();
            params[i].detach().copy_(average_[i]);
            average_[i] = held;
        }
    }
    net::LoopSepNet& model_;
    double decay_;
    std::vector<torch::Tensor> average_;
};

}  // namespace

// A checkpoint's architecture is fixed: conversion options are refused unless they name what it has
// (the run's first command line repeated), and then dropped.
void keep_checkpoint_architecture(TrainParams& p, const ModelConfig& c, const std::string& what) {
    auto refuse = [&](bool differs, const std::string& option) {
        if (differs)
            throw usage_error(option + ": " + what + " is a training checkpoint; its architecture stays (convert a model file instead)");
    };
    refuse(p.shared_levels >= 0 && p.shared_levels != c.shared_levels, "--shared-levels");
    refuse(p.top_decoder && *p.top_decoder != c.top_decoder, "--top-decoder");
    refuse(p.block_kernels && *p.block_kernels != c.block_kernels, "--block-kernels");
    refuse(p.mid_blocks > 0 && p.mid_blocks != c.mid_blocks, "--mid-blocks");
    refuse(p.top_channels > 0 && p.top_channels != c.unet_channels[0], "--top-channels");
    refuse(p.query_profile && !c.query_profile, "--query-profile");
    refuse(p.fine_regions > 0 && p.fine_regions != c.fine_regions, "--fine-head");
    refuse(p.band_split_channels > 0 && p.band_split_channels != c.band_split_channels, "--band-split");
    refuse(p.bin_logits && !c.bin_logits, "--bin-logits");
    refuse(p.space_to_depth && !c.space_to_depth, "--space-to-depth");
    p.shared_levels = -1;
    p.top_decoder.reset();
    p.block_kernels.reset();
    p.mid_blocks = p.top_channels = p.fine_regions = p.band_split_channels = 0;
    p.query_profile = p.bin_logits = p.space_to_depth = false;
}

TrainResult train_model(const TrainParams& given, const SegmentCache& train, const SegmentCache* val, std::ostream& log) {
    given.validate();
    TrainParams p = given;
    // A checkpoint goes on with its own run: its schedule and example recipe replace the given ones.
    std::optional<checkpoint::Checkpoint> ck;
    if (!p.resume.empty()) {
        auto file = read_safetensors(p.resume);
        if (checkpoint::is_checkpoint(file)) {
            ck = checkpoint::parse(std::move(file), p.resume);
            keep_checkpoint_architecture(p, ck->config, p.resume);
            for (const auto& line : checkpoint::apply_schedule(ck->state.schedule, p))
                log << "  " << line << " (the checkpoint's run keeps its own)\n";
            p.validate();
        }
    }
    const torch::Device dev = p.cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    if (p.cuda && !torch::cuda::is_available()) throw usage_error("CUDA requested but not available");
    if (!p.cuda) at::set_num_threads(p.threads);

    ModelConfig cfg = p.config;
    long step0 = 0;
    net::LoopSepNet model{nullptr};
    if (ck) {
        model = checkpoint::load_model(*ck);
        cfg = ck->config;
        step0 = ck->state.step0;
        log << "resuming the run in " << p.resume << " at step " << step0 + ck->state.step << "/" << step0 + p.steps
            << ": its weights, optimiser state, weight average, schedule and random streams\n";
        if (ck->state.data != checkpoint::data_json(train))
            log << "  warning: the training data differ from the checkpoint's (" << ck->state.data.dump()
                << "): the run goes on, but its examples are not those of the uninterrupted run\n";
    } else if (!p.resume.empty()) {
        model = net::load_net(p.resume, &cfg);
        step0 = cfg.training_steps;
        log << "resuming from " << p.resume << " (" << step0 << " steps; optimiser state starts fresh)\n";
        if (p.lr > 3e-4 && p.warmup_steps == 0)  // measured: 3 steps at 1e-3 silenced v6's drums (TRAINING.md)
            log << "note: fine-tuning at --lr " << p.lr << " without --warmup-steps: a fresh Adam's first steps move every"
                << " weight by about the rate; 1e-4..3e-4 with a warm-up keeps what the model knows\n";
        if (p.space_to_depth && !cfg.space_to_depth)
            throw usage_error("--space-to-depth: " + p.resume + " has a full-resolution top level; a space-to-depth net is "
                              "trained from scratch (leave out --resume), it cannot be converted");
        if (p.shared_levels >= 0 && p.shared_levels < cfg.shared_levels)
            throw usage_error("--shared-levels " + std::to_string(p.shared_levels) + ": " + p.resume + " already shares " +
                              std::to_string(cfg.shared_levels) + " levels (they cannot be conditioned again)");
        if (p.top_decoder == TopDecoder::ResBlock && cfg.top_decoder == TopDecoder::Film)
            throw usage_error("--top-decoder resblock: " + p.resume + " has a film top decoder (its convolutions are gone)");
        if (p.top_decoder == TopDecoder::Film && cfg.top_decoder == TopDecoder::ResBlock) {
            model = net::film_top_decoder(model);
            cfg.top_decoder = TopDecoder::Film;
            log << "top decoder level converted to film (its two convolutions dropped)\n";
        }
        if (p.block_kernels == BlockKernels::Square && cfg.block_kernels == BlockKernels::TimeFreq)
            throw usage_error("--block-kernels square: " + p.resume + " has time/frequency kernels (no 3x3 ones to resume)");
        if (p.block_kernels == BlockKernels::TimeFreq && cfg.block_kernels == BlockKernels::Square) {
            model = net::timefreq_blocks(model);
            cfg.block_kernels = BlockKernels::TimeFreq;
            log << "residual blocks converted to time/frequency kernels (each 3x3 kernel projected)\n";
        }
        if (p.mid_blocks > 0 && p.mid_blocks < cfg.mid_blocks)
            throw usage_error("--mid-blocks " + std::to_string(p.mid_blocks) + ": " + p.resume + " has " +
                              std::to_string(cfg.mid_blocks) + " bottleneck blocks (they cannot be removed)");
        if (p.mid_blocks > cfg.mid_blocks) {
            model = net::deeper_bottleneck(model, p.mid_blocks, p.seed);
            log << "bottleneck deepened from " << cfg.mid_blocks << " to " << p.mid_blocks
                << " residual blocks (the new ones start as the identity)\n";
            cfg.mid_blocks = p.mid_blocks;
        }
        if (p.top_channels > 0 && p.top_channels < cfg.unet_channels[0])
            throw usage_error("--top-channels " + std::to_string(p.top_channels) + ": " + p.resume + " has " +
                              std::to_string(cfg.unet_channels[0]) + " top-level channels (they cannot be removed)");
        if (p.top_channels > cfg.unet_channels[0]) {
            model = net::wider_top_level(model, p.top_channels, p.seed);
            log << "top level widened from " << cfg.unet_channels[0] << " to " << p.top_channels
                << " channels (the new ones start disconnected from the old outputs)\n";
            cfg.unet_channels[0] = p.top_channels;
        }
        if (p.query_profile && !cfg.query_profile) {
            model = net::with_query_profile(model);
            cfg.query_profile = true;
            log << "query band profile added (its convolutions start at zero: the masks are unchanged)\n";
        }
        if (p.fine_regions > 0 && cfg.fine_regions > 0 && p.fine_regions != cfg.fine_regions)
            throw usage_error("--fine-head " + std::to_string(p.fine_regions) + ": " + p.resume + " already has a bin refinement over " +
                              std::to_string(cfg.fine_regions) + " regions");
        if (p.fine_regions > 0 && cfg.fine_regions == 0) {
            model = net::with_fine_head(model, p.fine_regions);
            cfg.fine_regions = p.fine_regions;
            log << "bin refinement over " << p.fine_regions << " regions added (its weights start at zero: the masks are unchanged)\n";
        }
        if (p.repetition_neighbours > 0 && cfg.repetition_neighbours > 0 && p.repetition_neighbours != cfg.repetition_neighbours)
            throw usage_error("--repetition " + std::to_string(p.repetition_neighbours) + ": " + p.resume +
                              " already has a repetition input over " + std::to_string(cfg.repetition_neighbours) + " bars");
        if (p.repetition_neighbours > 0 && cfg.repetition_neighbours == 0) {
            model = net::with_repetition_input(model, p.repetition_neighbours);
            cfg.repetition_neighbours = p.repetition_neighbours;
            log << "repetition input over the " << p.repetition_neighbours
                << " most alike bars added (its convolution starts at zero: the masks are unchanged)\n";
        }
        if (p.band_split_channels > 0 && cfg.band_split_channels > 0 && p.band_split_channels != cfg.band_split_channels)
            throw usage_error("--band-split " + std::to_string(p.band_split_channels) + ": " + p.resume +
                              " already has a band-split input of " + std::to_string(cfg.band_split_channels) + " values per band");
        if (p.band_split_channels > 0 && cfg.band_split_channels == 0) {
            model = net::with_band_split(model, p.band_split_channels, p.seed);
            cfg.band_split_channels = p.band_split_channels;
            log << "band-split input of " << p.band_split_channels
                << " values per band added (its convolution starts at zero: the masks are unchanged)\n";
        }
        if (p.bin_logits && !cfg.bin_logits) {
            model = net::with_bin_logits(model);
            cfg.bin_logits = true;
            log << "per-bin output logits added (their weights start at zero: the masks are unchanged)\n";
        }
    } else {
        if (p.shared_levels >= 0) cfg.shared_levels = p.shared_levels;
        if (p.top_decoder) cfg.top_decoder = *p.top_decoder;
        if (p.block_kernels) cfg.block_kernels = *p.block_kernels;
        if (p.mid_blocks > 0) cfg.mid_blocks = p.mid_blocks;
        if (p.top_channels > 0) cfg.unet_channels[0] = p.top_channels;
        if (p.query_profile) cfg.query_profile = true;
        if (p.fine_regions > 0) cfg.fine_regions = p.fine_regions;
        if (p.repetition_neighbours > 0) cfg.repetition_neighbours = p.repetition_neighbours;
        if (p.band_split_channels > 0) cfg.band_split_channels = p.band_split_channels;
        if (p.bin_logits) cfg.bin_logits = true;
        if (p.space_to_depth) {
            if (p.top_channels > 0)
                throw usage_error("--top-channels: with --space-to-depth the full-resolution top level is not built "
                                  "(the U-Net starts at --channels' second entry)");
            if (cfg.unet_channels.size() < 3)
                throw usage_error("--space-to-depth: --channels must list 3 or more levels (the first is dropped)");
            cfg.unet_channels.erase(cfg.unet_channels.begin());
            cfg.shared_levels = std::max(0, cfg.shared_levels - 1);
            if (p.shared_levels >= 0) p.shared_levels = cfg.shared_levels;  // already built so: no conversion below
            cfg.space_to_depth = true;
            log << "space-to-depth top level: the band features folded 2x2 into 4 channels, U-Net channels";
            for (int c : cfg.unet_channels) log << " " << c;
            log << ", " << cfg.shared_levels << " shared level(s)\n";
        }
        model = net::make_net(cfg, p.seed);
    }
    if (train.window_samples != cfg.num_window_samples())
        throw usage_error("training cache windows (" + std::to_string(train.window_samples) +
                          " samples) do not match the model (" + std::to_string(cfg.num_window_samples()) + ")");
    if (val && val->window_samples != cfg.num_window_samples())
        throw usage_error("validation cache windows do not match the model");
    cfg.instruments = train.instruments;
    cfg.training_data = train.description;
    const bool augmenting = p.augment_eq_db > 0 || p.augment_pitch_semitones > 0;
    if (augmenting) {
        std::ostringstream a;
        a << "; augmented: random EQ ±" << p.augment_eq_db << " dB, pitch ±" << p.augment_pitch_semitones << " semitones";
        cfg.training_data += a.str();
    }
    if (p.loss != TrainLoss::Magnitude) cfg.training_data += std::string("; ") + train_loss_name(p.loss) + " loss";
    if (p.self_query_fraction > 0) {
        std::ostringstream a;
        a << "; same-song queries in " << p.self_query_fraction * 100 << " % of examples";
        cfg.training_data += a.str();
    }
    if (p.generic_fraction > 0) {
        std::ostringstream a;
        a << "; generic sounds (noise bands, harmonic tones) as " << p.generic_fraction * 100
          << " % of targets and as distractors in " << p.generic_fraction * 100 << " % of the rest";
        cfg.training_data += a.str();
    }
    model->to(dev);
    model->train();

    Index ix(train, p.accompaniment_only);
    if (ix.usable.empty()) throw input_error("training data: no instrument is active in two or more songs");
    DeviceCache dc(train, dev);
    if (p.shared_levels > cfg.shared_levels) {
        // Convert the resumed net: its newly shared FiLMs are fixed at the mean training query.
        torch::NoGradGuard g;
        std::mt19937_64 qrng(p.seed * 31 + 5);
        TrainParams qp = p;
        qp.batch = 32;
        qp.pair_fraction = 0;
        torch::Tensor sum;
        for (int i = 0; i < 8; ++i) {
            auto e = model->embed(net::stft_magnitude(sample_batch(train, ix, dc, qp, qrng).query, cfg)).sum(0);
            sum = sum.defined() ? sum + e : e;
        }
        model = net::share_levels(model, p.shared_levels, sum / 256.0);
        cfg = model->config;
        model->train();
        log << "shared the first " << cfg.shared_levels << " encoder levels (FiLM fixed at the mean of 256 queries)\n";
    }
    std::unique_ptr<DeviceCache> vdc;
    std::vector<ValExample> vset;
    if (val) {
        vdc = std::make_unique<DeviceCache>(*val, dev);
        vset = make_val_set(*val, p.val_examples, 12345);
        log << "validation: " << vset.size() << " examples from " << val->songs.size() << " songs\n";
        if (p.self_query_fraction > 0) add_val_self_queries(*val, vset, 12345);
    }
    int64_t n_params = 0;
    for (const auto& t : model->parameters()) n_params += t.numel();
    log << "training " << n_params << " parameters on " << (p.cuda ? "CUDA" : "CPU") << ", " << train.segments.size()
        << " segments, " << ix.usable.size() << " instruments, batch " << p.batch << ", " << p.steps << " steps, "
        << train_loss_name(p.loss) << " loss\n";

    // Two parameter groups when the bin refinement learns at its own rate: the rest, then fine_coef
    // (present only in a net with the refinement).
    std::vector<double> group_lr_scale{1.0};
    std::vector<torch::optim::OptimizerParamGroup> groups;
    {
        std::vector<torch::Tensor> rest, fine;
        for (const auto& kv : model->named_parameters())
            (p.fine_lr_scale != 1.0 && kv.key().rfind("fine_coef.", 0) == 0 ? fine : rest)
                .push_back(kv.value());
        groups.emplace_back(rest, std::make_unique<torch::optim::AdamOptions>(p.lr));
        if (!fine.empty()) {
            groups.emplace_back(fine, std::make_unique<torch::optim::AdamOptions>(p.lr * p.fine_lr_scale));
            group_lr_scale.push_back(p.fine_lr_scale);
            log << "the bin refinement learns at " << std::defaultfloat << p.fine_lr_scale << " x the learning rate\n";
        }
    }
    torch::optim::Adam opt(groups, torch::optim::AdamOptions(p.lr));
    if (ck) checkpoint::restore_adam(*ck, model, opt);
    std::unique_ptr<WeightAverage> average;
    if (p.ema_decay > 0) {
        average = std::make_unique<WeightAverage>(model, p.ema_decay);
        if (ck) checkpoint::restore_average(*ck, model, average->values());
        log << "validating and saving the weights' moving average (EMA decay " << p.ema_decay << ")\n";
    }
    std::mt19937_64 rng(p.seed * 7919 + 17);
    std::mt19937_64 arng(p.seed * 104729 + 3);
    std::mt19937_64 grng(p.seed * 15485863 + 11);
    std::mt19937_64 crng(p.seed * 2654435761u + 29);  // the repetition context's bars
    std::mt19937_64 srng(p.seed * 1000003 + 41);        // same-song queries
    if (p.self_query_fraction > 0)
        log << "same-song queries: " << p.self_query_fraction * 100 << " % of examples are queried by their target in"
            << " another bar of their song, the rest of that bar " << -kSelfQueryLeakMaxDb << " to " << -kSelfQueryLeakMinDb
            << " dB under it\n";
    if (cfg.repetition_neighbours > 0)
        log << "repetition input: each example's template is the median of the " << cfg.repetition_neighbours
            << " most alike of " << kContextBars << " other bars of its songs\n";
    if (ck) {
        rng = ck->state.rng;
        arng = ck->state.arng;
        grng = ck->state.grng;
        crng = ck->state.crng;
        srng = ck->state.srng;
    }
    if (p.generic_fraction > 0)
        log << "generic sounds: " << p.generic_fraction * 100 << " % of examples have one as target (queried by another"
            << " rendering of it), " << p.generic_fraction * 100 << " % of the others one as distractor\n";
    if (augmenting)
        log << "augmentation: random EQ within ±" << p.augment_eq_db << " dB (target, rest, query), pitch within ±"
            << p.augment_pitch_semitones << " semitones (example, query)\n";
    std::unique_ptr<Replicas> replicas;
    if (p.replicas > 1) {
        replicas = std::make_unique<Replicas>(model, p.replicas, std::max(1, p.threads / p.replicas));
        log << p.replicas << " replicas of the net, " << std::max(1, p.threads / p.replicas)
            << " thread(s) each, share every batch\n";
    }
    g_signal = 0;
    auto old_int = std::signal(SIGINT, on_stop_signal);
    auto old_term = std::signal(SIGTERM, on_stop_signal);

    TrainResult res;
    double best = -1e9, window_loss = 0;
    int window_n = 0;
    bool saved = false;
    if (ck && ck->state.saved && ck->state.out == p.out) {   // --out holds the run's best so far
        best = ck->state.best_sdr_db;
        saved = true;
    }
    const auto t_start = std::chrono::steady_clock::now();
    auto t_log = t_start, t_state = t_start;
    long s = 0;
    // Minutes spent on the schedule, earlier sessions included (its position under --minutes).
    const double elapsed_before = ck ? ck->state.elapsed_min : 0.0;
    auto elapsed_min = [&] {
        return elapsed_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count() / 60.0;
    };
    auto write_state = [&](long steps_done) {
        checkpoint::RunState st;
        st.step0 = step0;
        st.step = steps_done;
        st.elapsed_min = elapsed_min();
        st.saved = saved;
        st.best_sdr_db = best;
        st.out = p.out;
        st.out_last = p.out_last;
        st.rng = rng;
        st.arng = arng;
        st.grng = grng;
        st.crng = crng;
        st.srng = srng;
        st.schedule = checkpoint::schedule_json(p);
        st.data = checkpoint::data_json(train);
        checkpoint::write(p.checkpoint, st, cfg, model, opt, average ? &average->values() : nullptr);
        log << "checkpoint at step " << step0 + steps_done << " written to " << p.checkpoint << "\n";
        t_state = std::chrono::steady_clock::now();
    };
    auto checkpoint = [&](long steps_now) {
        if (average && val) {
            // The trained weights' own score, beside the average's: what the averaging adds.
            const auto raw = evaluate(model, *val, *vdc, vset);
            log << "validation of the trained weights at step " << step0 + steps_now << ": mean SDR " << std::fixed
                << std::setprecision(2) << raw.mean_sdr_model_db << " dB (the average's below)\n";
        }
        if (average) average->swap_in();
        if (val) {
            auto r = evaluate(model, *val, *vdc, vset);
            log << "validation at step " << step0 + steps_now << ":\n";
            print_report(r, log);
            if (r.mean_sdr_model_db > best || !saved) {
                best = r.mean_sdr_model_db;
                res.best = r;
                save(model, cfg, step0 + steps_now, p.out);
                saved = true;
                log << "  saved best model to " << p.out << "\n";
            }
        } else {
            save(model, cfg, step0 + steps_now, p.out);
            saved = true;
        }
        if (average) average->swap_out();
        log.flush();
    };
    for (s = ck ? ck->state.step + 1 : 1; s <= p.steps; ++s) {
        // Cosine decay to 5 % of the learning rate, over the steps or the time limit, whichever ends first.
        double progress = double(s - 1) / double(p.steps);
        if (p.max_minutes > 0) progress = std::min(1.0, std::max(progress, elapsed_min() / p.max_minutes));
        const double warm = p.warmup_steps > 0 ? std::min(1.0, double(s) / double(p.warmup_steps)) : 1.0;
        const double lr = warm * p.lr * (0.05 + 0.95 * 0.5 * (1.0 + std::cos(M_PI * progress)));
        for (std::size_t g = 0; g < opt.param_groups().size(); ++g)
            static_cast<torch::optim::AdamOptions&>(opt.param_groups()[g].options()).lr(lr * group_lr_scale[g]);
        auto batch = sample_batch(train, ix, dc, p, rng, augmenting ? &arng : nullptr,
                                  p.generic_fraction > 0 ? &grng : nullptr, &cfg,
                                  cfg.repetition_neighbours > 0 ? &crng : nullptr,
                                  p.self_query_fraction > 0 ? &srng : nullptr);
        double lv = 0;
        if (replicas) {
            opt.zero_grad();
            for (auto& t : model->parameters())   // a defined gradient for the copies' to add into
                if (!t.grad().defined()) t.mutable_grad() = torch::zeros_like(t);
            lv = replicas->forward_backward(batch, p.loss, p.augment_eq_db);
        } else {
            auto loss = loss_fn(model, batch, p.loss, p.augment_eq_db);
            opt.zero_grad();
            loss.backward();
            lv = loss.item<double>();
        }
        torch::nn::utils::clip_grad_norm_(model->parameters(), 5.0);
        opt.step();
        if (average) average->update(s);
        if (!std::isfinite(lv)) throw input_error("training diverged (loss is not finite); try a lower --lr");
        window_loss += lv;
        ++window_n;
        if (p.on_step) p.on_step(s, p.steps);
        if (s % p.log_every == 0 || s == p.steps) {
            const double mean_loss = window_loss / window_n;
            if (res.first_loss == 0) res.first_loss = mean_loss;
            res.last_loss = mean_loss;
            const auto now = std::chrono::steady_clock::now();
            const double sps = window_n / std::chrono::duration<double>(now - t_log).count();
            res.steps_per_sec = sps;
            log << "step " << step0 + s << "/" << step0 + p.steps << "  loss " << std::setprecision(4) << mean_loss
                << "  " << std::fixed << std::setprecision(3) << sps << " steps/s  lr " << std::setprecision(5) << lr
                << "  ETA " << std::setprecision(1) << (p.steps - s) / std::max(sps, 1e-9) / 60.0 << " min\n";
            log.flush();
            t_log = now;
            window_loss = 0;
            window_n = 0;
        }
        if (s % p.val_every == 0 && s != p.steps) checkpoint(s);
        if (!p.checkpoint.empty() && s != p.steps &&
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t_state).count() >= 60.0 * p.checkpoint_every_min)
            write_state(s);
        if (g_signal) {
            res.signal = g_signal;
            log << "interrupted (" << (res.signal == SIGTERM ? "SIGTERM" : "SIGINT") << "): saving\n";
            res.interrupted = true;
            break;
        }
        if (p.max_minutes > 0 && elapsed_min() > p.max_minutes) { log << "time limit reached\n"; break; }
    }
    res.steps_done = std::min(s, p.steps);
    checkpoint(res.steps_done);
    if (!p.checkpoint.empty()) write_state(res.steps_done);
    if (!p.out_last.empty()) {
        if (average) average->swap_in();
        save(model, cfg, step0 + res.steps_done, p.out_last);
        if (average) average->swap_out();
        log << "final weights in " << p.out_last << "\n";
    }
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    return res;
}

}  // namespace loopsep
