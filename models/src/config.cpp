// ModelConfig: validation and the JSON stored in a model file's metadata.
#include <cmath>
#include <nlohmann/json.hpp>

#include "loopsep/error.h"
#include "loopsep/model.h"

namespace loopsep {

namespace {
void check(bool ok, const std::string& field, const std::string& rule) {
    if (!ok) throw usage_error("model config: " + field + " " + rule);
}
}  // namespace

TopDecoder parse_top_decoder(const std::string& name) {
    if (name == "resblock") return TopDecoder::ResBlock;
    if (name == "film") return TopDecoder::Film;
    throw usage_error("top decoder must be resblock or film (got '" + name + "')");
}

std::string to_string(TopDecoder d) { return d == TopDecoder::Film ? "film" : "resblock"; }

BlockKernels parse_block_kernels(const std::string& name) {
    if (name == "square") return BlockKernels::Square;
    if (name == "timefreq") return BlockKernels::TimeFreq;
    throw usage_error("block kernels must be square or timefreq (got '" + name + "')");
}

std::string to_string(BlockKernels k) { return k == BlockKernels::TimeFreq ? "timefreq" : "square"; }

void ModelConfig::validate() const {
    check(sample_rate_hz == 44100, "sample_rate_hz", "must be 44100");
    check(n_fft >= 256 && n_fft <= 8192 && (n_fft & (n_fft - 1)) == 0, "n_fft", "must be a power of two in 256..8192");
    check(hop >= 64 && hop <= n_fft, "hop", "must be in 64..n_fft");
    check(reference_bpm >= 40 && reference_bpm <= 240, "reference_bpm", "must be in 40..240");
    check(segment_frames >= 8 && segment_frames <= 2048, "segment_frames", "must be in 8..2048");
    check(context_frames >= 0 && context_frames <= 512, "context_frames", "must be in 0..512");
    check(unet_channels.size() >= 2 && unet_channels.size() <= 6, "unet_channels", "must list 2..6 levels");
    const int levels = static_cast<int>(unet_channels.size()) - 1;
    // Every down-sampling halves time and bands; the space-to-depth fold halves them once more.
    const int coarsest = (1 << levels) * top_level_scale();
    const std::string divisor = space_to_depth ? "2^(levels + 1) = " + std::to_string(coarsest) + " (space_to_depth)"
                                               : "2^levels = " + std::to_string(coarsest);
    check(window_frames() % coarsest == 0, "window_frames", "(segment + 2·context) must be divisible by " + divisor);
    check(num_bands >= 8 && num_bands <= num_bins() && num_bands % coarsest == 0, "num_bands",
          "must be in 8..num_bins and divisible by " + divisor);
    for (int c : unet_channels) check(c >= 1 && c <= 1024, "unet_channels", "entries must be in 1..1024");
    check(!query_channels.empty() && query_channels.size() <= 6, "query_channels", "must list 1..6 layers");
    for (int c : query_channels) check(c >= 1 && c <= 1024, "query_channels", "entries must be in 1..1024");
    check(num_bands % (1 << query_channels.size()) == 0, "num_bands", "must be divisible by 2^(query layers)");
    check(shared_levels >= 0 && shared_levels <= levels, "shared_levels",
          "must be in 0..levels = " + std::to_string(levels));
    check(mid_blocks >= 1 && mid_blocks <= 8, "mid_blocks", "must be in 1..8");
    check(fine_regions >= 0 && fine_regions <= num_bands && (fine_regions == 0 || num_bands % fine_regions == 0),
          "fine_regions", "must be 0 (no bin refinement) or divide num_bands");
    check(repetition_neighbours >= 0 && repetition_neighbours <= 16, "repetition_neighbours",
          "must be in 0..16 (0: no repetition input)");
    check(band_split_channels >= 0 && band_split_channels <= 64, "band_split_channels",
          "must be in 0..64 (0: no band-split input)");
    check(embedding_size >= 1 && embedding_size <= 4096, "embedding_size", "must be in 1..4096");
    check(training_steps >= 0, "training_steps", "must be ≥ 0");
}

std::string ModelConfig::to_json() const {
    nlohmann::json j = {
        {"sample_rate_hz", sample_rate_hz}, {"n_fft", n_fft}, {"hop", hop}, {"reference_bpm", reference_bpm},
        {"segment_frames", segment_frames}, {"context_frames", context_frames}, {"num_bands", num_bands},
        {"unet_channels", unet_channels}, {"query_channels", query_channels}, {"embedding_size", embedding_size},
        {"shared_levels", shared_levels}, {"top_decoder", to_string(top_decoder)},
        {"block_kernels", to_string(block_kernels)}, {"mid_blocks", mid_blocks},
        {"query_profile", query_profile}, {"fine_regions", fine_regions},
        {"repetition_neighbours", repetition_neighbours}, {"band_split_channels", band_split_channels},
        {"bin_logits", bin_logits}, {"space_to_depth", space_to_depth},
        {"instruments", instruments}, {"training_data", training_data}, {"training_steps", training_steps},
        {"window", "hann-periodic"}, {"stft_center", true}, {"stereo", "mid; one mask for both channels"},
        {"band_scale", "mel (HTK), triangular, 0..sample_rate/2"}};
    return j.dump();
}

ModelConfig ModelConfig::from_json(const std::string& text, const std::string& what) {
    ModelConfig c;
    try {
        const auto j = nlohmann::json::parse(text);
        c.sample_rate_hz = j.at("sample_rate_hz").get<int>();
        c.n_fft = j.at("n_fft").get<int>();
        c.hop = j.at("hop").get<int>();
        c.reference_bpm = j.at("reference_bpm").get<double>();
        c.segment_frames = j.at("segment_frames").get<int>();
        c.context_frames = j.at("context_frames").get<int>();
        c.num_bands = j.at("num_bands").get<int>();
        c.unet_channels = j.at("unet_channels").get<std::vector<int>>();
        c.query_channels = j.at("query_channels").get<std::vector<int>>();
        c.embedding_size = j.at("embedding_size").get<int>();
        if (j.contains("shared_levels")) c.shared_levels = j["shared_levels"].get<int>();  // absent before v2
        if (j.contains("top_decoder"))  // absent before the film top decoder
            c.top_decoder = parse_top_decoder(j["top_decoder"].get<std::string>());
        if (j.contains("block_kernels"))  // absent before the time/frequency kernels
            c.block_kernels = parse_block_kernels(j["block_kernels"].get<std::string>());
        if (j.contains("mid_blocks")) c.mid_blocks = j["mid_blocks"].get<int>();  // absent in v1–v4 files: one block
        if (j.contains("query_profile")) c.query_profile = j["query_profile"].get<bool>();  // absent in v1–v5 files: off
        if (j.contains("fine_regions")) c.fine_regions = j["fine_regions"].get<int>();  // absent in v1–v5 files: off
        if (j.contains("repetition_neighbours"))  // absent in v1–v6 files: no repetition input
            c.repetition_neighbours = j["repetition_neighbours"].get<int>();
        if (j.contains("band_split_channels"))  // absent in v1–v6 files: no band-split input
            c.band_split_channels = j["band_split_channels"].get<int>();
        if (j.contains("bin_logits")) c.bin_logits = j["bin_logits"].get<bool>();  // absent in v1–v6 files: off
        if (j.contains("space_to_depth")) c.space_to_depth = j["space_to_depth"].get<bool>();  // absent in v1–v6 files: off
        if (j.contains("instruments")) c.instruments = j["instruments"].get<std::vector<std::string>>();
        if (j.contains("training_data")) c.training_data = j["training_data"].get<std::string>();
        if (j.contains("training_steps")) c.training_steps = j["training_steps"].get<long>();
    } catch (const std::exception& e) {
        throw input_error(what + ": model configuration is invalid (" + e.what() + ")");
    }
    try {
        c.validate();
    } catch (const Error& e) {
        throw input_error(what + ": " + e.what());
    }
    return c;
}

}  // namespace loopsep
