// See song_list.h.
#include "song_list.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>

#include "loopsep/error.h"
#include "loopsep/files.h"

namespace loopsep::cli {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Absolute and lexically normal, without a trailing separator: the one spelling of a path that
// de-duplication and naming compare (no file-system access, so a list of a million songs costs
// no stat per song here; a symlink is its own path).
fs::path absolute_normal(const fs::path& p) {
    std::error_code ec;
    fs::path a = fs::absolute(p, ec);
    if (ec) throw input_error(p.string() + ": cannot make the path absolute (" + ec.message() + ")");
    a = a.lexically_normal();
    if (!a.has_filename() && a != a.root_path()) a = a.parent_path();  // "/a/b/" → "/a/b"
    return a;
}

// `file` relative to `root` when it lies under it; otherwise its absolute path without the root.
fs::path mirrored(const fs::path& file_abs, const fs::path& root_abs) {
    const fs::path rel = file_abs.lexically_relative(root_abs);
    if (!rel.empty() && *rel.begin() != "..") return rel;
    return file_abs.relative_path();
}

std::string output_name_of(fs::path rel) {
    rel.replace_extension();
    return rel.generic_string();
}

struct Candidate {
    std::string path;   // to read
    std::string key;    // absolute normal path: the song's identity
    std::string name;   // output name before disambiguation
};

class Scanner {
public:
    explicit Scanner(const SongListOptions& options) {
        for (const auto& d : options.exclude_dirs) {
            std::error_code ec;
            if (!d.empty() && fs::is_directory(d, ec)) excluded_.push_back(d);
        }
    }

    // Audio files under `dir`, sorted; input error when it holds none.
    std::vector<fs::path> audio_files(const fs::path& dir) const {
        std::vector<fs::path> out;
        std::error_code ec;
        fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
        if (ec) throw input_error(dir.string() + ": cannot read folder (" + ec.message() + ")");
        for (; it != end; it.increment(ec)) {
            if (ec) throw input_error(dir.string() + ": cannot read folder (" + ec.message() + ")");
            const fs::path& p = it->path();
            std::error_code kind_ec;
            const bool is_dir = it->is_directory(kind_ec);
            // Hidden entries (".git", macOS "._01.wav" resource forks) and our own output folder
            // (re-running `separate .` must not take last run's stems for songs) are not songs.
            if (p.filename().string().rfind('.', 0) == 0 || (is_dir && excluded(p))) {
                if (is_dir) it.disable_recursion_pending();
                continue;
            }
            if (!is_dir && has_audio_extension(p.string()) && it->is_regular_file(kind_ec)) out.push_back(p);
        }
        if (out.empty())
            throw input_error(dir.string() + ": no audio files inside (looked for " + extension_list() + ")");
        std::sort(out.begin(), out.end());
        return out;
    }

private:
    bool excluded(const fs::path& dir) const {
        for (const auto& e : excluded_) {
            std::error_code ec;
            if (fs::equivalent(dir, e, ec)) return true;
        }
        return false;
    }
    static std::string extension_list() {
        std::string s;
        for (const auto& e : audio_extensions()) s += (s.empty() ? "" : " ") + e;
        return s;
    }
    std::vector<std::string> excluded_;
};

bool is_directory(const std::string& path) {
    std::error_code ec;
    return fs::is_directory(path, ec);
}

std::string trim(const std::string& s) {
    const auto first = s.find_first_not_of(" \t\r");
    if (first == std::string::npos) return "";
    return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

// One candidate per song of a --list file, named relative to the list's folder.
void add_list(const std::string& list_file, const Scanner& scanner, std::vector<Candidate>& out) {
    try {
        require_regular_file(list_file);
    } catch (const Error& e) {
        throw input_error(std::string(e.what()) + " (--list)");
    }
    std::ifstream in(list_file);
    if (!in) throw input_error(list_file + ": cannot open (--list)");
    const fs::path list_dir = fs::path(list_file).parent_path();
    const fs::path root = absolute_normal(list_dir.empty() ? fs::path(".") : list_dir);
    std::string line;
    while (std::getline(in, line)) {
        const std::string entry = trim(line);
        if (entry.empty() || entry[0] == '#') continue;
        const fs::path path = fs::path(entry).is_absolute() || list_dir.empty() ? fs::path(entry) : list_dir / entry;
        // An entry named like audio is taken for a file without asking the file system: a list
        // of a million songs on a cluster file system costs no stat per song before sharding.
        if (!has_audio_extension(entry) && is_directory(path.string())) {
            for (const auto& f : scanner.audio_files(path)) {
                const fs::path abs = absolute_normal(f);
                out.push_back({f.string(), abs.string(), output_name_of(mirrored(abs, root))});
            }
        } else {
            const fs::path abs = absolute_normal(path);
            out.push_back({path.string(), abs.string(), output_name_of(mirrored(abs, root))});
        }
    }
}

}  // namespace

const std::vector<std::string>& audio_extensions() {
    // libsndfile's readable containers (Debian's build: with FLAC, Ogg Vorbis/Opus and MPEG).
    static const std::vector<std::string> exts = {".wav", ".wave", ".flac", ".aiff", ".aif",  ".aifc", ".ogg",
                                                  ".oga", ".opus", ".mp3",  ".caf",  ".w64",  ".rf64", ".au"};
    return exts;
}

bool has_audio_extension(const std::string& path) {
    const std::string ext = lower(fs::path(path).extension().string());
    const auto& exts = audio_extensions();
    return std::find(exts.begin(), exts.end(), ext) != exts.end();
}

std::vector<Song> resolve_songs(const std::vector<std::string>& paths, const std::vector<std::string>& list_files,
                                const SongListOptions& options) {
    const Scanner scanner(options);
    std::vector<Candidate> all;
    for (const auto& p : paths) {
        if (p.empty()) throw usage_error("an empty song path was given");
        if (is_directory(p)) {
            // The folder's own name comes first: `separate albumA albumB` gives albumA/01 and albumB/01.
            const fs::path root = absolute_normal(p).parent_path();
            for (const auto& f : scanner.audio_files(p)) {
                const fs::path abs = absolute_normal(f);
                all.push_back({f.string(), abs.string(), output_name_of(mirrored(abs, root))});
            }
        } else {  // a file argument (or a missing one: reading it says so, as for a single song)
            all.push_back({p, absolute_normal(p).string(), fs::path(p).stem().string()});
        }
    }
    for (const auto& l : list_files) add_list(l, scanner, all);
    if (all.empty()) throw usage_error("no songs given (PATH... or --list FILE)");

    // One entry per song, in first-seen order; a song reached twice keeps the smaller name, so the
    // name does not depend on which spelling came first.
    std::vector<Candidate> unique;
    std::map<std::string, std::size_t> index_of;
    for (auto& c : all) {
        auto [it, fresh] = index_of.emplace(c.key, unique.size());
        if (fresh) unique.push_back(std::move(c));
        else if (c.name < unique[it->second].name) unique[it->second].name = c.name;
    }

    // Shared names: by absolute path, the first keeps the name, the others take free suffixes.
    std::vector<std::size_t> by_name(unique.size());
    for (std::size_t i = 0; i < by_name.size(); ++i) by_name[i] = i;
    std::sort(by_name.begin(), by_name.end(), [&](std::size_t a, std::size_t b) {
        return std::tie(unique[a].name, unique[a].key) < std::tie(unique[b].name, unique[b].key);
    });
    std::set<std::string> taken;
    for (const auto& c : unique) taken.insert(c.name);
    std::vector<std::string> final_name(unique.size());
    for (std::size_t k = 0; k < by_name.size(); ++k) {
        const Candidate& c = unique[by_name[k]];
        if (k == 0 || unique[by_name[k - 1]].name != c.name) {
            final_name[by_name[k]] = c.name;
            continue;
        }
        std::string name;
        for (int n = 2; taken.count(name = c.name + "-" + std::to_string(n)); ++n) {
        }
        taken.insert(name);
        final_name[by_name[k]] = name;
    }
    std::vector<Song> songs;
    for (std::size_t i = 0; i < unique.size(); ++i) songs.push_back({unique[i].path, final_name[i]});
    return songs;
}

Environment scheduler_environment() {
    Environment env;
    for (const char* name : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                             "SLURM_ARRAY_TASK_STEP", "JOB_COMPLETION_INDEX"})
        if (const char* v = std::getenv(name)) env[name] = v;
    return env;
}

namespace {

long env_int(const Environment& env, const char* name, long min) {
    auto it = env.find(name);
    if (it == env.end()) throw usage_error(std::string(name) + " is not set (needed with SLURM_ARRAY_TASK_ID)");
    return parse_int(it->second, name, min, LONG_MAX);
}

// The array task's 0-based position: (ID − MIN) / STEP.
long slurm_index(const Environment& env) {
    const long id = env_int(env, "SLURM_ARRAY_TASK_ID", 0), min = env_int(env, "SLURM_ARRAY_TASK_MIN", 0);
    const long step = env.count("SLURM_ARRAY_TASK_STEP") ? env_int(env, "SLURM_ARRAY_TASK_STEP", 1) : 1;
    if (id < min || (id - min) % step != 0)
        throw usage_error("SLURM_ARRAY_TASK_ID=" + std::to_string(id) + " is not MIN + k*STEP of its array (give --shard I/N)");
    return (id - min) / step;
}

}  // namespace

Shard resolve_shard(const std::optional<std::string>& shard_flag, const std::optional<std::string>& shards_flag,
                    const Environment& env) {
    if (shard_flag && shards_flag) throw usage_error("use --shard I/N or --shards N, not both");
    if (shard_flag) {
        const auto slash = shard_flag->find('/');
        if (slash == std::string::npos)
            throw usage_error("--shard must be I/N, 0 <= I < N (got '" + *shard_flag + "')");
        const long count = parse_int(shard_flag->substr(slash + 1), "--shard's N", 1, LONG_MAX);
        const long index = parse_int(shard_flag->substr(0, slash), "--shard's I", 0, LONG_MAX);
        if (index >= count)
            throw usage_error("--shard " + *shard_flag + ": I must be below N (shards are numbered 0..N-1)");
        return {index, count, "--shard"};
    }
    const bool slurm = env.count("SLURM_ARRAY_TASK_ID") > 0, k8s = env.count("JOB_COMPLETION_INDEX") > 0;
    if (shards_flag) {
        const long count = parse_int(*shards_flag, "--shards", 1, LONG_MAX);
        if (slurm && k8s)
            throw usage_error("--shards: both JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID are set (give --shard I/N)");
        if (!slurm && !k8s)
            throw usage_error("--shards needs JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID in "
                              "the environment (elsewhere give --shard I/N)");
        const char* var = k8s ? "JOB_COMPLETION_INDEX" : "SLURM_ARRAY_TASK_ID";
        const long index = k8s ? parse_int(env.at("JOB_COMPLETION_INDEX"), var, 0, LONG_MAX) : slurm_index(env);
        if (index >= count)
            throw usage_error(std::string(var) + " gives shard " + std::to_string(index) + ", not below --shards " +
                              std::to_string(count));
        return {index, count, var};
    }
    if (k8s)
        throw usage_error("JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but --shards is not: give --shards N "
                          "(the Job's completions), or --shard 0/1 for every song");
    if (slurm) {
        const long count = env_int(env, "SLURM_ARRAY_TASK_COUNT", 1);
        const long index = slurm_index(env);
        if (index >= count)
            throw usage_error("SLURM_ARRAY_TASK_ID gives shard " + std::to_string(index) + ", not below SLURM_ARRAY_TASK_COUNT=" +
                              std::to_string(count) + " (use a range such as --array=0-9, or give --shard I/N)");
        return {index, count, "SLURM_ARRAY_TASK_ID"};
    }
    return {};
}

std::uint64_t shard_hash(const std::string& output_name) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a 64
    for (unsigned char c : output_name) {
        h ^= c;
        h *= 1099511628211ull;
    }
    // splitmix64's finalizer: FNV's low bits alone spread names that differ in the last
    // character ("01", "02", ...) poorly over small N.
    h += 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

bool in_shard(const Song& song, const Shard& shard) {
    return shard.count <= 1 || shard_hash(song.output_name) % std::uint64_t(shard.count) == std::uint64_t(shard.index);
}

std::vector<Song> select_shard(const std::vector<Song>& songs, const Shard& shard) {
    std::vector<Song> out;
    for (const auto& s : songs)
        if (in_shard(s, shard)) out.push_back(s);
    return out;
}

std::vector<OptionSpec> song_list_options() {
    return {{"--list", true, "songs from FILE: one path (file or folder) per line, # comments, relative to FILE's folder",
             "FILE"},
            {"--shard", true, "only shard I of N (0-based; by a hash of each song's output name)", "I/N"},
            {"--shards", true, "N shards, I from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID (default: from "
                               "SLURM_ARRAY_TASK_ID/_MIN/_COUNT when set)",
             "N"}};
}

CommandSpec with_song_list_options(CommandSpec spec) {
    for (auto& o : song_list_options()) spec.options.push_back(std::move(o));
    return spec;
}

SongBatch songs_from_args(const ParsedArgs& args, const SongListOptions& options) {
    auto flag = [&](const char* name) { return args.has(name) ? std::optional<std::string>(args.get(name)) : std::nullopt; };
    // The scheduler's variables shard collections (--list, folders) only: a Slurm array task that
    // was handed its own song files (`loopsep separate "$(sed -n ${SLURM_ARRAY_TASK_ID}p list)"`)
    // must process them, not the slice of them its index would pick.
    bool collection = args.has("--list") || args.has("--shards");
    for (const auto& p : args.positional) collection = collection || is_directory(p);
    SongBatch batch;
    batch.shard = resolve_shard(flag("--shard"), flag("--shards"), collection ? scheduler_environment() : Environment{});
    const auto all = resolve_songs(args.positional, args.all("--list"), options);
    batch.total = all.size();
    batch.songs = select_shard(all, batch.shard);
    return batch;
}

void report_shard(const SongBatch& batch) {
    if (batch.shard.active())
        std::fprintf(stderr, "loopsep: shard %ld/%ld (%s): %zu of %zu songs\n", batch.shard.index, batch.shard.count,
                     batch.shard.source.c_str(), batch.songs.size(), batch.total);
}

}  // namespace loopsep::cli
