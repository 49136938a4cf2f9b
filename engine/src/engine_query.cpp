// Queries: an example loop, or the catalog's loops of an instrument averaged
// into a class prototype.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "loopsep/catalog.h"
#include "loopsep/engine.h"
#include "loopsep/error.h"
#include "loopsep/files.h"
#include "loopsep/model.h"

namespace loopsep {

namespace {
constexpr std::size_t kMaxPrototypeLoops = 16;  // enough for a stable mean, cheap to embed
// Cached catalog embeddings are keyed by the weights AND by how queries are prepared: entries made by an
// older query path (R3 stretching) are recomputed rather than mixed with new ones.
constexpr const char* kQueryPathTag = "/query-r2";
}

std::string model_file_tag(const std::string& path) {
    // A device or FIFO would be hashed forever: regular files only, read up to their size.
    std::uint64_t left = require_regular_file(path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error(path + ": cannot read the model file");
    std::uint64_t h = 1469598103934665603ull;
    char buf[65536];
    while (left > 0 && (in.read(buf, std::streamsize(std::min<std::uint64_t>(sizeof buf, left))) || in.gcount() > 0)) {
        for (std::streamsize i = 0; i < in.gcount(); ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * 1099511628211ull;
        left -= std::uint64_t(in.gcount());
        if (!in) break;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return "fnv64:" + std::string(hex);
}

std::vector<float> Engine::query_from_loop(const Audio& loop_in, double loop_bpm, const std::string& what) const {
    const ModelConfig& cfg = model_->config();
    if (loop_in.peak() < 1e-6f) throw input_error(what + ": query loop is silent");
    Audio loop = loop_in.sample_rate_hz == cfg.sample_rate_hz ? loop_in : resample(loop_in, cfg.sample_rate_hz);
    int beats = 0;
    if (loop_bpm <= 0) {
        loop_bpm = estimate_loop_bpm(loop, &beats);
    } else {
        beats = int(std::lround(loop.duration_sec() * loop_bpm / 60.0));
    }
    if (beats < 1) throw input_error(what + ": query loop is shorter than one beat at " + std::to_string(loop_bpm) + " BPM");
    const std::size_t ref_frames =
        static_cast<std::size_t>(std::llround(loop.frames() * loop_bpm / cfg.reference_bpm));
    // The encoder wants at least one bar: repeat a shorter loop.
    // Rubber Band R2, as the training queries were stretched (models/src/prepare.cpp): the embedding sees
    // the same kind of audio it learnt from, and R2 is several times faster than R3 on a loop.
    StretchParams stretch;
    stretch.engine = StretchEngine::Faster;
    Audio at_ref = ref_frames == loop.frames() ? loop : stretch_to_frames(loop, ref_frames, stretch);
    const std::size_t bar_frames = static_cast<std::size_t>(std::llround(4 * 60.0 / cfg.reference_bpm * cfg.sample_rate_hz));
    if (at_ref.frames() < bar_frames) {
        for (auto& ch : at_ref.channels) {
            std::vector<float> once = ch;
            while (ch.size() < bar_frames) ch.insert(ch.end(), once.begin(), once.end());
            ch.resize(bar_frames);
        }
    }
    return model_->embed_query(at_ref);
}

namespace {
// A row's cached query embedding, when it is one this model can use: present, readable, of the model's
// size and finite. Anything else (none yet, another model's size, bytes damaged behind the catalog's
// back) is computed again and the cache entry replaced.
std::optional<std::vector<float>> cached_embedding(const Catalog& catalog, std::int64_t id, const std::string& key,
                                                   int size) {
    std::optional<std::vector<float>> cached;
    try {
        cached = catalog.embedding(id, key);
    } catch (const Error&) {
        return std::nullopt;
    }
    if (!cached || int(cached->size()) != size) return std::nullopt;
    for (float v : *cached)
        if (!std::isfinite(v)) return std::nullopt;
    return cached;
}

// Catalogs (by path) whose embedding cache this process could not write — read-only, locked past the
// busy timeout, a full disk: said once on stderr and not tried again, so a locked catalog does not
// cost its timeout per loop and per target. The embeddings are computed from the loops each time.
class UnwritableCaches {
public:
    bool contains(const std::string& path) {
        std::lock_guard<std::mutex> lock(mutex_);
        return paths_.count(path) > 0;
    }
    void add(const std::string& path, const std::string& why) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (paths_.insert(path).second)
            std::fprintf(stderr, "loopsep: warning: cannot cache loop embeddings in the catalog (%s); computing them each time\n",
                         why.c_str());
    }

private:
    std::mutex mutex_;
    std::set<std::string> paths_;
};
UnwritableCaches& unwritable_caches() {
    static UnwritableCaches caches;
    return caches;
}
}  // namespace

std::vector<LoopRecord> prototype_loops(Catalog& catalog, const std::string& instrument, Genre genre) {
    LoopFilter filter;
    filter.instrument = instrument;
    std::vector<LoopRecord> loops;
    if (genre != Genre::Neutral) {
        filter.genre = genre_name(genre);
        loops = catalog.list(filter);
        filter.genre.clear();
    }
    if (loops.empty()) loops = catalog.list(filter);
    if (loops.empty()) {
        std::ostringstream msg;
        msg << "no loops of instrument '" << instrument << "' in the catalog; available:";
        auto names = catalog.instruments();
        if (names.empty()) msg << " none";
        for (std::size_t i = 0; i < names.size(); ++i) msg << (i ? ", " : " ") << names[i];
        msg << " (or give --query LOOP)";
        throw input_error(msg.str());
    }
    if (loops.size() > kMaxPrototypeLoops) loops.resize(kMaxPrototypeLoops);
    return loops;
}

std::vector<float> Engine::query_from_catalog(Catalog& catalog, const std::string& instrument, Genre genre) const {
    std::vector<LoopRecord> loops = prototype_loops(catalog, instrument, genre);
    const std::string cache_key = model_tag_.empty() ? "" : model_tag_ + kQueryPathTag;
    std::vector<std::vector<float>> embeddings;
    std::string last_problem;
    for (const LoopRecord& rec : loops) {
        // One bad row (damaged audio or cached embedding, tags that contradict its length) must not sink the
        // prototype: it is left out and named on stderr, the others still make the query.
        const std::string label = "catalog loop " + std::to_string(rec.id);
        try {
            if (!cache_key.empty())
                if (auto cached = cached_embedding(catalog, rec.id, cache_key, model_->embedding_size())) {
                    embeddings.push_back(std::move(*cached));
                    continue;
                }
            // The tags as Catalog::add checks them, before any stretching: a tampered bpm of 1e6 would
            // otherwise ask for a stretch ~10⁴ times the loop's length (gigabytes) instead of a skip.
            check_record_tags(rec, label);
            Audio audio = catalog.load_audio(rec.id);
            check_length_matches_tags(audio.duration_sec(), rec.bpm, rec.beats, label);
            std::vector<float> e = query_from_loop(audio, rec.bpm, label);
            if (!cache_key.empty() && !unwritable_caches().contains(catalog.path())) {
                try {
                    catalog.set_embedding(rec.id, cache_key, e);
                } catch (const Error& write_error) {   // the loop is fine: keep its embedding
                    unwritable_caches().add(catalog.path(), write_error.what());
                }
            }
            embeddings.push_back(std::move(e));
        } catch (const Error& e) {
            last_problem = e.what();
            if (last_problem.rfind(label, 0) != 0) last_problem = label + ": " + last_problem;
            std::fprintf(stderr, "loopsep: skipping %s\n", last_problem.c_str());
        }
    }
    if (embeddings.empty())
        throw input_error("no usable loops of instrument '" + instrument + "' in the catalog (" + last_problem + ")");
    return Separator::prototype(embeddings);
}

}  // namespace loopsep
