// Harvest, the whole job: check the songs, separate each (model loaded only when
// a song needs it), cut/score/select, file the loops, record the song as done.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "loopsep/catalog.h"
#include "loopsep/error.h"
#include "loopsep/harvest.h"
#include "loopsep/key.h"
#include "loopsep/loopfile.h"
#include "loopsep/model.h"

namespace loopsep {

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

std::string lower_trim(const std::string& s) {
    std::size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
    std::string out = a == std::string::npos ? "" : s.substr(a, b - a + 1);
    for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// What the song's folder tells about it: `meta.json` beside it, as `loopsep synth`
// writes ("sections": [[start_sec, name], …], "key"). Anything unreadable or
// shaped otherwise is ignored: the structure is a bonus, not a requirement.
struct SongInfo {
    std::vector<std::pair<double, std::string>> sections;
    std::string key;
    std::string section_at(double t) const {
        std::string name;
        for (const auto& [start, n] : sections)
            if (start <= t + 0.05) name = n;  // a loop starting a hair before its section belongs to it
        return name;
    }
};

SongInfo song_info(const std::string& song_path) {
    SongInfo info;
    const fs::path meta = fs::path(song_path).parent_path() / "meta.json";
    std::error_code ec;
    if (!fs::is_regular_file(meta, ec)) return info;  // none (or a device/FIFO: never read)
    std::ifstream in(meta);
    if (!in) return info;
    try {
        Json j = Json::parse(in);
        if (j.contains("sections") && j["sections"].is_array())
            for (const auto& s : j["sections"])
                if (s.is_array() && s.size() == 2 && s[0].is_number() && s[1].is_string())
                    info.sections.emplace_back(s[0].get<double>(), s[1].get<std::string>());
        std::sort(info.sections.begin(), info.sections.end());
        if (j.contains("key") && j["key"].is_string()) info.key = j["key"].get<std::string>();
    } catch (const std::exception&) {
        return SongInfo{};
    }
    return info;
}

// "<folder>/<file>": synthetic songs are all called mix.wav, their folder names them.
std::string song_label(const std::string& path) {
    const fs::path p(path);
    const std::string parent = p.parent_path().filename().string();
    return parent.empty() ? p.filename().string() : parent + "/" + p.filename().string();
}

Audio slice(const Audio& a, std::size_t start, std::size_t end) {
    Audio out(a.num_channels(), end - start, a.sample_rate_hz);
    for (int c = 0; c < a.num_channels(); ++c)
        std::copy(a.channels[c].begin() + long(start), a.channels[c].begin() + long(end), out.channels[c].begin());
    return out;
}

std::string record_key(const std::string& hash, const std::string& target) {
    return "harvest:" + hash + ":" + lower_trim(target);
}

void check_export_dir(const std::string& dir) {
    if (dir.empty()) return;
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) throw input_error(dir + ": exists and is not a folder");
}

// Percussion has no key a DAW should follow: a loop tagged with its song's key would be transposed with
// it ("follow project key"). Measured on the key bench's stems, drums, bongo and güira name their song's
// key 0–15 % of the time against 95–100 % for guitar (README, "Loops for DAWs").
bool unpitched_instrument(const std::string& name) {
    static const char* const kUnpitched[] = {"drums", "drum", "bongo", "bongos", "guira", "güira", "conga", "congas",
                                             "percussion", "perc", "kick", "snare", "hats", "hihat", "hi-hat",
                                             "cymbal", "cymbals", "shaker", "maracas", "clap", "claps", "timbales",
                                             "cowbell", "tambourine", "break", "breaks"};
    const std::string n = lower_trim(name);
    for (const char* u : kUnpitched)
        if (n == u) return true;
    return false;
}

// The song's key, first that applies: given, meta.json's (when it reads as a key), estimated — the last
// two only for pitched targets (unpitched_instrument).
void song_key(const Audio& song, const SongInfo& info, const HarvestParams& params, SongHarvest& sh) {
    if (params.key.empty() && unpitched_instrument(params.target)) return;
    if (!params.key.empty()) {
        sh.key = key_name(*parse_key(params.key));  // validate() checked it
        sh.key_source = "given";
    } else if (auto k = parse_key(info.key)) {
        sh.key = key_name(*k);
        sh.key_source = "meta";
    } else if (params.detect_key) {
        try {
            sh.key = key_name(estimate_key(song, KeyProfile::Temperley, sh.song).key);
            sh.key_source = "detected";
        } catch (const Error&) {
            // No pitch in the mixture at all: the loops simply have no key.
        }
    }
}

// The loops a previous run filed for this song (those still in the catalog).
std::vector<HarvestedLoop> recorded_loops(const Catalog& catalog, const std::string& record) {
    std::vector<HarvestedLoop> out;
    try {
        Json j = Json::parse(record);
        for (const auto& l : j.at("loops")) {
            const std::int64_t id = l.at("id").get<std::int64_t>();
            auto rec = catalog.get(id);
            if (!rec) continue;
            HarvestedLoop h;
            h.catalog_id = id;
            h.was_duplicate = true;
            h.first_bar = l.value("bar", 0);
            h.start_sec = l.value("start_sec", 0.0);
            h.end_sec = l.value("end_sec", 0.0);
            h.bpm = rec->bpm;
            h.section = rec->section;
            h.key = rec->key;
            out.push_back(h);
        }
    } catch (const std::exception&) {
        // A damaged record only loses the listing; the song still counts as done.
    }
    return out;
}

}  // namespace

HarvestReport harvest(const std::vector<std::string>& songs, Catalog& catalog, const HarvestParams& params,
                      const std::function<void(const SongHarvest&)>& on_song) {
    params.validate();
    if (songs.empty()) throw usage_error("harvest: no SONG given");
    check_export_dir(params.export_dir);

    // Everything that can be wrong with the input is found before anything is written.
    ReadOptions check;
    check.target_rate_hz = 0;  // checks only; the real read below resamples
    std::vector<std::string> hashes;
    for (const auto& path : songs) hashes.push_back(audio_content_hash(read_audio(path, check)));
    HarvestQuery query(catalog, params);  // a bad file or id, or a target no catalog has: an error now
    std::optional<LoopFingerprint> query_print;
    if (query.audio()) query_print = fingerprint_loop(*query.audio(), 4);

    HarvestReport report;
    std::optional<Engine> engine;
    std::vector<float> embedding;
    auto ensure_engine = [&]() {
        if (engine) return;
        const std::string model_path = params.model_path.empty() ? default_model_path() : params.model_path;
        engine.emplace(Separator::load(model_path), model_file_tag(model_path));
        embedding = query.embedding(*engine, params);
        report.query_kind = query.kind_name();
        report.query_catalog = query.catalog_path();
        report.query_loop_ids = query.loop_ids();
    };

    const int beats = 4 * params.bars;
    for (std::size_t si = 0; si < songs.size(); ++si) {
        SongHarvest sh;
        sh.song = songs[si];
        sh.hash = hashes[si];
        const std::string key = record_key(sh.hash, params.target);
        const std::string record = catalog.meta_value(key);
        if (!record.empty() && !params.force) {
            sh.skipped = true;
            sh.loops = recorded_loops(catalog, record);
            if (!params.export_dir.empty() && !sh.loops.empty()) {
                std::vector<std::int64_t> ids;
                for (const auto& l : sh.loops) ids.push_back(l.catalog_id);
                // Exported by the earlier run: kept as they are (replaced with --force).
                auto files = export_loops(catalog, ids, params.export_dir,
                                          params.force ? ExistingExport::Replace : ExistingExport::Keep);
                for (std::size_t i = 0; i < files.size(); ++i) sh.loops[i].file = files[i];
            }
            if (on_song) on_song(sh);
            report.songs.push_back(std::move(sh));
            continue;
        }

        const Audio song = read_audio(songs[si]);
        ensure_engine();
        SeparationParams sp;
        sp.genre = params.genre;
        sp.residual = true;
        sp.threads = params.threads;
        SeparationResult sep;
        try {
            sep = engine->separate(song, {TargetQuery{params.target, embedding}}, sp);
        } catch (const Error& e) {  // e.g. no beat: say which song
            throw Error(e.kind(), songs[si] + ": " + e.what());
        }
        const Audio& stem = sep.stems.at(0);
        sh.tempo_bpm = sep.grid.tempo_bpm;

        const std::vector<LoopSpan> one_bar = cut_bars(sep.grid, song.frames(), song.sample_rate_hz, 1);
        if (one_bar.empty()) throw input_error(songs[si] + ": no whole bar found on its beat grid (too short?)");
        const double loop_bpm = params.bpm > 0 ? params.bpm : song_loop_bpm(one_bar, song.sample_rate_hz);
        const std::vector<LoopSpan> spans =
            params.bars == 1 ? one_bar : cut_bars(sep.grid, song.frames(), song.sample_rate_hz, params.bars);
        sh.candidates = int(spans.size());

        std::vector<LoopScore> scores;
        std::vector<LoopFingerprint> prints;
        for (const auto& span : spans) {
            scores.push_back(score_loop(stem, sep.residual, span, beats));
            prints.push_back(fingerprint_loop(slice(stem, span.start_frame, span.end_frame), beats));
            if (query_print) scores.back().match = timbre_similarity(prints.back(), *query_print);
        }
        finish_scores(scores, params);
        std::vector<DropReason> decision = select_loops(scores, prints, params);

        // Best first, so the catalog ids follow quality.
        std::vector<std::size_t> kept;
        for (std::size_t i = 0; i < spans.size(); ++i)
            if (decision[i] == DropReason::Kept) kept.push_back(i);
        std::stable_sort(kept.begin(), kept.end(),
                         [&](std::size_t a, std::size_t b) { return scores[a].quality > scores[b].quality; });

        const SongInfo info = song_info(songs[si]);
        song_key(song, info, params, sh);
        Json rec_loops = Json::array();
        std::vector<std::int64_t> ids;
        for (std::size_t i : kept) {
            const LoopSpan& span = spans[i];
            Audio loop = fit_loop_length(slice(stem, span.start_frame, span.end_frame), loop_bpm, beats);
            if (loop.peak() < 1.0f / 32768.0f) {  // would be digital silence in the catalog's 16-bit FLAC
                decision[i] = DropReason::Silent;
                continue;
            }
            LoopMeta meta;
            meta.instrument = params.target;
            meta.genre = genre_name(params.genre);
            meta.section = info.section_at(span.start_sec);
            meta.key = sh.key;
            meta.bpm = loop_bpm;
            meta.beats = beats;
            meta.source = harvest_source(song_label(songs[si]), span.first_bar + 1, span.start_sec);
            const AddResult added = catalog.add(loop, meta);
            HarvestedLoop h;
            h.catalog_id = added.id;
            h.was_duplicate = added.status == AddStatus::Duplicate;
            h.first_bar = span.first_bar;
            h.start_sec = span.start_sec;
            h.end_sec = double(span.end_frame) / song.sample_rate_hz;
            h.bpm = loop_bpm;
            h.section = lower_trim(meta.section);
            h.key = meta.key;
            h.score = scores[i];
            sh.loops.push_back(h);
            ids.push_back(added.id);
            rec_loops.push_back({{"id", added.id}, {"bar", span.first_bar}, {"start_sec", h.start_sec}, {"end_sec", h.end_sec}});
        }
        for (std::size_t i = 0; i < spans.size(); ++i)
            sh.considered.push_back({spans[i].first_bar, spans[i].start_sec,
                                     double(spans[i].end_frame) / song.sample_rate_hz, scores[i], decision[i]});
        for (int r = int(DropReason::Silent); r <= int(DropReason::Limit); ++r) {
            const int n = int(std::count(decision.begin(), decision.end(), DropReason(r)));
            if (n > 0) sh.dropped.emplace_back(drop_reason_name(DropReason(r)), n);
        }
        if (!params.export_dir.empty() && !ids.empty()) {
            // A loop already exported (a duplicate of an earlier song's) keeps its file unless --force.
            auto files = export_loops(catalog, ids, params.export_dir,
                                      params.force ? ExistingExport::Replace : ExistingExport::Keep);
            for (std::size_t i = 0; i < files.size(); ++i) sh.loops[i].file = files[i];
        }
        // Written last: a crash before this line only means the song is redone next time.
        Json done = {{"song", song_label(songs[si])}, {"target", lower_trim(params.target)}, {"bars", params.bars},
                     {"bpm", loop_bpm}, {"loops", rec_loops}};
        catalog.set_meta_value(key, done.dump());
        if (on_song) on_song(sh);
        report.songs.push_back(std::move(sh));
    }
    return report;
}

}  // namespace loopsep
