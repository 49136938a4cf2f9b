// Tests of the model file (safetensors) and the Separator API.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loopsep/error.h"
#include "loopsep/model.h"
#include "loopsep/safetensors.h"
#include "loopsep/stft.h"
#include "test_util.h"

using namespace loopsep;
namespace lt = loopsep::testing;

namespace {

ModelConfig tiny_config() {
    ModelConfig c;
    c.num_bands = 32;
    c.unet_channels = {8, 8, 16};
    c.query_channels = {8, 8};
    c.embedding_size = 16;
    return c;
}

std::vector<std::uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& path, const std::vector<std::uint8_t>& b) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// Expects an input error whose message names `path`.
void expect_refused(const std::string& path, const std::string& fragment = "") {
    try {
        Separator::load(path);
        FAIL() << "accepted " << path;
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input);
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        if (!fragment.empty()) EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
}

// Rewrites a model file with a modified header JSON (data untouched).
void rewrite_header(const std::string& in, const std::string& out, void (*edit)(nlohmann::json&)) {
    auto b = read_bytes(in);
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | b[i];
    auto j = nlohmann::json::parse(b.begin() + 8, b.begin() + 8 + long(n));
    edit(j);
    std::string text = j.dump();
    std::vector<std::uint8_t> o;
    for (int i = 0; i < 8; ++i) o.push_back(std::uint8_t((text.size() >> (8 * i)) & 0xff));
    o.insert(o.end(), text.begin(), text.end());
    o.insert(o.end(), b.begin() + 8 + long(n), b.end());
    write_bytes(out, o);
}

std::vector<std::vector<float>> random_windows(const ModelConfig& c, int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::exponential_distribution<float> d(1.0f);
    std::vector<std::vector<float>> w(n, std::vector<float>(std::size_t(c.window_frames()) * c.num_bins()));
    for (auto& v : w)
        for (auto& x : v) x = d(rng);
    return w;
}

}  // namespace

TEST(Safetensors, RoundTripKeepsTensorsAndMetadata) {
    SafetensorsFile f;
    f.metadata["format"] = "x";
    f.metadata["note"] = "ünïcode";
    f.tensors["a"] = {{2, 3}, {1, 2, 3, 4, 5, 6}};
    f.tensors["b.weight"] = {{4}, {-1.5f, 0.0f, 1e-30f, 3.25f}};
    f.tensors["scalar"] = {{}, {7.0f}};
    const auto bytes = serialize_safetensors(f);
    const auto g = parse_safetensors(bytes.data(), bytes.size(), "mem");
    EXPECT_EQ(g.metadata, f.metadata);
    ASSERT_EQ(g.tensors.size(), 3u);
    for (const auto& [name, t] : f.tensors) {
        EXPECT_EQ(g.tensors.at(name).shape, t.shape) << name;
        EXPECT_EQ(g.tensors.at(name).values, t.values) << name;
    }
    // The header length is a multiple of 8 minus 8 (aligned data) and little-endian.
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
    EXPECT_EQ((n + 8) % 8, 0u);
    EXPECT_EQ(bytes.size(), 8 + n + 4 * (6 + 4 + 1));
}

TEST(Safetensors, RejectsMalformedBuffers) {
    SafetensorsFile f;
    f.tensors["a"] = {{2}, {1, 2}};
    const auto good = serialize_safetensors(f);
    auto expect_bad = [](std::vector<std::uint8_t> b, const char* why) {
        EXPECT_THROW(parse_safetensors(b.data(), b.size(), "mem"), Error) << why;
    };
    expect_bad({}, "empty");
    expect_bad({1, 2, 3}, "short");
    auto b = good;
    b.resize(b.size() - 1);
    expect_bad(b, "truncated data");
    b = good;
    b.push_back(0);
    expect_bad(b, "trailing byte");
    b = good;
    b[7] = 0x7f;
    expect_bad(b, "huge header length");
    b = good;
    b[8] = '[';
    expect_bad(b, "not JSON");
    auto nan = f;
    nan.tensors["a"].values[1] = std::nanf("");
    auto nb = serialize_safetensors(nan);
    expect_bad(nb, "NaN");
    // Overlapping / non-contiguous offsets and a foreign dtype.
    auto edit = [&](const char* json) {
        std::string text = json;
        std::vector<std::uint8_t> o;
        for (int i = 0; i < 8; ++i) o.push_back(std::uint8_t((text.size() >> (8 * i)) & 0xff));
        o.insert(o.end(), text.begin(), text.end());
        for (int i = 0; i < 16; ++i) o.push_back(0);
        return o;
    };
    expect_bad(edit(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})"), "overlap");
    expect_bad(edit(R"({"a":{"dtype":"F16","shape":[8],"data_offsets":[0,16]}})"), "dtype");
    expect_bad(edit(R"({"a":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}})"), "shape/size");
    expect_bad(edit(R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})"), "negative dim");
    expect_bad(edit(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})"), "past the end");
    expect_bad(edit(R"({"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})"), "meta type");
    const auto ok = edit(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})");
    EXPECT_NO_THROW(parse_safetensors(ok.data(), ok.size(), "m"));
}

TEST(ModelFile, UntrainedModelLoadsWithItsConfig) {
    lt::TempDir dir;
    const auto path = dir.file("m.safetensors");
    const auto cfg = tiny_config();
    write_untrained_model(path, cfg, 7);
    auto sep = Separator::load(path);
    EXPECT_EQ(sep->config().num_bands, 32);
    EXPECT_EQ(sep->config().unet_channels, cfg.unet_channels);
    EXPECT_EQ(sep->config().window_frames(), 192);
    EXPECT_EQ(sep->embedding_size(), 16);
    EXPECT_FALSE(sep->config().query_profile);
    EXPECT_GT(sep->num_parameters(), 1000);
    // Same seed → identical bytes (deterministic initialisation).
    write_untrained_model(dir.file("m2.safetensors"), cfg, 7);
    EXPECT_EQ(read_bytes(path), read_bytes(dir.file("m2.safetensors")));
}

TEST(ModelFile, QueryProfileIsStoredAndOffWhenAbsent) {
    lt::TempDir dir;
    auto cfg = tiny_config();
    cfg.query_profile = true;
    write_untrained_model(dir.file("m.safetensors"), cfg, 7);
    auto sep = Separator::load(dir.file("m.safetensors"));
    EXPECT_TRUE(sep->config().query_profile);
    EXPECT_EQ(sep->embedding_size(), 16 + 2 * 32);  // the embedding, then mean and max over the 32 bands
    const auto q = sep->embed_query(lt::sine(440, 2.2));
    EXPECT_EQ(q.size(), std::size_t(sep->embedding_size()));
    const auto m = sep->predict_masks(random_windows(sep->config(), 1, 3), q)[0];
    EXPECT_EQ(m.size(), std::size_t(192) * std::size_t(cfg.num_bins()));
    EXPECT_GE(*std::min_element(m.begin(), m.end()), 0.0f);
    EXPECT_LE(*std::max_element(m.begin(), m.end()), 1.0f);
    EXPECT_THROW(sep->predict_masks(random_windows(sep->config(), 1, 3), std::vector<float>(16)), Error);
    // Files written before the profile existed have no such key: off.
    auto j = nlohmann::json::parse(cfg.to_json());
    ASSERT_TRUE(j.at("query_profile").get<bool>());
    j.erase("query_profile");
    EXPECT_FALSE(ModelConfig::from_json(j.dump(), "old").query_profile);
    // Nor a bin refinement (fine_regions, a count that must divide the bands): 0.
    EXPECT_EQ(j.at("fine_regions").get<int>(), 0);
    j["fine_regions"] = 4;
    EXPECT_EQ(ModelConfig::from_json(j.dump(), "new").fine_regions, 4);
    j["fine_regions"] = 5;  // 32 bands
    EXPECT_THROW(ModelConfig::from_json(j.dump(), "bad"), Error);
    j.erase("fine_regions");
    EXPECT_EQ(ModelConfig::from_json(j.dump(), "old").fine_regions, 0);
}

TEST(ModelFile, CorruptTruncatedAndMismatchedFilesAreRefused) {
    lt::TempDir dir;
    const auto good = dir.file("good.safetensors");
    write_untrained_model(good, tiny_config(), 1);
    const auto bytes = read_bytes(good);

    expect_refused(dir.file("missing.safetensors"));
    write_bytes(dir.file("empty.safetensors"), {});
    expect_refused(dir.file("empty.safetensors"));
    write_bytes(dir.file("text.safetensors"), std::vector<std::uint8_t>{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
    expect_refused(dir.file("text.safetensors"));
    auto cut = bytes;
    cut.resize(bytes.size() / 2);
    write_bytes(dir.file("truncated.safetensors"), cut);
    expect_refused(dir.file("truncated.safetensors"), "truncated");
    auto flipped = bytes;
    flipped[20] ^= 0x55;  // inside the JSON header
    write_bytes(dir.file("flipped.safetensors"), flipped);
    expect_refused(dir.file("flipped.safetensors"));

    // A config that does not match the tensors (embedding size changed).
    rewrite_header(good, dir.file("mismatch.safetensors"), [](nlohmann::json& j) {
        auto cfg = nlohmann::json::parse(j["__metadata__"]["config"].get<std::string>());
        cfg["embedding_size"] = 32;
        j["__metadata__"]["config"] = cfg.dump();
    });
    expect_refused(dir.file("mismatch.safetensors"), "shape");
    rewrite_header(good, dir.file("badcfg.safetensors"), [](nlohmann::json& j) {
        auto cfg = nlohmann::json::parse(j["__metadata__"]["config"].get<std::string>());
        cfg["n_fft"] = 1000;
        j["__metadata__"]["config"] = cfg.dump();
    });
    expect_refused(dir.file("badcfg.safetensors"), "n_fft");
    rewrite_header(good, dir.file("badtop.safetensors"), [](nlohmann::json& j) {
        auto cfg = nlohmann::json::parse(j["__metadata__"]["config"].get<std::string>());
        cfg["top_decoder"] = "conv";
        j["__metadata__"]["config"] = cfg.dump();
    });
    expect_refused(dir.file("badtop.safetensors"), "top decoder");
    rewrite_header(good, dir.file("badkernels.safetensors"), [](nlohmann::json& j) {
        auto cfg = nlohmann::json::parse(j["__metadata__"]["config"].get<std::string>());
        cfg["block_kernels"] = "diagonal";
        j["__metadata__"]["config"] = cfg.dump();
    });
    expect_refused(dir.file("badkernels.safetensors"), "block kernels");
    rewrite_header(good, dir.file("filmtop.safetensors"), [](nlohmann::json& j) {  // the tensors are a resblock top's
        auto cfg = nlohmann::json::parse(j["__metadata__"]["config"].get<std::string>());
        cfg["top_decoder"] = "film";
        j["__metadata__"]["config"] = cfg.dump();
    });
    expect_refused(dir.file("filmtop.safetensors"));
    rewrite_header(good, dir.file("nometa.safetensors"), [](nlohmann::json& j) { j.erase("__metadata__"); });
    expect_refused(dir.file("nometa.safetensors"), "format");
    rewrite_header(good, dir.file("version.safetensors"),
                   [](nlohmann::json& j) { j["__metadata__"]["format_version"] = "99"; });
    expect_refused(dir.file("version.safetensors"), "version");
    // A model file missing one tensor (the data shrinks accordingly: remove the last tensor).
    SafetensorsFile f = read_safetensors(good);
    f.tensors.erase(f.tensors.begin());
    write_safetensors(dir.file("lacks.safetensors"), f);
    expect_refused(dir.file("lacks.safetensors"), "lacks");
    f = read_safetensors(good);
    f.tensors["extra"] = {{1}, {0.0f}};
    write_safetensors(dir.file("extra.safetensors"), f);
    expect_refused(dir.file("extra.safetensors"));
}

TEST(Separator, MasksHaveTheRightShapeAndRange) {
    lt::TempDir dir;
    write_untrained_model(dir.file("m.safetensors"), tiny_config(), 3);
    auto sep = Separator::load(dir.file("m.safetensors"));
    const auto& c = sep->config();
    auto loop = lt::sine(440, 2.2, 2);
    auto emb = sep->embed_query(loop);
    ASSERT_EQ(emb.size(), 16u);
    for (float v : emb) EXPECT_TRUE(std::isfinite(v));
    auto windows = random_windows(c, 3, 1);
    windows[1].assign(windows[1].size(), 0.0f);  // silence is a valid input
    auto masks = sep->predict_masks(windows, emb);
    ASSERT_EQ(masks.size(), 3u);
    for (const auto& m : masks) {
        ASSERT_EQ(m.size(), std::size_t(c.window_frames()) * c.num_bins());
        for (float v : m) {
            ASSERT_GE(v, 0.0f);
            ASSERT_LE(v, 1.0f);
        }
    }
    EXPECT_TRUE(sep->predict_masks({}, emb).empty());
    // Batched = one by one.
    auto single = sep->predict_masks({windows[2]}, emb);
    for (std::size_t k = 0; k < single[0].size(); k += 997) EXPECT_NEAR(single[0][k], masks[2][k], 1e-5);
}

TEST(Separator, TheQueryChangesTheOutput) {
    lt::TempDir dir;
    write_untrained_model(dir.file("m.safetensors"), tiny_config(), 5);
    auto sep = Separator::load(dir.file("m.safetensors"));
    auto e1 = sep->embed_query(lt::sine(100, 2.2));
    auto e2 = sep->embed_query(lt::sine(5000, 2.2));
    auto w = random_windows(sep->config(), 1, 2);
    auto m1 = sep->predict_masks(w, e1)[0], m2 = sep->predict_masks(w, e2)[0];
    double diff = 0;
    for (std::size_t k = 0; k < m1.size(); ++k) diff += std::abs(m1[k] - m2[k]);
    EXPECT_GT(diff / double(m1.size()), 1e-4);
}

TEST(Separator, BadInputsAreErrors) {
    lt::TempDir dir;
    write_untrained_model(dir.file("m.safetensors"), tiny_config(), 5);
    auto sep = Separator::load(dir.file("m.safetensors"));
    EXPECT_THROW(sep->embed_query(lt::sine(440, 1.0)), Error);  // shorter than one bar
    EXPECT_THROW(sep->embed_query(Audio()), Error);
    auto e = sep->embed_query(lt::sine(440, 2.1));
    EXPECT_THROW(sep->predict_masks({std::vector<float>(10)}, e), Error);
    auto w = random_windows(sep->config(), 1, 1);
    EXPECT_THROW(sep->predict_masks(w, std::vector<float>(3)), Error);
    EXPECT_THROW(write_untrained_model(dir.file("x"), [] { auto c = tiny_config(); c.segment_frames = 173; return c; }(), 1),
                 Error);  // window not divisible by 2^levels
}

TEST(Separator, PrototypeIsTheMean) {
    auto p = Separator::prototype({{1, 2, 3}, {3, 4, 5}, {2, 0, 1}});
    ASSERT_EQ(p.size(), 3u);
    EXPECT_FLOAT_EQ(p[0], 2.0f);
    EXPECT_FLOAT_EQ(p[1], 2.0f);
    EXPECT_FLOAT_EQ(p[2], 3.0f);
    EXPECT_THROW(Separator::prototype({}), Error);
    EXPECT_THROW(Separator::prototype({{1, 2}, {1}}), Error);
}

TEST(Separator, DefaultModelPathFollowsTheEnvironment) {
    ::setenv("LOOPSEP_MODEL", "/tmp/some-model.safetensors", 1);
    EXPECT_EQ(default_model_path(), "/tmp/some-model.safetensors");
    ::unsetenv("LOOPSEP_MODEL");
    EXPECT_NE(default_model_path().find(kShippedModelFile), std::string::npos);
}

// The model shipped in models/ (the default for `separate`) loads with this LibTorch,
// carries its provenance, and its masks depend on the query.
TEST(ShippedModel, LoadsAndRespondsToTheQuery) {
    const std::string path = std::string(LOOPSEP_SOURCE_DIR) + "/" + kShippedModelFile;
    auto sep = Separator::load(path);
    const auto& c = sep->config();
    EXPECT_EQ(c.sample_rate_hz, 44100);
    EXPECT_EQ(c.n_fft, 2048);
    EXPECT_EQ(c.hop, 512);
    EXPECT_DOUBLE_EQ(c.reference_bpm, 120.0);
    EXPECT_GT(c.training_steps, 1000);
    EXPECT_FALSE(c.training_data.empty());
    for (const char* inst : {"bongo", "guira", "bass", "guitar", "drums", "vocals"})
        EXPECT_NE(std::find(c.instruments.begin(), c.instruments.end(), inst), c.instruments.end()) << inst;
    // A low tone and a high noise loop as queries on a mixture of both: the low query keeps
    // more low-band energy than the high query does.
    const std::size_t n = c.num_window_samples();
    Audio low(1, n), high(1, n), mix(1, n);
    std::mt19937 rng(3);
    std::normal_distribution<float> g(0.0f, 0.1f);
    for (std::size_t i = 0; i < n; ++i) {
        low.channels[0][i] = 0.4f * float(std::sin(2 * M_PI * 82.4 * double(i) / 44100.0));
        high.channels[0][i] = ((i / 2756) % 2 == 0) ? g(rng) : 0.0f;  // sixteenth-note noise bursts
        mix.channels[0][i] = low.channels[0][i] + high.channels[0][i];
    }
    // |STFT| of the mixture, time-major, by a direct DFT-free route: use the model's own front end
    // through predict_masks only — magnitudes come from loopsep::Stft.
    Stft stft({c.n_fft, c.hop});
    const auto spec = stft.forward(mix.channel(0), n);
    ASSERT_EQ(spec.num_frames, std::size_t(c.window_frames()));
    std::vector<float> mag(spec.data.size());
    for (std::size_t k = 0; k < mag.size(); ++k) mag[k] = std::abs(spec.data[k]);
    const auto m_low = sep->predict_masks({mag}, sep->embed_query(low))[0];
    const auto m_high = sep->predict_masks({mag}, sep->embed_query(high))[0];
    double low_band_low = 0, low_band_high = 0, high_band_low = 0, high_band_high = 0;
    const int bins = c.num_bins();
    for (int t = 0; t < c.window_frames(); ++t) {
        for (int k = 2; k < 8; ++k) {  // 43–150 Hz around the tone
            low_band_low += m_low[std::size_t(t) * bins + k];
            low_band_high += m_high[std::size_t(t) * bins + k];
        }
        for (int k = 400; k < 900; ++k) {  // 8.6–19 kHz: only the noise
            high_band_low += m_low[std::size_t(t) * bins + k];
            high_band_high += m_high[std::size_t(t) * bins + k];
        }
    }
    EXPECT_GT(low_band_low, low_band_high);
    EXPECT_GT(high_band_high, high_band_low);
}
