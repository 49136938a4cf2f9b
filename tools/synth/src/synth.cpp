// loopsep synth — orchestration: compose, render every part, mix stems, write
// mix/stems/meta.json/loops (see loopsep/synth.h).
#include "loopsep/synth.h"

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "effects.h"
#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "production.h"
#include "render.h"
#include "render_loops.h"
#include "score.h"

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace loopsep::synth {

Genre parse_genre(const std::string& name) {
    if (name == "bachata") return Genre::Bachata;
    if (name == "hiphop" || name == "hip-hop") return Genre::HipHop;
    throw usage_error("--genre must be bachata or hiphop (got '" + name + "')");
}
SourceSplit parse_split(const std::string& name) {
    if (name == "train") return SourceSplit::Train;
    if (name == "val") return SourceSplit::Val;
    if (name == "realval") return SourceSplit::RealVal;
    throw usage_error("--split must be train, val or realval (got '" + name + "')");
}
StemFormat parse_stem_format(const std::string& name) {
    if (name == "pcm16" || name == "16") return StemFormat::Pcm16;
    if (name == "flac") return StemFormat::Flac;
    if (name == "float" || name == "f32") return StemFormat::Float32;
    throw usage_error("--format must be pcm16, flac or float (got '" + name + "')");
}
std::string genre_name(Genre g) { return g == Genre::Bachata ? "bachata" : "hiphop"; }
std::string split_name(SourceSplit s) {
    return s == SourceSplit::Train ? "train" : s == SourceSplit::Val ? "val" : "realval";
}

std::vector<std::string> genre_instruments(Genre g) {
    if (g == Genre::Bachata) return {"bongo", "guira", "bass", "guitar", "other"};
    return {"drums", "bass", "vocals", "other"};
}

void SynthParams::validate() const {
    if (songs < 1 || songs > 100000) throw usage_error("--songs must be in 1..100000");
    if (first_index < 0 || first_index > 10000000) throw usage_error("--first-index must be in 0..10000000");
    if (out_dir.empty()) throw usage_error("--out is required");
    if (loops_per_instrument < 1 || loops_per_instrument > 16) throw usage_error("--loops-per-instrument must be in 1..16");
    if (!(duration_sec >= 20.0 && duration_sec <= 600.0)) throw usage_error("--duration-sec must be in 20..600");
    if (bpm != 0.0 && !(bpm >= 60.0 && bpm <= 200.0)) throw usage_error("--bpm must be in 60..200");
    if (sample_rate_hz < 22050 || sample_rate_hz > 96000) throw usage_error("--sample-rate must be in 22050..96000");
    if (soundfont_dir.empty()) throw usage_error("--soundfont-dir must not be empty");
    if (samples_dir.empty()) throw usage_error("--samples-dir must not be empty");
    if (hydrogen_dir.empty()) throw usage_error("--hydrogen-dir must not be empty");
    if (freepats_cfg.empty()) throw usage_error("--freepats-cfg must not be empty");
}

std::string song_name(const SynthParams& p, int index) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s_%llu_%04d", genre_name(p.genre).c_str(), (unsigned long long)p.seed, index);
    return buf;
}

namespace {

std::uint64_t fnv1a(const std::string& s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

struct StemMix {
    std::string name;
    Audio audio;
    Json sources = Json::array();
    double gain_db = 0.0, reverb = 0.0;
    bool chorus = false, lofi = false;
};

double stem_base_db(Genre g, const std::string& stem) {
    // Measured on rendered songs (RMS of the stems): these put the guitars a
    // little above bongo and güira, and drums and rap above the sample.
    if (g == Genre::Bachata) {
        if (stem == "bongo") return 0.0;
        if (stem == "guira") return -1.5;
        if (stem == "bass") return 0.0;
        if (stem == "guitar") return -2.5;
        return -5.0;
    }
    if (stem == "drums") return 1.5;
    if (stem == "bass") return 0.0;
    if (stem == "vocals") return 2.0;
    return -4.0;
}

double reverb_amount(Rng& rng, const std::string& stem) {
    if (stem == "bass") return rng.uniform(0.0, 0.05);
    if (stem == "drums") return rng.uniform(0.0, 0.25);
    if (stem == "vocals") return rng.uniform(0.05, 0.3);
    return rng.uniform(0.1, 0.45);
}

// Presence from the stem's own energy: 10 ms hops of a 46 ms RMS window above
// -50 dB of the stem's loudest window, gaps under 0.5 s bridged.
Json presence_of(const Audio& a) {
    const int sr = a.sample_rate_hz;
    const std::size_t hop = std::size_t(sr / 100), win = std::size_t(sr * 0.046);
    std::vector<double> e;
    for (std::size_t s = 0; s + win <= a.frames(); s += hop) {
        double sum = 0;
        for (const auto& ch : a.channels)
            for (std::size_t i = s; i < s + win; ++i) sum += double(ch[i]) * ch[i];
        e.push_back(sum / double(win * a.channels.size()));
    }
    Json out = Json::array();
    const double mx = e.empty() ? 0.0 : *std::max_element(e.begin(), e.end());
    if (mx <= 1e-20) return out;
    const double thr = mx * 1e-5;
    std::vector<std::pair<double, double>> iv;
    for (std::size_t k = 0; k < e.size(); ++k) {
        if (e[k] <= thr) continue;
        const double a0 = double(k * hop) / sr, a1 = double(k * hop + win) / sr;
        if (!iv.empty() && a0 - iv.back().second < 0.5) iv.back().second = a1;
        else iv.push_back({a0, a1});
    }
    for (auto& [s, t] : iv)
        if (t - s >= 0.05) out.push_back({std::round(s * 1000) / 1000, std::round(t * 1000) / 1000});
    return out;
}

// PCM16 writer with explicit integer samples, so the mix file is exactly the
// sum of the stem files (same integers, same scale when read back).
void write_pcm16(const std::string& path, const std::vector<std::vector<int>>& planar, int sr, bool flac) {
    const std::string tmp = temp_path_for(path);
    SF_INFO info{};
    info.samplerate = sr;
    info.channels = int(planar.size());
    info.format = (flac ? SF_FORMAT_FLAC : SF_FORMAT_WAV) | SF_FORMAT_PCM_16;
    SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
    if (!f) throw input_error(path + ": cannot write (" + sf_strerror(nullptr) + ")");
    const std::size_t n = planar[0].size(), nc = planar.size();
    std::vector<short> inter(n * nc);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < nc; ++c) inter[i * nc + c] = short(std::clamp(planar[c][i], -32768, 32767));
    const sf_count_t wrote = sf_writef_short(f, inter.data(), sf_count_t(n));
    sf_close(f);
    if (wrote != sf_count_t(n)) {
        fs::remove(tmp);
        throw input_error(path + ": short write");
    }
    commit_file(tmp, path);
}

void write_text(const std::string& path, const std::string& text) {
    const std::string tmp = temp_path_for(path);
    {
        std::ofstream o(tmp, std::ios::binary);
        o << text;
        if (!o) throw input_error(path + ": cannot write");
    }
    commit_file(tmp, path);
}

Json round_list(const std::vector<double>& v) {
    Json a = Json::array();
    for (double x : v) a.push_back(std::round(x * 1e6) / 1e6);
    return a;
}

// Returns the song's one-line summary ("synth: wrote DIR (...)").
std::string render_one(const SynthParams& params, int index, FluidBank& bank) {
    const std::string name = song_name(params, index);
    const std::uint64_t song_seed = mix_seed(params.seed, std::uint64_t(index) * 2 + (params.genre == Genre::HipHop ? 1 : 0));
    Rng rng(song_seed);
    Rng compose_rng = rng.fork(1), mix_rng = rng.fork(2);
    Song song = params.genre == Genre::Bachata ? compose_bachata(compose_rng, params) : compose_hiphop(compose_rng, params);
    const int sr = params.sample_rate_hz, nc = params.mono ? 1 : 2;
    const double end_sec = song.tempo.beat_sec.back() + song.tail_sec;
    std::size_t frames = std::size_t(std::ceil(std::max(end_sec, params.duration_sec) * sr));

    // Render parts into stems.
    std::vector<StemMix> stems;
    for (const auto& inst : genre_instruments(params.genre)) stems.push_back({inst, Audio(nc, frames, sr)});
    for (const auto& part : song.parts) {
        std::string label;
        const SourceKind kind = part.source.kind;
        Audio a = kind == SourceKind::SoundFont      ? bank.render(part, song, frames, label)
                  : kind == SourceKind::Own          ? render_own(part, song, sr, frames, label)
                  : kind == SourceKind::SampleKit    ? render_sample_kit(part, song, params.samples_dir, sr, frames, label)
                  : kind == SourceKind::RecordedLoop ? render_recorded_loop(part, song, sr, frames, label)
                  : kind == SourceKind::Hydrogen     ? render_hydrogen(part, song, params.hydrogen_dir, sr, frames, label)
                  : kind == SourceKind::Patch        ? render_patch(part, song, params.freepats_cfg, sr, frames, label)
                                                     : render_voice(part, song, sr, frames, label);
        const double rms = active_rms(a);
        if (rms <= 0.0) continue;  // e.g. a kit without that key: silent part
        const float g = float(std::pow(10.0, (-20.0 + part.gain_db) / 20.0) / rms);
        Audio panned = pan_to(a, part.pan, nc);
        auto it = std::find_if(stems.begin(), stems.end(), [&](const StemMix& s) { return s.name == part.stem; });
        for (int c = 0; c < nc; ++c)
            for (std::size_t i = 0; i < frames; ++i) it->audio.channels[c][i] += g * panned.channels[c][i];
        it->sources.push_back({{"role", part.role}, {"source", label}});
    }
    // Per-stem EQ, reverb and level.
    for (auto& s : stems) {
        Rng r = mix_rng.fork(fnv1a(s.name));  // std::hash differs between libraries
        random_eq(s.audio, r, 3.0);
        if (s.name == "guitar" && r.chance(0.7)) {
            s.chorus = true;
            add_chorus(s.audio, r.uniform(0.4, 1.5), r.uniform(1.0, 4.0), r.uniform(0.3, 0.6));
        }
        if (params.genre == Genre::HipHop && s.name == "other" && r.chance(0.4)) {
            s.lofi = true;
            const double before = active_rms(s.audio);
            random_eq(s.audio, r, 6.0);
            add_lofi(s.audio, r, r.uniform(1.0, 2.5), r.uniform(0.0, 0.01) * before / 0.1);
            const double after = active_rms(s.audio);  // saturation raises the level: undo that
            if (after > 0) for (auto& ch : s.audio.channels) for (auto& x : ch) x *= float(before / after);
        }
        s.reverb = reverb_amount(r, s.name);
        add_reverb(s.audio, s.reverb, r.uniform(0.7, 0.86), r.uniform(0.2, 0.5));
        s.gain_db = stem_base_db(params.genre, s.name) + r.uniform(-2.5, 2.5);
        const float g = float(std::pow(10.0, s.gain_db / 20.0));
        for (auto& ch : s.audio.channels) for (auto& x : ch) x *= g;
    }
    // Production (production.h): channel strips and bus processing on the splits
    // that get it. Its Rng is derived from the song seed alone, so the draws above
    // and below are the same with or without it.
    ProductionResult production;
    {
        std::vector<ProducedStem> ps;
        for (auto& s : stems) ps.push_back({s.name, &s.audio});
        std::vector<double> bar_sec;
        for (int b = 0; b < song.bars; ++b) bar_sec.push_back(song.tempo.beat_sec[std::size_t(b * 4)]);
        Rng prod_rng(mix_seed(song_seed, 0x70726f64756365ull));
        production = produce(ps, bar_sec, prod_rng, split_gets_production(params.split), params.bpm == 0.0);
    }
    if (production.speed != 1.0) {
        // Resampled song: every time / speed, tempo × speed; still at least duration_sec long.
        frames = std::max(stems[0].audio.frames(), std::size_t(std::ceil(params.duration_sec * sr)));
        for (auto& s : stems)
            for (auto& ch : s.audio.channels) ch.resize(frames, 0.0f);
        for (auto& t : song.tempo.beat_sec) t /= production.speed;
        song.bpm *= production.speed;
        // The pitch moved with the tempo (up to ±1.01 semitones): meta.json's key is
        // the nearest one as heard, the rest of the shift is a detuning in cents.
        const double semitones = 12.0 * std::log2(production.speed);
        production.record["key_as_composed"] = song.key_name();
        production.record["pitch_shift_semitones"] = std::round(semitones * 1000) / 1000;
        song.key_pc += int(std::lround(semitones));
        production.record["detune_cents"] = std::round((semitones - std::round(semitones)) * 1000) / 10;
    }
    // Master level: the loudest of mix and stems peaks at 0.5..0.89.
    Audio mix(nc, frames, sr);
    for (const auto& s : stems)
        for (int c = 0; c < nc; ++c)
            for (std::size_t i = 0; i < frames; ++i) mix.channels[c][i] += s.audio.channels[c][i];
    float peak = mix.peak();
    for (const auto& s : stems) peak = std::max(peak, s.audio.peak());
    if (peak <= 0.0f) throw input_error("synth: song " + name + " rendered silent");
    const float master = float(mix_rng.uniform(0.5, 0.89)) / peak;

    const fs::path dir = fs::path(params.out_dir) / name;
    fs::create_directories(dir / "stems");
    Json meta;
    meta["genre"] = genre_name(params.genre);
    meta["name"] = name;
    meta["seed"] = params.seed;
    meta["index"] = index;
    meta["split"] = split_name(params.split);
    meta["bpm"] = song.bpm;
    meta["tempo_drift"] = song.drift;
    meta["key"] = song.key_name();
    meta["time_signature"] = "4/4";
    meta["sample_rate"] = sr;
    meta["channels"] = nc;
    meta["duration_sec"] = double(frames) / sr;
    meta["format"] = params.format == StemFormat::Pcm16 ? "pcm16" : params.format == StemFormat::Flac ? "flac" : "float";
    const std::string ext = params.format == StemFormat::Flac ? ".flac" : ".wav";

    // Quantise and write. For PCM16 the mix is the integer sum of the
    // quantised stems, so mix == sum(stems) exactly when read back.
    std::vector<Audio> finals;
    if (params.format != StemFormat::Float32) {
        const bool flac = params.format == StemFormat::Flac;
        std::vector<std::vector<int>> mix_q(std::size_t(nc), std::vector<int>(frames, 0));
        for (auto& s : stems) {
            std::vector<std::vector<int>> q(std::size_t(nc), std::vector<int>(frames, 0));
            Audio back(nc, frames, sr);
            for (int c = 0; c < nc; ++c)
                for (std::size_t i = 0; i < frames; ++i) {
                    const int v = int(std::lrint(double(s.audio.channels[c][i]) * master * 32767.0));
                    q[c][i] = v;
                    mix_q[c][i] += v;
                    back.channels[c][i] = float(v) / 32768.0f;
                }
            write_pcm16((dir / "stems" / (s.name + ext)).string(), q, sr, flac);
            finals.push_back(std::move(back));
        }
        if (production.codec_kbps > 0) {  // the mixture through MP3 and back: no longer the stems' sum
            Audio m(nc, frames, sr);
            for (int c = 0; c < nc; ++c)
                for (std::size_t i = 0; i < frames; ++i) m.channels[c][i] = float(mix_q[c][i]) / 32768.0f;
            m = mp3_round_trip(m, production.codec_kbps, (dir / "mix.codec-tmp.mp3").string());
            for (int c = 0; c < nc; ++c)
                for (std::size_t i = 0; i < frames; ++i) mix_q[c][i] = int(std::lrint(double(m.channels[c][i]) * 32768.0));
        }
        write_pcm16((dir / ("mix" + ext)).string(), mix_q, sr, flac);
    } else {
        Audio m(nc, frames, sr);
        for (auto& s : stems) {
            for (auto& ch : s.audio.channels) for (auto& x : ch) x *= master;
            for (int c = 0; c < nc; ++c)
                for (std::size_t i = 0; i < frames; ++i) m.channels[c][i] += s.audio.channels[c][i];
            write_audio((dir / "stems" / (s.name + ".wav")).string(), s.audio, {FileFormat::Wav, SampleBits::Float32});
            finals.push_back(s.audio);
        }
        if (production.codec_kbps > 0) m = mp3_round_trip(m, production.codec_kbps, (dir / "mix.codec-tmp.mp3").string());
        write_audio((dir / "mix.wav").string(), m, {FileFormat::Wav, SampleBits::Float32});
    }

    std::vector<double> beats, downbeats;
    for (int b = 0; b < song.bars * 4; ++b) {
        beats.push_back(song.tempo.beat_sec[std::size_t(b)]);
        if (b % 4 == 0) downbeats.push_back(song.tempo.beat_sec[std::size_t(b)]);
    }
    meta["beats"] = round_list(beats);
    meta["downbeats"] = round_list(downbeats);
    Json sections = Json::array();
    for (const auto& s : song.sections)
        sections.push_back({std::round(song.tempo.time_of(s.start_bar * 4.0) * 1e6) / 1e6, s.name});
    meta["sections"] = sections;
    Json presence = Json::object(), stem_info = Json::object();
    for (std::size_t k = 0; k < stems.size(); ++k) {
        presence[stems[k].name] = presence_of(finals[k]);
        stem_info[stems[k].name] = {{"sources", stems[k].sources},
                                    {"gain_db", std::round(stems[k].gain_db * 100) / 100},
                                    {"reverb", std::round(stems[k].reverb * 1000) / 1000},
                                    {"chorus", stems[k].chorus},
                                    {"lofi", stems[k].lofi}};
    }
    meta["presence"] = presence;
    meta["stems"] = stem_info;
    if (production.enabled) {  // absent on splits without production (val's meta.json stays as it was)
        production.record["mix_is_sum_of_stems"] = production.codec_kbps == 0;
        meta["production"] = production.record;
    }

    if (params.loops) {
        fs::create_directories(dir / "loops");
        Json list = Json::array();
        Rng lr = rng.fork(3);
        for (std::size_t k = 0; k < stems.size(); ++k) {
            // A loop bar must have the instrument playing in every one of its
            // four beats (beat RMS within 20 dB of the stem's loudest beat).
            std::vector<double> beat_rms;
            for (int b = 0; b < song.bars * 4; ++b) {
                const std::size_t s0 = std::size_t(song.tempo.beat_sec[std::size_t(b)] * sr);
                const std::size_t s1 = std::min(frames, std::size_t(song.tempo.beat_sec[std::size_t(b + 1)] * sr));
                double sum = 0;
                for (const auto& ch : finals[k].channels)
                    for (std::size_t i = s0; i < s1; ++i) sum += double(ch[i]) * ch[i];
                beat_rms.push_back(std::sqrt(sum / double(std::max<std::size_t>(1, (s1 - s0) * std::size_t(nc)))));
            }
            const double loudest = beat_rms.empty() ? 0.0 : *std::max_element(beat_rms.begin(), beat_rms.end());
            std::vector<int> eligible;
            for (int bar = 0; bar + 1 < song.bars && loudest > 0; ++bar) {
                bool ok = true;
                for (int b = bar * 4; b < bar * 4 + 4; ++b) ok &= beat_rms[std::size_t(b)] >= 0.1 * loudest;
                if (ok) eligible.push_back(bar);
            }
            // One bar per section, the body sections first (intros and outros
            // are often partial), at most loops_per_instrument.
            std::vector<const Section*> order;
            for (const auto& sec : song.sections) if (sec.name != "intro" && sec.name != "outro") order.push_back(&sec);
            for (const auto& sec : song.sections) if (sec.name == "intro" || sec.name == "outro") order.push_back(&sec);
            std::vector<int> chosen;
            for (const Section* sec : order) {
                std::vector<int> in;
                for (int b : eligible) if (b >= sec->start_bar && b < sec->start_bar + sec->bars) in.push_back(b);
                if (!in.empty() && int(chosen.size()) < params.loops_per_instrument) chosen.push_back(lr.pick(in));
            }
            std::sort(chosen.begin(), chosen.end());
            for (int nn = 0; nn < int(chosen.size()); ++nn) {
                const int bar = chosen[std::size_t(nn)];
                const std::size_t a = std::size_t(std::llround(song.tempo.beat_sec[std::size_t(bar * 4)] * sr));
                const std::size_t b = std::size_t(std::llround(song.tempo.beat_sec[std::size_t(bar * 4 + 4)] * sr));
                Audio loop(nc, b - a, sr);
                for (int c = 0; c < nc; ++c)
                    std::copy(finals[k].channels[c].begin() + long(a), finals[k].channels[c].begin() + long(b), loop.channels[c].begin());
                char file[64];
                std::snprintf(file, sizeof file, "%s_%02d%s", stems[k].name.c_str(), nn, ext.c_str());
                write_audio((dir / "loops" / file).string(), loop,
                            {params.format == StemFormat::Flac ? FileFormat::Flac : FileFormat::Wav, SampleBits::Int16});
                std::string source;
                for (const auto& s : stems[k].sources) source += (source.empty() ? "" : "; ") + s["source"].get<std::string>();
                list.push_back({{"file", file},
                                {"instrument", stems[k].name},
                                {"genre", genre_name(params.genre)},
                                {"section", song.section_at_bar(bar).name},
                                {"bpm", 240.0 * sr / double(b - a)},  // exactly four beats at this tempo
                                {"beats", 4},
                                {"key", song.key_name()},
                                {"source", source},
                                {"song", name},
                                {"start_sec", double(a) / sr}});
            }
        }
        write_text((dir / "loops" / "loops.json").string(), list.dump(2) + "\n");
    }
    write_text((dir / "meta.json").string(), meta.dump(2) + "\n");
    char line[1024];
    std::snprintf(line, sizeof line, "synth: wrote %s (%.1f s, %.1f BPM, %s)", dir.string().c_str(), double(frames) / sr,
                  song.bpm, song.key_name().c_str());
    return line;
}

}  // namespace

void render_songs(const SynthParams& params) {
    params.validate();
    // The output rule (loopsep/files.h) for song folders, checked for every song before any is made.
    for (int i = 0; i < params.songs; ++i) {
        const fs::path dir = fs::path(params.out_dir) / song_name(params, params.first_index + i);
        std::error_code ec;
        const auto st = fs::status(dir, ec);
        if (!fs::exists(st)) continue;
        if (!fs::is_directory(st))
            throw input_error(dir.string() + ": exists and is not a song folder, refusing to replace it");
        if (!params.force) throw input_error(dir.string() + ": song folder exists (use --force to overwrite)");
    }
    fs::create_directories(params.out_dir);
    for (int i = 0; i < params.songs; ++i) {
        if (params.force) fs::remove_all(fs::path(params.out_dir) / song_name(params, params.first_index + i));
        // A fresh FluidSynth per song (loading is cheap with dynamic sample
        // loading): a reset synth still carries some state between renders,
        // and a song must render identically alone or after others (sharding).
        FluidBank bank(params.soundfont_dir, params.sample_rate_hz);
        const std::string line = render_one(params, params.first_index + i, bank);
        if (params.on_song)
            params.on_song(line, i + 1, params.songs);
        else if (!params.quiet)
            std::fprintf(stderr, "%s\n", line.c_str());
    }
}

}  // namespace loopsep::synth
