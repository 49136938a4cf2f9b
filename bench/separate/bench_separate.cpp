// bench_separate — quality and speed of `loopsep separate` on synthetic songs
// with known stems (`loopsep synth --split val --loops`: sound sources the
// model never trained on), or on a folder of multitracks (your own stems,
// MUSDB18's test/: loopsep/multitrack.h; the query is another song's loudest
// bar of the instrument's stem, and no leakage is measured without presence
// annotations).
//
// Per target instrument it reports SDR (MDX definition) and SI-SDR of
//   query      one example loop from ANOTHER song as the query (default path)
//   proto      the class prototype: mean embedding of every other song's loops
//   catalog    the class prototype a user without a query gets: from the loops of --catalog DB (e.g. a
//              catalog seeded from samples/loops: what `separate` falls back to), genre-matched as there
//   rubberband model input time-stretched by Rubber Band instead (query uses spectral analysis)
//   fixed      the same model on plain fixed windows, no beat sync (ablation)
//   stretch    audio re-stretched back instead of warping masks (ablation)
//   joint      every instrument of the song in ONE call (--targets a,b,c: masks normalised
//              together), each with the query of the default path
//   irm        the ideal ratio mask (power, same STFT) — an upper anchor
//   mix        the mixture itself as the estimate — the floor
// plus leakage: estimate energy relative to the mixture's where the target is
// silent (outside its meta.json presence, its stem 40 dB under the mixture, the
// mixture audible: leakage_where_silent) with the seconds it was measured on,
// and speed (× real time).
//
// Two failure counts for the query and proto paths (what users meet on real records):
//   right instrument  the estimate scored (SI-SDR) against EVERY stem of the song: it must score at
//                     least 6 dB higher against its own stem than against any other (margin = own −
//                     best other); a wrong-instrument extraction shows up as a small or negative
//                     margin. SI-SDR, not SDR: the MDX SDR of a quiet estimate against any loud stem
//                     tends to 0 dB whatever the estimate holds, which would cap the margin of a quiet
//                     target at its own SDR; SI-SDR against a stem the estimate does not contain is
//                     strongly negative.
//   silent            an estimate below −60 dBFS (RMS) although the target plays: a failure, not an answer
//
// passes2: the query path with SeparationParams::passes = 2 (pass 2 queried by the song's own most confident
// bars); it also reports each target's self-query confidence and how many bars made it. passes2half: the
// same with SeparationParams::self_query_weight = 0.5 (pass 2's query half the self-query, half the given).
//
// usage: bench_separate --data DIR --model FILE [--max-songs N] [--catalog DB]
//                       [--variants query,joint,proto,catalog,rubberband,fixed,stretch,passes2,passes2half]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loopsep/catalog.h"
#include "loopsep/engine.h"
#include "loopsep/error.h"
#include "mean_stat.h"
#include "multitrack_songs.h"
#include "loopsep/metrics.h"
#include "loopsep/model.h"
#include "loopsep/stft.h"

using namespace loopsep;

namespace {

using Song = loopsep::bench::SynthSong;

// Ideal ratio mask (power) from all stems, applied to the mixture, per channel.
Audio ideal_ratio_mask(const Audio& mix, const std::map<std::string, Audio>& stems, const std::string& target) {
    Stft stft({2048, 512});
    Audio out(mix.num_channels(), mix.frames(), mix.sample_rate_hz);
    for (int c = 0; c < mix.num_channels(); ++c) {
        Spectrogram m = stft.forward(mix.channel(c), mix.frames());
        std::vector<float> total(m.data.size(), 1e-12f), tgt(m.data.size(), 0.0f);
        for (const auto& [name, a] : stems) {
            Spectrogram s = stft.forward(a.channel(c), a.frames());
            for (std::size_t i = 0; i < s.data.size(); ++i) {
                float p = std::norm(s.data[i]);
                total[i] += p;
                if (name == target) tgt[i] = p;
            }
        }
        for (std::size_t i = 0; i < m.data.size(); ++i) m.data[i] *= tgt[i] / total[i];
        out.channels[c] = stft.inverse(m, mix.frames());
    }
    return out;
}

// The annotated spans where `inst` plays (meta.json "presence"), for leakage_where_silent.
std::vector<TimeSpan> presence_spans(const nlohmann::json& presence) {
    std::vector<TimeSpan> spans;
    for (auto& iv : presence) spans.push_back({iv[0].get<double>(), iv[1].get<double>()});
    return spans;
}

// RMS level over all channels in dBFS (−inf for digital silence).
double rms_dbfs(const Audio& a) {
    double sum = 0;
    std::size_t n = 0;
    for (const auto& ch : a.channels) {
        for (float v : ch) sum += double(v) * v;
        n += ch.size();
    }
    return n ? 10.0 * std::log10(sum / double(n)) : -INFINITY;
}

constexpr double kRightInstrumentMarginDb = 6.0;
constexpr double kSilentDbfs = -60.0;

using loopsep::bench::Stat;

}  // namespace

int main(int argc, char** argv) {
    std::string data, model_path = default_model_path(), variants_arg = "query,proto,rubberband,fixed,stretch", catalog_path;
    int max_songs = 4, threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--data") data = argv[i + 1];
        else if (a == "--model") model_path = argv[i + 1];
        else if (a == "--max-songs") max_songs = std::stoi(argv[i + 1]);
        else if (a == "--variants") variants_arg = argv[i + 1];
        else if (a == "--threads") threads = std::stoi(argv[i + 1]);
        else if (a == "--catalog") catalog_path = argv[i + 1];
        else { std::fprintf(stderr, "unknown option %s\n", a.c_str()); return 2; }
    }
    if (data.empty()) { std::fprintf(stderr, "usage: bench_separate --data DIR [--model FILE] [--max-songs N] [--variants LIST]\n"); return 2; }
    std::set<std::string> variants;
    for (std::size_t p = 0; p <= variants_arg.size();) {
        std::size_t q = variants_arg.find(',', p);
        if (q == std::string::npos) q = variants_arg.size();
        variants.insert(variants_arg.substr(p, q - p));
        p = q + 1;
    }
    if (variants.count("catalog") && catalog_path.empty()) { std::fprintf(stderr, "the catalog variant needs --catalog DB\n"); return 2; }
    set_torch_threads(threads);
    Engine engine(Separator::load(model_path), "");
    std::optional<Catalog> catalog;
    if (!catalog_path.empty()) catalog.emplace(Catalog::open(catalog_path, false));
    // The catalog's prototype depends only on the instrument and genre: made once per pair, not per song
    // (the engine has no model tag here, so the catalog caches no embeddings).
    std::map<std::pair<std::string, Genre>, std::vector<float>> catalog_queries;
    auto catalog_query = [&](const std::string& inst, Genre genre) -> const std::vector<float>& {
        auto it = catalog_queries.find({inst, genre});
        if (it == catalog_queries.end())
            it = catalog_queries.emplace(std::make_pair(inst, genre), engine.query_from_catalog(*catalog, inst, genre)).first;
        return it->second;
    };
    std::vector<Song> songs = loopsep::bench::load_synth_songs(data, max_songs);
    try {
        if (songs.empty()) songs = loopsep::bench::load_multitrack_songs(data, max_songs);
    } catch (const Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }

    std::map<std::string, std::map<std::string, Stat>> sdr, sisdr;  // [instrument][variant]
    std::map<std::string, Stat> leak;
    // Right-instrument margin and counts, [instrument][variant].
    std::map<std::string, std::map<std::string, Stat>> margin;
    std::map<std::string, std::map<std::string, int>> right_ok, scored, silent;
    std::map<std::string, std::map<std::string, std::string>> worst_other;  // the stem it resembled most, last song
    std::map<std::string, double> leak_sec;   // seconds of audio the leakage was measured on
    std::map<std::string, double> variant_sec, variant_audio_sec;  // wall time and audio seconds per variant
    std::map<std::string, Stat> sq_confidence, sq_bars;  // passes2: per instrument
    double audio_sec = 0, run_sec = 0, joint_song_sec = 0;
    for (const Song& song : songs) {
        Audio mix;
        std::map<std::string, Audio> stems;
        loopsep::bench::read_song_audio(song, mix, stems);
        Genre genre = parse_genre(song.meta.value("genre", "neutral"));
        std::vector<TargetQuery> joint_targets;  // every scored instrument with its query
        auto score_as = [&](const std::string& inst, const std::string& variant, const Audio& est) {
            QualityScores q = compare(stems.at(inst), est);
            sdr[inst][variant].add(q.sdr_db);
            sisdr[inst][variant].add(q.si_sdr_db);
            if (variant != "query" && variant != "proto" && variant != "catalog" && variant != "joint" &&
                variant != "passes2" && variant != "passes2half")
                return;
            double best_other = -INFINITY;
            for (const auto& [name, stem] : stems) {
                if (name == inst || stem.peak() < 1e-4f) continue;
                const double o = compare(stem, est).si_sdr_db;
                if (o > best_other) { best_other = o; worst_other[inst][variant] = name; }
            }
            ++scored[inst][variant];
            if (std::isfinite(best_other)) {
                margin[inst][variant].add(q.si_sdr_db - best_other);
                if (q.si_sdr_db - best_other >= kRightInstrumentMarginDb) ++right_ok[inst][variant];
            } else {
                ++right_ok[inst][variant];  // nothing else plays: trivially the right instrument
            }
            if (rms_dbfs(est) < kSilentDbfs) ++silent[inst][variant];
        };
        for (const std::string& inst : song.instruments) {
            if (stems.at(inst).peak() < 1e-4f) continue;
            // Queries from the other songs only.
            std::vector<std::vector<float>> other_embeddings;
            for (const Song& other : songs) {
                if (other.name == song.name) continue;
                for (auto& [li, path] : other.loops)
                    if (li == inst) other_embeddings.push_back(engine.query_from_loop(read_audio(path), 0, path));
                for (const auto& q : other.query_bars)
                    if (q.instrument == inst)
                        other_embeddings.push_back(engine.query_from_loop(q.audio, q.bpm, other.name + "/" + inst));
            }
            if (other_embeddings.empty()) continue;
            joint_targets.push_back({inst, other_embeddings.front()});
            auto score = [&](const std::string& variant, const Audio& est) { score_as(inst, variant, est); };
            score("mix", mix);
            score("irm", ideal_ratio_mask(mix, stems, inst));
            auto run = [&](const std::string& variant, const std::vector<float>& query, SeparationParams p) {
                p.genre = genre;
                p.threads = threads;
                auto t0 = std::chrono::steady_clock::now();
                SeparationResult r = engine.separate(mix, {{inst, query}}, p);
                double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                variant_sec[variant] += dt;
                variant_audio_sec[variant] += mix.duration_sec();
                if (variant == "query") {
                    run_sec += dt;
                    audio_sec += mix.duration_sec();
                    if (song.meta.contains("presence") && song.meta["presence"].contains(inst)) {
                        const auto l = leakage_where_silent(stems.at(inst), r.stems[0], mix,
                                                            presence_spans(song.meta["presence"][inst]));
                        leak[inst].add(l.leakage_db);
                        leak_sec[inst] += l.measured_sec;
                    }
                }
                if (variant == "passes2" && !r.self_query.empty()) {
                    sq_confidence[inst].add(r.self_query[0].confidence);
                    sq_bars[inst].add(double(r.self_query[0].segments.size()));
                }
                score(variant, r.stems[0]);
            };
            if (variants.count("query")) run("query", other_embeddings.front(), {});
            if (variants.count("proto")) run("proto", Separator::prototype(other_embeddings), {});
            if (variants.count("catalog")) run("catalog", catalog_query(inst, genre), {});
            if (variants.count("fixed")) { SeparationParams p; p.grid = GridMode::Fixed; run("fixed", other_embeddings.front(), p); }
            if (variants.count("rubberband")) { SeparationParams p; p.input_stretch = InputStretch::RubberBand; run("rubberband", other_embeddings.front(), p); }
            if (variants.count("stretch")) { SeparationParams p; p.reconstruct = Reconstruction::Stretch; run("stretch", other_embeddings.front(), p); }
            if (variants.count("passes2")) { SeparationParams p; p.passes = 2; run("passes2", other_embeddings.front(), p); }
            if (variants.count("passes2half")) {
                SeparationParams p;
                p.passes = 2;
                p.self_query_weight = 0.5;
                run("passes2half", other_embeddings.front(), p);
            }
            std::fprintf(stderr, "%s %s done\n", song.name.c_str(), inst.c_str());
        }
        if (variants.count("joint") && !joint_targets.empty()) {
            SeparationParams p;
            p.genre = genre;
            p.threads = threads;
            auto t0 = std::chrono::steady_clock::now();
            SeparationResult r = engine.separate(mix, joint_targets, p);
            variant_sec["joint"] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            joint_song_sec += mix.duration_sec();
            for (std::size_t t = 0; t < joint_targets.size(); ++t) score_as(joint_targets[t].name, "joint", r.stems[t]);
        }
    }
    std::vector<std::string> cols;
    for (const char* c : {"query", "passes2", "passes2half", "joint", "proto", "catalog", "rubberband", "fixed", "stretch"})
        if (variants.count(c)) cols.push_back(c);
    cols.push_back("irm");
    cols.push_back("mix");
    std::printf("SDR dB (SI-SDR dB), mean over %zu songs from %s, model %s\n", songs.size(), data.c_str(), model_path.c_str());
    std::printf("%-8s", "target");
    for (auto& c : cols) std::printf(" %15s", c.c_str());
    std::printf(" %12s %8s\n", "leak dB", "leak s");
    for (auto& [inst, row] : sdr) {
        std::printf("%-8s", inst.c_str());
        for (auto& c : cols) {
            if (!row.count(c)) { std::printf(" %15s", "-"); continue; }
            std::printf("   %5.2f (%5.2f)", row[c].mean(), sisdr[inst][c].mean());
        }
        std::printf(" %12.1f %8.1f\n", leak.count(inst) ? leak[inst].mean() : NAN, leak_sec[inst]);
    }
    std::printf("right instrument (SI-SDR against its own stem − best other stem, dB; songs with margin >= %.0f dB / scored;"
                " silent estimates < %.0f dBFS)\n", kRightInstrumentMarginDb, kSilentDbfs);
    for (auto& [inst, row] : margin) {
        std::printf("%-8s", inst.c_str());
        for (auto& [variant, m] : row)
            std::printf("  %s: margin %6.2f, right %d/%d, silent %d, closest other stem (last song) %s", variant.c_str(), m.mean(),
                        right_ok[inst][variant], scored[inst][variant], silent[inst][variant],
                        worst_other[inst][variant].c_str());
        std::printf("\n");
    }
    for (auto& [inst, c] : sq_confidence)
        std::printf("passes2 self-query %-8s mean confidence %.3f, %.1f bars\n", inst.c_str(), c.mean(), sq_bars[inst].mean());
    for (auto& [v, sec] : variant_sec) {
        if (v == "joint") std::printf("joint (every target in one call): %.1f x real time\n", joint_song_sec / sec);
        else std::printf("%s: %.1f x real time\n", v.c_str(), variant_audio_sec[v] / sec);
    }
    if (run_sec > 0) std::printf("speed (query path, one target): %.1f x real time (%.1f s audio in %.1f s)\n", audio_sec / run_sec, audio_sec, run_sec);
    return 0;
}
