// Multitrack song folders (loopsep/multitrack.h: your own stems, MUSDB18's test/) as bench_separate
// reads them, in the SynthSong form of synth_songs.h. They carry no loops: an instrument's query is
// its stem's loudest bar (between two downbeats: beats.txt, or the beat tracker on the mixture),
// which bench_separate takes, as for synth songs, from ANOTHER song only. Genre: neutral.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "loopsep/audio.h"
#include "loopsep/beat.h"
#include "loopsep/multitrack.h"
#include "synth_songs.h"

namespace loopsep::bench {

// The stem's loudest bar (mid RMS), with its tempo; empty audio when the stem is silent throughout.
inline QueryBar loudest_bar(const std::string& instrument, const Audio& stem, const std::vector<double>& downbeats_sec) {
    QueryBar best{instrument, Audio(), 0.0};
    const std::vector<float> mid = stem.mono();
    double best_ms = 1e-8;  // −80 dBFS: quieter bars are no query
    for (std::size_t b = 0; b + 1 < downbeats_sec.size(); ++b) {
        const auto f0 = std::size_t(downbeats_sec[b] * stem.sample_rate_hz);
        const auto f1 = std::min(mid.size(), std::size_t(downbeats_sec[b + 1] * stem.sample_rate_hz));
        if (f1 <= f0 + 1) continue;
        double ms = 0;
        for (std::size_t i = f0; i < f1; ++i) ms += double(mid[i]) * mid[i];
        ms /= double(f1 - f0);
        if (ms <= best_ms) continue;
        best_ms = ms;
        best.audio = Audio(stem.num_channels(), f1 - f0, stem.sample_rate_hz);
        for (int c = 0; c < stem.num_channels(); ++c)
            std::copy(stem.channels[c].begin() + long(f0), stem.channels[c].begin() + long(f1), best.audio.channels[c].begin());
        best.bpm = 4.0 * 60.0 / (downbeats_sec[b + 1] - downbeats_sec[b]);
    }
    return best;
}

// The first `max_songs` multitrack songs under `root` (or its test/ subfolder, MUSDB18), each read once
// here for its query bars; bench_separate reads the audio again song by song (read_song_audio).
inline std::vector<SynthSong> load_multitrack_songs(const std::string& root, int max_songs) {
    std::vector<SynthSong> songs;
    for (const auto& folder : find_song_folders(root, "test")) {
        if (folder.synth) continue;
        if (int(songs.size()) >= max_songs) break;
        const MultitrackSong m = read_multitrack_song(folder.dir);
        SynthSong s;
        s.dir = folder.dir;
        s.name = std::filesystem::path(folder.dir).filename().string();
        s.meta = nlohmann::json::object();  // no genre, no presence annotation
        s.multitrack = true;
        BeatParams bp;
        bp.allow_beatless = true;
        const std::vector<double> downbeats =
            m.downbeats_sec.empty() ? track_beats(m.mixture, bp).downbeats_sec : m.downbeats_sec;
        for (std::size_t i = 0; i < m.instruments.size(); ++i) {
            if (m.instruments[i] == "other") continue;
            s.instruments.push_back(m.instruments[i]);
            QueryBar q = loudest_bar(m.instruments[i], m.stems[i], downbeats);
            if (q.audio.frames() > 0) s.query_bars.push_back(std::move(q));
        }
        songs.push_back(std::move(s));
    }
    return songs;
}

// A song's mixture and stems by instrument, for either kind of song folder.
inline void read_song_audio(const SynthSong& song, Audio& mix, std::map<std::string, Audio>& stems) {
    stems.clear();
    if (song.multitrack) {
        MultitrackSong m = read_multitrack_song(song.dir);
        mix = std::move(m.mixture);
        for (std::size_t i = 0; i < m.instruments.size(); ++i) stems[m.instruments[i]] = std::move(m.stems[i]);
        return;
    }
    mix = read_audio(song.dir + "/mix.wav");
    ReadOptions ro;
    ro.allow_silent = true;
    for (auto& e : std::filesystem::directory_iterator(song.dir + "/stems"))
        stems[e.path().stem().string()] = read_audio(e.path().string(), ro);
}

}  // namespace loopsep::bench
