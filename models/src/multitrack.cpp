// Song folders: discovery and the multitrack reader (see loopsep/multitrack.h).
#include "loopsep/multitrack.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "loopsep/error.h"
#include "loopsep/files.h"

namespace fs = std::filesystem;

namespace loopsep {

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

// The audio files of a multitrack song folder: .wav / .flac, not hidden (macOS "._x.wav" shadows).
std::vector<fs::path> audio_files(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        const std::string ext = lower(e.path().extension().string());
        if (name.empty() || name[0] == '.' || (ext != ".wav" && ext != ".flac")) continue;
        if (fs::is_regular_file(e.path(), ec)) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool is_mixture_name(const std::string& stem) {
    const std::string s = lower(stem);
    return s == "mixture" || s == "mix";
}

std::vector<SongFolder> songs_in(const fs::path& dir) {
    std::vector<SongFolder> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (!e.is_directory(ec) || e.path().filename().string().rfind('.', 0) == 0) continue;
        if (fs::exists(e.path() / "meta.json")) out.push_back({e.path().string(), true});
        // A synth song's folder without its meta.json (written last: an interrupted `loopsep synth`)
        // is skipped, as before there were multitracks; it is not a multitrack without stems.
        else if (!fs::is_directory(e.path() / "stems") && !audio_files(e.path()).empty())
            out.push_back({e.path().string(), false});
    }
    std::sort(out.begin(), out.end(), [](const SongFolder& a, const SongFolder& b) { return a.dir < b.dir; });
    return out;
}

std::string seconds(std::size_t frames) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", double(frames) / kEngineRateHz);
    return buf;
}

}  // namespace

std::vector<SongFolder> find_song_folders(const std::string& data_dir, const std::string& musdb_subset) {
    if (!fs::is_directory(data_dir)) throw input_error(data_dir + ": not a folder");
    auto songs = songs_in(data_dir);
    if (songs.empty() && !musdb_subset.empty() && fs::is_directory(fs::path(data_dir) / musdb_subset))
        songs = songs_in(fs::path(data_dir) / musdb_subset);
    if (songs.empty())
        throw input_error(data_dir + ": no songs inside (synth folders with meta.json, or multitrack folders "
                          "<song>/<instrument>.wav; models/TRAINING.md)");
    return songs;
}

std::vector<double> read_beat_annotation(const std::string& path) {
    require_regular_file(path);
    std::ifstream in(path);
    if (!in) throw input_error(path + ": cannot open the beat annotation");
    std::vector<double> beats, downbeats;
    bool numbered = false, first = true;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        std::replace(line.begin(), line.end(), ',', ' ');
        std::istringstream fields(line);
        std::string a, b, extra;
        if (!(fields >> a)) continue;  // blank
        fields >> b >> extra;
        const std::string where = path + ":" + std::to_string(n);
        double t = 0, pos = 0;
        try {
            std::size_t used = 0;
            t = std::stod(a, &used);
            if (used != a.size() || !std::isfinite(t) || t < 0) throw std::invalid_argument(a);
            if (!b.empty()) {
                pos = std::stod(b, &used);
                if (used != b.size() || pos < 1 || pos != std::floor(pos)) throw std::invalid_argument(b);
            }
        } catch (const std::exception&) {
            throw input_error(where + ": expected '<time_sec> [<beat_in_bar>]' (seconds ≥ 0, beat 1, 2, ...), not '" +
                              line + "'");
        }
        if (!extra.empty()) throw input_error(where + ": more than two columns");
        if (first) numbered = !b.empty();
        if (numbered == b.empty()) throw input_error(where + ": every line needs the same columns as the first");
        if (!beats.empty() && t <= beats.back()) throw input_error(where + ": beat times must increase");
        if (numbered ? pos == 1 : beats.size() % 4 == 0) downbeats.push_back(t);
        beats.push_back(t);
        first = false;
    }
    if (downbeats.size() < 2) throw input_error(path + ": fewer than two bar starts (a bar is four beats)");
    return downbeats;
}

MultitrackSong read_multitrack_song(const std::string& dir, const MultitrackReadOptions& options) {
    MultitrackSong song;
    song.dir = dir;
    const fs::path d(dir);
    song.name = d.parent_path().filename().string() + "/" + d.filename().string();
    fs::path mixture_file;
    std::map<std::string, fs::path> stem_files;  // by instrument: name order
    for (const auto& f : audio_files(d)) {
        const std::string inst = f.stem().string();
        if (is_mixture_name(inst)) {
            if (!mixture_file.empty())
                throw input_error(f.string() + ": a second mixture (" + mixture_file.filename().string() + " is one)");
            mixture_file = f;
        } else if (auto [it, added] = stem_files.emplace(inst, f); !added) {
            throw input_error(f.string() + ": a second file for instrument '" + inst + "' (" +
                              it->second.filename().string() + ")");
        }
    }
    if (stem_files.empty())
        throw input_error(dir + ": no stems (<instrument>.wav or .flac files beside the optional mixture.wav)");

    ReadOptions ro;
    ro.allow_silent = true;  // an instrument may rest through a whole song
    auto read = [&](const fs::path& f) {
        Audio a = read_audio(f.string(), ro);
        if (options.mono && a.num_channels() > 1) {
            Audio m(1, 0, a.sample_rate_hz);
            m.channels[0] = a.mono();
            return m;
        }
        return a;
    };
    std::vector<fs::path> files;  // stems, then the mixture: lengths are checked over all of them
    for (const auto& [inst, f] : stem_files) {
        song.instruments.push_back(inst);
        song.stems.push_back(read(f));
        files.push_back(f);
    }
    const bool have_mixture = !mixture_file.empty();
    if (have_mixture) {
        ro.allow_silent = false;
        song.mixture = read(mixture_file);
        files.push_back(mixture_file);
    }
    auto audio_of = [&](std::size_t i) -> Audio& { return i < song.stems.size() ? song.stems[i] : song.mixture; };

    // Lengths: the longest file sets the song's; shorter ones within the tolerance are padded.
    std::size_t longest = 0, channels = 1;
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (audio_of(i).frames() > audio_of(longest).frames()) longest = i;
        channels = std::max<std::size_t>(channels, std::size_t(audio_of(i).num_channels()));
    }
    const std::size_t frames = audio_of(longest).frames();
    const auto tolerance = std::size_t(std::lround(kStemLengthToleranceSec * kEngineRateHz));
    for (std::size_t i = 0; i < files.size(); ++i) {
        Audio& a = audio_of(i);
        if (a.frames() + tolerance < frames)
            throw input_error(files[i].string() + ": " + seconds(a.frames()) + " long, but " +
                              files[longest].filename().string() + " is " + seconds(frames) +
                              " (a song's files must be equally long, within 0.1 s)");
        for (auto& ch : a.channels) ch.resize(frames, 0.0f);
        while (std::size_t(a.num_channels()) < channels) a.channels.push_back(a.channels[0]);  // mono in a stereo song
    }

    Audio sum(int(channels), frames, kEngineRateHz);
    for (const auto& s : song.stems)
        for (std::size_t c = 0; c < channels; ++c)
            for (std::size_t i = 0; i < frames; ++i) sum.channels[c][i] += s.channels[c][i];
    if (!have_mixture) {
        song.mixture = std::move(sum);
    } else {
        // The rest of the mixture (what no stem holds) belongs to "other": then the stems add up to the
        // mixture, as the trainer and the benchmarks assume. Not made for a rest 40 dB under the mixture
        // (quantisation of the files, dither).
        Audio rest(int(channels), frames, kEngineRateHz);
        for (std::size_t c = 0; c < channels; ++c)
            for (std::size_t i = 0; i < frames; ++i) rest.channels[c][i] = song.mixture.channels[c][i] - sum.channels[c][i];
        const auto other = std::find(song.instruments.begin(), song.instruments.end(), "other");
        if (other != song.instruments.end()) {
            Audio& o = song.stems[std::size_t(other - song.instruments.begin())];
            for (std::size_t c = 0; c < channels; ++c)
                for (std::size_t i = 0; i < frames; ++i) o.channels[c][i] += rest.channels[c][i];
        } else if (rest.rms() > 0.01 * song.mixture.rms()) {
            const auto at = std::lower_bound(song.instruments.begin(), song.instruments.end(), std::string("other"));
            const auto k = at - song.instruments.begin();
            song.instruments.insert(at, "other");
            song.stems.insert(song.stems.begin() + k, std::move(rest));
        }
    }
    const fs::path beats = d / "beats.txt";
    if (fs::exists(beats)) song.downbeats_sec = read_beat_annotation(beats.string());
    return song;
}

}  // namespace loopsep
