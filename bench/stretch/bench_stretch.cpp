// Benchmark of tempo normalization: speed (seconds of audio per second) of
// Rubber Band R2, R3 and R3 short-window, and the waveform fidelity of a
// ×1.033 stretch and back (SI-SDR against the original) for each engine.
//
// usage: bench_stretch [--input FILE] [--seconds S] [--json]
//        bench_stretch --tempo-loops DIR     (accuracy of estimate_loop_bpm)
// Without --input a 30 s stereo 44.1 kHz mix is synthesised (bass, pad, drums at 120 BPM).
// --tempo-loops reads every DIR/<song>/loops/loops.json written by `loopsep synth --loops`
// and compares estimate_loop_bpm with the annotated tempo (correct = within 0.5 BPM).
// Run it on 2 cores: `taskset -c 0,1 bench_stretch` (bench/stretch/run.sh does).
// Speed is given per wall second and per CPU second of this process (the second
// is the fairer figure on a shared machine; the stretch itself is single-threaded).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <ctime>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "loopsep/metrics.h"
#include "loopsep/stretch.h"

using namespace loopsep;

namespace {

// A music-like stereo mix: what the engine stretches (songs, not sines).
Audio synth_mix(double seconds) {
    const int rate = kEngineRateHz;
    Audio a(2, std::size_t(seconds * rate), rate);
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> noise(-1.0f, 1.0f);
    const double beat = 0.5;  // 120 BPM
    const double bass_notes[] = {55.0, 65.41, 49.0, 73.42};
    const double chord[][3] = {{220.0, 277.18, 329.63}, {261.63, 329.63, 392.0}, {196.0, 246.94, 293.66}, {293.66, 369.99, 440.0}};
    for (std::size_t i = 0; i < a.frames(); ++i) {
        const double t = double(i) / rate;
        const int bar = int(t / (4 * beat)) % 4;
        const double tb = std::fmod(t, beat), t8 = std::fmod(t, beat / 2);
        const int beat_in_bar = int(std::fmod(t, 4 * beat) / beat);
        double bass = 0.35 * std::sin(2 * M_PI * bass_notes[bar] * t) * std::exp(-tb / 0.4);
        double padl = 0, padr = 0;
        for (int k = 0; k < 3; ++k) {
            padl += 0.06 * std::sin(2 * M_PI * chord[bar][k] * t);
            padr += 0.06 * std::sin(2 * M_PI * chord[bar][k] * 1.003 * t + 0.5);
        }
        double kick = (beat_in_bar % 2 == 0) ? 0.7 * std::sin(2 * M_PI * 50 * tb) * std::exp(-tb / 0.05) : 0;
        double snare = (beat_in_bar % 2 == 1) ? 0.35 * noise(rng) * std::exp(-tb / 0.06) : 0;
        double hat = 0.08 * noise(rng) * std::exp(-t8 / 0.01);
        a.channels[0][i] = float(bass + padl + kick + snare + 0.7 * hat);
        a.channels[1][i] = float(bass + padr + kick + 0.8 * snare + hat);
    }
    return a;
}

// Tempo estimation accuracy on annotated loops (e.g. from `loopsep synth --loops`).
int tempo_loops(const std::string& dir) {
    std::map<std::string, int> total, correct, octave, other, failed;
    for (const auto& song : std::filesystem::directory_iterator(dir)) {
        const auto list = song.path() / "loops" / "loops.json";
        if (!std::filesystem::exists(list)) continue;
        nlohmann::json loops = nlohmann::json::parse(std::ifstream(list));
        for (const auto& l : loops) {
            const std::string key = l.value("genre", "?") + "/" + l.value("instrument", "?");
            const double truth = l["bpm"].get<double>();
            ++total[key];
            try {
                const double est = estimate_loop_bpm(read_audio((song.path() / "loops" / l["file"].get<std::string>()).string()));
                if (std::abs(est - truth) <= 0.5) ++correct[key];
                else if (std::abs(est - 2 * truth) <= 1.0 || std::abs(est - truth / 2) <= 0.25) ++octave[key];
                else ++other[key];
            } catch (const loopsep::Error&) {
                ++failed[key];
            }
        }
    }
    int all = 0, ok = 0;
    std::printf("%-20s %6s %8s %8s %6s %7s\n", "genre/instrument", "loops", "correct", "octave", "other", "error");
    for (const auto& [key, n] : total) {
        std::printf("%-20s %6d %8d %8d %6d %7d\n", key.c_str(), n, correct[key], octave[key], other[key], failed[key]);
        all += n;
        ok += correct[key];
    }
    std::printf("all: %d/%d correct (%.1f %%)\n", ok, all, all ? 100.0 * ok / all : 0.0);
    return 0;
}

struct Config {
    const char* name;
    StretchParams params;
};

}  // namespace

int main(int argc, char** argv) {
    try {
        std::string input;
        double seconds = 30;
        bool json = false;
        for (int i = 1; i < argc; ++i) {
            if (!std::strcmp(argv[i], "--input") && i + 1 < argc) input = argv[++i];
            else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
            else if (!std::strcmp(argv[i], "--json")) json = true;
            else if (!std::strcmp(argv[i], "--tempo-loops") && i + 1 < argc) return tempo_loops(argv[++i]);
            else { std::fprintf(stderr, "usage: bench_stretch [--input FILE] [--seconds S] [--json] | --tempo-loops DIR\n"); return 2; }
        }
        Audio song = input.empty() ? synth_mix(seconds) : read_audio(input);
        const std::size_t n = song.frames();
        const std::size_t n_tempo = stretched_frames(n, 120, 124);            // a typical normalisation
        const std::size_t n_up = std::size_t(std::llround(double(n) * 1.033));  // the round-trip test

        Config configs[3] = {{"r2", {}}, {"r3", {}}, {"r3-short", {}}};
        configs[0].params.engine = StretchEngine::Faster;
        configs[2].params.short_window = true;

        nlohmann::json out{{"input", input.empty() ? "synthetic mix" : input},
                           {"seconds", song.duration_sec()},
                           {"channels", song.num_channels()},
                           {"sample_rate_hz", song.sample_rate_hz},
                           {"engines", nlohmann::json::array()}};
        if (!json)
            std::printf("%s, %.1f s, %d ch, %d Hz\n%-9s %14s %15s %18s %14s\n", out["input"].get<std::string>().c_str(),
                        song.duration_sec(), song.num_channels(), song.sample_rate_hz, "engine", "audio s / s",
                        "audio s / cpu s", "SI-SDR x1.033+back", "SDR");
        for (const Config& c : configs) {
            auto wall0 = std::chrono::steady_clock::now();
            std::clock_t cpu0 = std::clock();
            Audio stretched = stretch_to_frames(song, n_tempo, c.params);
            double cpu = double(std::clock() - cpu0) / CLOCKS_PER_SEC;
            double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
            if (stretched.frames() != n_tempo) throw std::runtime_error("length mismatch");

            Audio up = stretch_to_frames(song, n_up, c.params);
            Audio back = stretch_to_frames(up, n, c.params);
            QualityScores q = compare(song, back);
            const double speed = song.duration_sec() / wall;
            const double speed_cpu = song.duration_sec() / cpu;
            out["engines"].push_back({{"engine", c.name}, {"audio_sec_per_sec", speed},
                                      {"audio_sec_per_cpu_sec", speed_cpu}, {"wall_sec", wall},
                                      {"cpu_sec", cpu}, {"round_trip_si_sdr_db", q.si_sdr_db},
                                      {"round_trip_sdr_db", q.sdr_db}});
            if (!json)
                std::printf("%-9s %14.1f %15.1f %15.1f dB %11.1f dB\n", c.name, speed, speed_cpu, q.si_sdr_db, q.sdr_db);
        }
        if (json) std::printf("%s\n", out.dump(2).c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_stretch: %s\n", e.what());
        return 1;
    }
}
